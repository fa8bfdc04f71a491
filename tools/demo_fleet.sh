#!/usr/bin/env bash
# `make demo-fleet` (root only): the MSP loop on two throwaway Debian hosts, bookworm and trixie
# (tools/test_hosts.sh: separate network namespaces, sshd, a generated key), against the simulator:
# deploy the agent with msp.screenconnect.deploy_agent over SSH, show the inventory graph, run a
# command on both hosts through the API, run a module on both over the connection plugin, remove the
# agent, and tear everything down. Nothing is
# installed on this machine; the hosts, their namespaces and the simulator are gone afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=(demo-bookworm:bookworm demo-trixie:trixie)
work=$(mktemp -d)
sim_pid=
gateway=
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null; fi
    for host in "${hosts[@]}"; do tools/test_hosts.sh down "${host%%:*}" || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== two Debian hosts, each in its own network namespace with its own sshd"
{
    echo "[fleet]"
    for host in "${hosts[@]}"; do
        info=$(tools/test_hosts.sh up "${host%%:*}" "${host#*:}")
        echo "$info" >&2
        # The simulator listens on the first host's gateway address, which every host can reach.
        [ -n "${gateway:-}" ] || gateway=$(python -c 'import json, sys; print(json.loads(sys.argv[1])["gateway"])' "$info")
        python -c 'import json, sys; h = json.loads(sys.argv[1]); print(h["name"], "ansible_host=%s ansible_user=%s ansible_ssh_private_key_file=%s" % (h["address"], h["user"], h["key"]))' "$info"
    done
    echo "[fleet:vars]"
    echo "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"
    echo "ansible_python_interpreter=auto_silent"
    echo "[fleet]"
    echo "demo-bookworm screenconnect_agent_company='Demo Fleet' screenconnect_agent_site=HQ screenconnect_agent_tag=web,prod"
    echo "demo-trixie screenconnect_agent_company='Demo Fleet' screenconnect_agent_site='Branch 1' screenconnect_agent_tag=db"
} >"$work/hosts.ini"

python tools/simulator/screenconnect_sim --host "$gateway" --sessions 40 --seed 2026 --port 0 \
    --port-file "$work/url" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { cat "$work/simulator.log"; echo "simulator did not start" >&2; exit 1; }
SCREENCONNECT_SERVER_URL=$(cat "$work/url")
export SCREENCONNECT_SERVER_URL SCREENCONNECT_API_SECRET=s3cret-rest
export XDG_CACHE_HOME="$work/cache" ANSIBLE_HOME="$work/ansible" ANSIBLE_NOCOLOR=1
echo "== ScreenConnect simulator at $SCREENCONNECT_SERVER_URL (40 sessions), reachable from both hosts"

echo
echo "== ansible-playbook msp.screenconnect.deploy_agent over SSH: each host's agent connects and comes online"
ansible-playbook msp.screenconnect.deploy_agent -i "$work/hosts.ini" \
    -e screenconnect_agent_server_url="$SCREENCONNECT_SERVER_URL" -e screenconnect_agent_verify_session=true \
    -e screenconnect_agent_verify_delay=1

echo
echo "== the inventory plugin: the two hosts, online, under their Company, Site and Tag groups"
ansible-inventory -i tools/demo/screenconnect.yml --graph company_demo_fleet
groups_of_demo_hosts() {
    ansible-inventory -i tools/demo/screenconnect.yml --list 2>/dev/null | python -c '
import json, sys
fleet = json.load(sys.stdin)
for name in sorted(fleet):
    hosts = [host for host in fleet[name].get("hosts", []) if host.startswith("demo-")]
    if hosts:
        print("  @%s: %s" % (name, " ".join(sorted(hosts))))'
}
groups_of_demo_hosts

echo
echo "== a backstage command through the API, run on each host by its agent"
ansible-playbook -i "$work/hosts.ini" tools/demo/fleet_command.yml

echo
echo "== the connection plugin: a module run on each host through its agent (ansible_connection set by a compose line)"
cat >"$work/fleet.screenconnect.yml" <<'INVENTORY'
plugin: msp.screenconnect.screenconnect
filter: "CustomProperty1 = 'Demo Fleet'"
compose:
  ansible_connection: "'msp.screenconnect.screenconnect'"
INVENTORY
ansible-playbook -i "$work/fleet.screenconnect.yml" tools/demo/fleet_connection.yml

echo
echo "== state: absent removes the package; the agent stops and its session goes offline"
ansible-playbook msp.screenconnect.deploy_agent -i "$work/hosts.ini" \
    -e screenconnect_agent_server_url="$SCREENCONNECT_SERVER_URL" -e screenconnect_agent_state=absent
groups_of_demo_hosts
