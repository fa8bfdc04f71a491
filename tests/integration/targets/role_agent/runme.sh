#!/usr/bin/env bash
# The agent role through the collection on this machine, installing nothing: the macOS and Red Hat
# task files in check mode on hosts that pretend to be those OS families (pretend.yml,
# other_platforms.yml; library/ stands in for dnf and yum). The Debian path runs for real on
# separate Debian hosts in the molecule scenario (make molecule).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
simulator=$here/../setup_screenconnect_simulator/files/simulator.sh
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
collection=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/msp/screenconnect
# A short TMPDIR: ansible-core 2.20+ binds a Unix socket there (at most 108 bytes of path).
work=$(mktemp -d /tmp/sc-role-XXXXXX)
trap '"$simulator" stop "$work"; rm -rf "$work"' EXIT
export TMPDIR=$work

url=$("$simulator" start "$work" "$python" "$collection/tools/simulator/screenconnect_sim" 900 --sessions=3)
echo "simulator at $url"
get() { "$python" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
instance_id=$(get "$url/_sim/config" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["instance_id"])')

deploy() {  # deploy NAME [ansible-playbook options...]: check-mode run of pretend.yml, output in $work/NAME.out
    local name=$1
    shift
    # 0 when the playbook ran to the end; check_role.py reads the recap of each host
    ansible-playbook -i "$here/other_platforms.yml" "$here/pretend.yml" --check \
        -e ansible_python_interpreter="$python" -e screenconnect_agent_server_url="$url" \
        -e screenconnect_agent_fact_path="$work/facts.d" -e screenconnect_deploy_become=false "$@" \
        >"$work/$name.out" 2>&1 || { cat "$work/$name.out"; exit 1; }
}
deploy present -e screenconnect_agent_company=Acme
# with the instance id known, macOS looks for its LaunchDaemon, Red Hat asks rpm
deploy known --limit mac-01,rhel-01,centos7-01 -e screenconnect_agent_name=sc-role-test \
    -e screenconnect_agent_instance_id="$instance_id"
deploy absent --limit mac-01,rhel-01,centos7-01 -v -e screenconnect_agent_name=sc-role-test \
    -e screenconnect_agent_state=absent -e screenconnect_agent_instance_id="$instance_id"
get "$url/_sim/stats" >"$work/stats.json"

"$python" "$here/check_role.py" "$work" "$url" "$instance_id"
