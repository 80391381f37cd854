#!/usr/bin/env bash
# Instructions per request of torsion's echo server, under callgrind: the
# difference between a short and a long loadgen run, so that start-up
# cancels out. Deterministic enough to compare builds to 1%.
#
#   benches/callgrind_per_request.sh [PYTHONPATH] [MODE] [SIZE] [CONNS]
#
# PYTHONPATH selects another build of the package (as run.py --baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
pp="${1:-}"; mode="${2:-pingpong}"; size="${3:-1k}"; conns="${4:-50}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
measure() {
    local seconds="$1" out="$work/cg.$1"
    PYTHONPATH="$pp" valgrind --tool=callgrind --callgrind-out-file="$out.out" \
        .venv/bin/python benches/torsion_echo.py 0 --port-file "$out.port" 2>/dev/null &
    local pid=$!
    for _ in $(seq 300); do [ -s "$out.port" ] && break; sleep 0.2; done
    target/release/loadgen --port "$(cat "$out.port")" --mode "$mode" --conns "$conns" \
        --size "$size" --duration "$seconds" --warmup 0 --json > "$out.json"
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    local ir
    callgrind_annotate "$out.out" > "$out.txt"
    ir=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$out.txt")
    python3 -c "import json; print($ir, json.load(open('$out.json'))['requests'])" > "$out.result"
}
measure 2
measure 8
read -r ir_short req_short < "$work/cg.2.result"
read -r ir_long req_long < "$work/cg.8.result"
python3 -c "print(f'{($ir_long - $ir_short) / ($req_long - $req_short):.0f} instructions per request')"
