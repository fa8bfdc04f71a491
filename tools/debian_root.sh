#!/usr/bin/env bash
# Build, once, a minimal Debian root under build/roots/SUITE and print its path.
# Shared by the ansible-core 2.20/2.21 release matrix (tools/ansible_core.sh) (trixie's Python 3.13, when no Python 3.12+
# is on this machine) and the SSH test hosts of the molecule scenarios (bookworm, trixie), which
# start from it (tools/test_hosts.sh mounts it read-only under each host's own writable layer).
# Needs root (debootstrap); about a minute per suite, then cached. The package list is written to
# .complete: a root built with another list is built again.
set -euo pipefail
suite=${1:?usage: tools/debian_root.sh SUITE (bookworm, trixie)}
top=$(cd "$(dirname "$0")/.." && pwd)
root=$top/build/roots/$suite
# python3-apt and sudo for the SSH test hosts: Ansible's apt module needs python3-apt on the target
# (the hosts have no network to install it), and deploy_agent becomes root with sudo.
packages=python3,python3-venv,ca-certificates,openssh-server,openssl,git,python3-apt,sudo

if [ "$(cat "$root/.complete" 2>/dev/null)" != "$packages" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "tools/debian_root.sh: building the $suite root needs root (debootstrap, chroot)" >&2
        exit 1
    fi
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    mkdir -p "$top/build/roots"
    rm -rf "$root.partial"
    echo "tools/debian_root.sh: debootstrap $suite (once; cached in $root)" >&2
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$root.partial" \
            >"$top/build/roots/$suite.log" 2>&1; then
        echo "tools/debian_root.sh: debootstrap $suite failed; see build/roots/$suite.log" >&2
        exit 1
    fi
    # pip and apt inside the root trust what this machine trusts, and resolve names the same way.
    cp /etc/ssl/certs/ca-certificates.crt "$root.partial/etc/ssl/certs/ca-certificates.crt"
    cp -L /etc/resolv.conf "$root.partial/etc/resolv.conf" 2>/dev/null || true
    rm -rf "$root"
    mv "$root.partial" "$root"
    echo "$packages" >"$root/.complete"
fi
echo "$root"
