#!/usr/bin/env bash
# Run a command with one ansible-core release, in its own venv (.venv-CORE of this checkout).
#
#   tools/ansible_core.sh CORE [COMMAND [ARGS...]]     e.g. tools/ansible_core.sh 2.21 ansible --version
#
# The venv is made on first use (and again when a requirements file changes) and its bin/ comes
# first on PATH, so `python`, `ansible-playbook` and `ansible-test` are that release's.
# ansible-core 2.20+ needs Python 3.12+. When $PYTHON (default python3) is older and no python3.12+
# is on PATH, the venv lives in a Debian trixie root (Python 3.13, built once by
# tools/debian_root.sh) and COMMAND runs chrooted there, in a private mount namespace that sees
# this checkout and /tmp at their own paths and shares the network (127.0.0.1 is the same).
# Nothing stays mounted afterwards. That needs root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${1:-}" = --chrooted ]; then  # second half, inside `unshare -m`: mount, then chroot
    root=$2 cwd=$3 path=$4
    shift 4
    dirs=("$top" /tmp)
    # A git worktree keeps its repository elsewhere: git in the root needs it at the same path.
    common=$(git -C "$top" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    case "$common" in "" | "$top"/*) ;; *) dirs+=("$common") ;; esac
    for dir in "${dirs[@]}"; do
        mkdir -p "$root$dir"
        mount --bind "$dir" "$root$dir"
    done
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    # This machine's pip settings may name a wheel directory the root does not have.
    if [ -n "${PIP_FIND_LINKS:-}" ] && [ ! -d "$root$PIP_FIND_LINKS" ]; then unset PIP_FIND_LINKS; fi
    # shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
    exec chroot "$root" /usr/bin/env PATH="$path" HOME=/root /bin/sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
fi

core=${1:?usage: tools/ansible_core.sh CORE [COMMAND [ARGS...]]   (CORE: 2.16 ... 2.21)}
shift
venv=$top/.venv-$core
python=${PYTHON:-python3}
root=

needs_312() { case $core in 2.1[0-9]) return 1 ;; *) return 0 ;; esac; }
is_312() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }

if needs_312 && ! is_312 "$python"; then
    python=
    for candidate in python3.14 python3.13 python3.12; do
        if command -v "$candidate" >/dev/null && is_312 "$candidate"; then python=$candidate; break; fi
    done
    if [ -z "$python" ]; then
        root=$("$top/tools/debian_root.sh" trixie)
        python=/usr/bin/python3
    fi
fi

in_env() {  # run "$@" with the venv's bin first on PATH, chrooted when the release needs it
    if [ -z "$root" ]; then
        PATH="$venv/bin:$PATH" "$@"
    else
        unshare -m -- "$top/tools/ansible_core.sh" --chrooted "$root" "$PWD" \
            "$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
    fi
}

stamp=$venv/.deps
if [ ! -e "$stamp" ] || [ "$top/requirements.txt" -nt "$stamp" ] || [ "$top/tests/requirements.txt" -nt "$stamp" ]; then
    echo "tools/ansible_core.sh: venv for ansible-core $core in $venv${root:+ (Debian trixie root, Python 3.13)}" >&2
    rm -rf "$venv"
    in_env "$python" -m venv "$venv"
    in_env "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$core.*" \
        -r "$top/requirements.txt" -r "$top/tests/requirements.txt"
    touch "$stamp"
fi

if [ "$#" -gt 0 ]; then
    in_env "$@"
fi
