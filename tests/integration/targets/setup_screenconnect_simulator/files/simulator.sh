#!/usr/bin/env bash
# Start and stop the bundled simulator for the integration targets (the role's tasks and runme.sh
# scripts alike).
#
#   simulator.sh start DIR PYTHON SOURCE LIFETIME [simulator options...]   prints the URL once listening
#   simulator.sh stop DIR
#
# DIR keeps its pid, URL and log. It listens on a free port of 127.0.0.1; `timeout LIFETIME` stops a
# simulator that a killed run left behind.
set -euo pipefail

action=${1:?usage: simulator.sh start|stop DIR ...}
dir=${2:?usage: simulator.sh start|stop DIR ...}
case "$action" in
    start)
        python=$3 source=$4 lifetime=$5
        shift 5
        nohup timeout "$lifetime" "$python" "$source" --host 127.0.0.1 --port 0 --port-file "$dir/url" "$@" \
            >"$dir/log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$dir/pid"
        for _ in $(seq 300); do
            if [ -s "$dir/url" ]; then cat "$dir/url"; exit 0; fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        echo "simulator.sh: the simulator did not start; its log:" >&2
        cat "$dir/log" >&2
        exit 1
        ;;
    stop)
        pid=$(cat "$dir/pid" 2>/dev/null) || exit 0
        kill "$pid" 2>/dev/null || exit 0
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || exit 0
            sleep 0.1
        done
        kill -9 "$pid"
        ;;
    *)
        echo "simulator.sh: unknown action $action (start or stop)" >&2
        exit 2
        ;;
esac
