#!/usr/bin/env bash
# `make demo`: start the ScreenConnect simulator with a sample fleet, run the main job against it
# through the installed collection (ANSIBLE_COLLECTIONS_PATH from the Makefile), stop the
# simulator. Nothing is installed on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

python tools/simulator/screenconnect_sim --sessions 40 --seed 2026 --rate-limit 120 --rate-burst 30 \
    --port 0 --port-file "$work/url" >"$work/simulator.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { cat "$work/simulator.log"; echo "simulator did not start" >&2; exit 1; }

SCREENCONNECT_SERVER_URL=$(cat "$work/url")
export SCREENCONNECT_SERVER_URL
export SCREENCONNECT_API_SECRET=s3cret-rest
export SCREENCONNECT_RATE_LIMIT=120
export XDG_CACHE_HOME="$work/cache"   # the shared rate-limit state stays in the demo's temp dir
export ANSIBLE_HOME="$work/ansible" ANSIBLE_LOCAL_TEMP="$work/ansible/tmp" ANSIBLE_NOCOLOR=1
echo "== ScreenConnect simulator at $SCREENCONNECT_SERVER_URL (40 sessions, 120 requests/min)"

echo
echo "== ansible-inventory --graph: every Access session a host, grouped by Company, Site, Tag, state and OS"
ansible-inventory -i tools/demo/screenconnect.yml --graph

echo
echo "== ansible-playbook tools/demo/demo.yml: change a Tag with diff, run a command and print its output"
ansible-playbook -i tools/demo/screenconnect.yml tools/demo/demo.yml

echo
echo "== ansible-playbook msp.screenconnect.deploy_agent --check: what the agent role would do here"
# The fleet's hosts are sessions, not machines Ansible reaches: the role runs against this machine,
# in check mode, so nothing is downloaded or installed.
ansible-playbook msp.screenconnect.deploy_agent --check -i localhost, -c local \
    -e ansible_python_interpreter="$(command -v python)" -e screenconnect_deploy_become=false \
    -e screenconnect_agent_server_url="$SCREENCONNECT_SERVER_URL" -e screenconnect_agent_company=Acme \
    -e screenconnect_agent_fact_path="$work/facts.d"
