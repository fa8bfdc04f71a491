#!/usr/bin/env bash
# Throwaway Debian hosts for the molecule scenarios and `make demo-fleet`: each one a separate
# machine as far as Ansible and the agent can tell, started from the cached debootstrap root of its
# suite (tools/debian_root.sh) on this machine. Needs root.
#
#   tools/test_hosts.sh check             exit 1 with one line when hosts cannot be started here
#   tools/test_hosts.sh up NAME SUITE     start host NAME (bookworm, trixie); prints one JSON line:
#                                         {"name", "address", "gateway", "port", "user", "key", "suite"}
#   tools/test_hosts.sh down NAME         stop host NAME; nothing of it stays
#   tools/test_hosts.sh teardown [--all]  stop every host of this checkout (after a crash); --all: of
#                                         every checkout on the machine
#   tools/test_hosts.sh list              this checkout's running hosts: NAME ADDRESS
#
# A host is:
#  - a network namespace schost-<checkout>-NAME (<checkout>: a hash of this checkout's path, so two
#    checkouts can run hosts of the same names at once) whose only links are lo and eth0, one end of a veth pair;
#    eth0 is 10.213.N.2/30, the other end stays here as 10.213.N.1/30 (scN-c). A route sends
#    10.213.0.0/16 back here, so a host reaches the other hosts' gateway addresses (where the
#    simulator listens) and nothing else: there is no default route;
#  - its own mount, UTS (host name) and PID namespaces, in which the suite's root is mounted as an
#    overlay (the cached root is the read-only lower layer; the host writes to build/hosts/NAME/):
#    every host starts from the same clean root, and the cache is never written to;
#  - sshd on 10.213.N.2:22 with host keys of its own, letting in root with the key
#    build/hosts/id_ed25519 (generated once), started by the host's PID 1, a small init that reaps
#    orphans: stopping sshd (kill $(cat /run/sshd.pid)) leaves the host running without SSH.
# The mounts exist only in the host's mount namespace, so they vanish with its last process: down
# kills every process of the network namespace, deletes it (and with it the veth pair) and removes
# build/hosts/NAME/. The last host to go also unmounts /run/netns when the first one mounted it.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hosts=$top/build/hosts
prefix=schost-$(printf '%s' "$top" | sha256sum | cut -c1-8)-
me="tools/test_hosts.sh"

die() { echo "$me: $*" >&2; exit 1; }

check() {
    [ "$(id -u)" = 0 ] || die "test hosts need root (network namespaces, mounts, debootstrap); run as root"
    for tool in ip unshare nsenter flock ssh ssh-keygen; do
        command -v "$tool" >/dev/null || die "test hosts need $tool, which is not installed"
    done
    if ! command -v debootstrap >/dev/null && ! command -v apt-get >/dev/null; then
        die "test hosts need debootstrap (or apt-get to install it) to build their Debian roots"
    fi
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
        die "test hosts need the overlay file system, which this kernel lacks"
}

# ---- inside the host's namespaces (started by `up` through ip netns exec + unshare) ---------------
# The host's PID 1: runs its arguments (sshd) as a child, then reaps every process that ends, until
# the host is stopped from outside (down kills every process of the namespace).
init='
import os, sys, time
if os.fork() == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
'
if [ "${1:-}" = --boot ]; then
    name=$2 lower=$3 dir=$4 address=$5
    root=$dir/root
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$root"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=0755 tmpfs "$root/run"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    hostname "$name"
    echo "$name" >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n%s\t%s\n' "$address" "$name" >"$root/etc/hosts"
    # Host keys of its own (the cached root's would be shared by every host of the suite).
    rm -f "$root"/etc/ssh/ssh_host_*
    chroot "$root" ssh-keygen -A >/dev/null
    install -d -m 0700 "$root/root/.ssh"
    install -m 0600 "$hosts/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
    mkdir -p "$root/run/sshd" "$root/run/lock"
    # PID 1 is a small init of the host's own python3: it starts sshd and reaps the orphans (daemons
    # started over SSH, like the agent). sshd is not PID 1, so a scenario can stop it (kill the pid
    # in /run/sshd.pid) and the host, its agent and whatever else runs there stay up without it.
    exec chroot "$root" /usr/bin/python3 -c "$init" /usr/sbin/sshd -D -e -o "ListenAddress=$address" \
        -o PermitRootLogin=prohibit-password -o UsePAM=no -o UseDNS=no
fi

netns_of() { echo "$prefix$1"; }

# The first `ip netns add` on a machine bind-mounts /run/netns onto itself; when this tool caused
# that mount, the last host to go takes it away again.
netns_mount_marker=/run/lock/msp-screenconnect-test-hosts.netns-mount
forget_netns_mount() {
    if [ -e "$netns_mount_marker" ] && [ -z "$(ip netns list)" ]; then
        umount /run/netns 2>/dev/null || true
        rm -f "$netns_mount_marker"
    fi
}

