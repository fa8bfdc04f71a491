#!/usr/bin/env bash
# The inventory plugin through ansible-inventory against the bundled simulator's fixed fleet
# (40 sessions, seed 2026), compared with the golden list and graph in files/.
#
# The golden files are one release's output (2.19: 2.16 prints the same without the unsafe
# markers). After an intended change, regenerate them with
#   UPDATE_GOLDEN=1 tools/ansible_core.sh 2.19 python -m pytest tests/system/test_inventory.py -q
# and read the diff.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
simulator=$here/../setup_screenconnect_simulator/files/simulator.sh
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
collection=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/msp/screenconnect
work=$(mktemp -d)
trap '"$simulator" stop "$work"; rm -rf "$work"' EXIT

url=$("$simulator" start "$work" "$python" "$collection/tools/simulator/screenconnect_sim" 900 \
    --sessions=40 --seed=2026 --api-secret=s3cret-rest --api-key=k3y-rpc)
echo "simulator at $url"

# Connection only from SCREENCONNECT_* (files/screenconnect.yml names the plugin and nothing else).
export SCREENCONNECT_SERVER_URL=$url SCREENCONNECT_API_SECRET=s3cret-rest
# A source the plugin cannot parse fails the command instead of giving an empty inventory.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true XDG_CACHE_HOME=$work/cache
config=$here/files/screenconnect.yml

curl_free_post() { "$python" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"{}", method="POST"), timeout=10).read()' "$1"; }
curl_free_post "$url/_sim/reset"
ansible-inventory -i "$config" --list >"$work/list.json"
"$python" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "$url/_sim/requests" >"$work/requests.json"
ansible-inventory -i "$config" --graph >"$work/graph.txt"
ansible-inventory -i "$config" --graph >"$work/graph-again.txt"
ansible-inventory -i "$config" --list >"$work/list-again.json"
# What AWX imports: compared with the golden list exactly, markers included.
ansible-inventory -i "$config" --list --export >"$work/export.json"
SCREENCONNECT_API=session_manager SCREENCONNECT_API_KEY=k3y-rpc SCREENCONNECT_API_SECRET='' \
    ansible-inventory -i "$config" --list >"$work/list-session-manager.json"

PYTHONPATH=$collection/tests/system${PYTHONPATH:+:$PYTHONPATH} "$python" "$here/check_inventory.py" "$here/files" "$work"
