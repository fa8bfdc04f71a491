#!/usr/bin/env bash
# The inventory table of issue 22 with one command (not part of `make test`):
#
#   benchmarks/inventory_table.sh [OUTPUT.md]        RUNS=5 BIG_RUNS=3 (runs above 20k sessions) SIZES=10000,50000,100000
#
# ansible-core 2.21: plugin against the best floor and json_floor at every size of SIZES, both
# `--list --export` and `--graph`, wall time and peak RSS, with curl's fetch time; the cached run
# (cache: true, jsonfile) at 10k; compose + keyed_groups per host and per expression; the plugin's
# own phases in ms per 10k. ansible-core 2.19: the same --list --export rows at 10k and 50k, and its
# phases. Every figure is the median of alternating runs (benchmarks/bench_inventory.py says how).
# Takes about 25 minutes on 2 cores; the markdown goes to stdout and to OUTPUT.md when given.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
runs=${RUNS:-5}
big_runs=${BIG_RUNS:-3}
sizes=${SIZES:-10000,50000,100000}
out=${1:-/dev/null}
core=tools/ansible_core.sh
bench=benchmarks/bench_inventory.py
fetch=$(mktemp /tmp/sc-bench-fetch-XXXXXX.json)
trap 'rm -f "$fetch"' EXIT

{
    echo "# Inventory benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    # curl's time for the same request, here where curl is (the trixie root of 2.20/2.21 has none).
    $core 2.19 python $bench --fetch-only --sizes "$sizes" --runs "$runs" >"$fetch"
    echo
    echo "curl fetch times (s, median of $runs): $(cat "$fetch")"
    $core 2.21 python $bench --sizes "$sizes" --graph --runs "$runs" --big-runs "$big_runs" --fetch-json "$fetch" \
        --cached 10000 --constructed 10000 --phases 10000
    $core 2.19 python $bench --sizes "$(echo "$sizes" | tr ',' '\n' | awk '$1 <= 50000' | paste -sd,)" --runs "$runs" \
        --big-runs "$big_runs" --fetch-json "$fetch" --phases 10000
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2> >(grep -v -e CryptographyDeprecationWarning -e 'from cryptography' >&2) | tee "$out"