stop_namespace() {  # NS: every process in it, then the namespace (its veth pair goes with it)
    local ns=$1 pids tries=0
    ip netns list | grep -qx "$ns\( (id: [0-9]*)\)\?" || return 0
    pids=$(ip netns pids "$ns" || true)
    # shellcheck disable=SC2086  # one pid per word
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || die "processes of $ns did not end: $(ip netns pids "$ns" | tr '\n' ' ')"
        sleep 0.1
    done
    ip netns delete "$ns"
}

delete_if_stray() {  # LINK: a veth pair whose host end never left this namespace (a run killed early)
    if ip -o link show dev "$1" 2>/dev/null | grep -q "^[0-9]*: $1@sc[0-9]*-h:"; then
        ip link delete "$1"
    fi
}

stop_host() {  # NAME: this checkout's host, its namespace, processes, veth pair and files
    local name=$1
    stop_namespace "$(netns_of "$name")"
    if [ -f "$hosts/$name/link" ]; then delete_if_stray "$(cat "$hosts/$name/link")"; fi
    rm -rf "${hosts:?}/$name"
}

command=${1:-}
case "$command" in
    check)
        check
        ;;

    up)
        name=${2:?usage: $me up NAME SUITE}
        suite=${3:?usage: $me up NAME SUITE}
        [[ "$name" =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "host name $name: lower-case letters, digits and -, at most 31"
        check
        lower=$("$top/tools/debian_root.sh" "$suite")
        ns=$(netns_of "$name")
        mkdir -p "$hosts"
        [ -f "$hosts/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C msp-screenconnect-test-hosts \
            -f "$hosts/id_ed25519"
        # Addresses are picked under a machine-wide lock: two checkouts may start hosts at once.
        exec {lock}>/run/lock/msp-screenconnect-test-hosts.lock
        flock "$lock"
        ! ip netns list | grep -q "^$ns\b" || die "host $name is already up (tools/test_hosts.sh down $name)"
        n=
        for candidate in $(seq 1 250); do
            if ! ip -o -4 addr show | grep -q " 10\.213\.$candidate\.1/"; then n=$candidate; break; fi
        done
        [ -n "$n" ] || die "no free address in 10.213.0.0/16"
        mountpoint -q /run/netns 2>/dev/null || touch "$netns_mount_marker"
        address=10.213.$n.2 gateway=10.213.$n.1 link=sc$n-c
        dir=$hosts/$name
        rm -rf "$dir"
        mkdir -p "$dir/upper" "$dir/work" "$dir/root"
        echo "$link" >"$dir/link"
        ip netns add "$ns"
        ip link add "$link" type veth peer name "sc$n-h"
        ip link set "sc$n-h" netns "$ns"
        ip addr add "$gateway/30" dev "$link"
        ip link set "$link" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "sc$n-h" name eth0
        ip -n "$ns" addr add "$address/30" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add 10.213.0.0/16 via "$gateway"
        flock -u "$lock"
        setsid ip netns exec "$ns" unshare --mount --uts --pid --fork --propagation private -- \
            "$0" --boot "$name" "$lower" "$dir" "$address" </dev/null >"$dir/boot.log" 2>&1 &
        # Up when sshd answers with its banner.
        for _ in $(seq 1 100); do
            if timeout 1 bash -c "exec 3<>/dev/tcp/$address/22 && head -c 4 <&3" 2>/dev/null | grep -q SSH-; then
                printf '{"name": "%s", "address": "%s", "gateway": "%s", "port": 22, "user": "root", "key": "%s", "suite": "%s"}\n' \
                    "$name" "$address" "$gateway" "$hosts/id_ed25519" "$suite"
                exit 0
            fi
            sleep 0.1
        done
        echo "$me: host $name did not start; its log:" >&2
        cat "$dir/boot.log" >&2
        stop_host "$name"
        forget_netns_mount
        exit 1
        ;;

    down)
        name=${2:?usage: $me down NAME}
        [ "$(id -u)" = 0 ] || die "stopping test hosts needs root"
        stop_host "$name"
        forget_netns_mount
        ;;

    teardown)
        [ "$(id -u)" = 0 ] || die "stopping test hosts needs root"
        for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do
            stop_host "${ns#"$prefix"}"
        done
        if [ "${2:-}" = --all ]; then
            for ns in $(ip netns list | awk '{print $1}' | grep "^schost-" || true); do
                stop_namespace "$ns"
            done
            for link in $(ip -o link show | sed -n 's/^[0-9]*: \(sc[0-9]*-c\)@sc[0-9]*-h:.*/\1/p'); do
                delete_if_stray "$link"
            done
        fi
        forget_netns_mount
        ;;

    list)
        for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix" || true); do
            echo "${ns#"$prefix"} $(ip -n "$ns" -o -4 addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)"
        done
        ;;

    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
