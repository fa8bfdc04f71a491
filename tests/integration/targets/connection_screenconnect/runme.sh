#!/usr/bin/env bash
# The connection plugin msp.screenconnect.screenconnect end to end, installing nothing: the bundled
# simulator, its agent (agent.py) run as a plain process of this user in a temp dir (the "guest" is
# this machine), the inventory plugin making the agent's session a host that uses the connection,
# and play.yml running modules, files, a timeout and an offline guest through it.
# The simulator refuses commands longer than MAX_COMMAND (HTTP 413), so module input and files
# go in chunks.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
simulator=$here/../setup_screenconnect_simulator/files/simulator.sh
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
collection=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/msp/screenconnect
MAX_COMMAND=24000
# A short TMPDIR: ansible-core 2.20+ binds a Unix socket there (at most 108 bytes of path).
work=$(mktemp -d /tmp/sc-conn-XXXXXX)
agent_pid=
cleanup() {
    [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true
    "$simulator" stop "$work"
    rm -rf "$work"
}
trap cleanup EXIT
export TMPDIR=$work

url=$("$simulator" start "$work" "$python" "$collection/tools/simulator/screenconnect_sim" 900 \
    --sessions=0 --api-secret=s3cret-conn --max-command-length=$MAX_COMMAND)
echo "simulator at $url"

# The agent, as a plain process: its config and state in $work/agent.
mkdir -p "$work/agent" "$work/guest"
cp "$collection/tools/simulator/screenconnect_sim/agent.py" "$work/agent/"
printf '{"server": "%s", "state_dir": "%s"}\n' "$url" "$work/agent/state" >"$work/agent/agent.json"
timeout 900 "$python" "$work/agent/agent.py" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do
    [ -s "$work/agent/state/session-id" ] && grep -q 'online as session' "$work/agent.log" && break
    sleep 0.1
done
session_id=$(cat "$work/agent/state/session-id")
echo "agent online as session $session_id"

export SCREENCONNECT_SERVER_URL=$url SCREENCONNECT_API_SECRET=s3cret-conn
# The shared rate limit stays on, high enough for a test; its state is this run's own.
export SCREENCONNECT_RATE_LIMIT=3000 XDG_CACHE_HOME=$work/cache
export SCREENCONNECT_CONNECTION_STATS=$work/stats.jsonl
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true ANSIBLE_HOST_KEY_CHECKING=false

head -c 262144 /dev/urandom >"$work/blob.bin"
blob_sha256=$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$work/blob.bin")

ansible-playbook -i "$here/files/screenconnect.yml" "$here/play.yml" \
    -e work="$work" -e guest_dir="$work/guest" -e session_id="$session_id" -e agent_pid="$agent_pid" \
    -e blob_sha256="$blob_sha256" -e max_command="$MAX_COMMAND" -e guest_python="$python" "$@"

# One JSON line per task: every task of the play paid at most a bounded number of requests.
"$python" - "$work/stats.jsonl" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines and all(line['session_id'] for line in lines), lines
print("requests per task: %s" % [line["requests"] for line in lines])
print("seconds per task: %s" % [line["seconds"] for line in lines])
PY
