#!/usr/bin/env bash
# Syscalls and server CPU per GB on the streaming echo (4 connections,
# 64 KiB chunks): perf's syscall tracepoints on the server for one run.
#
#   benches/syscalls_per_gb.sh [PYTHONPATH] [WINDOW]     (WINDOW e.g. 1m, 4m)
#
# PYTHONPATH selects another build of the package (as run.py --baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
pp="${1:-}"; window="${2:-4m}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$pp" taskset -c 0 .venv/bin/python benches/torsion_echo.py 0 \
    --port-file "$work/port" 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
events=syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom
events+=,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait
perf stat -x, -e "$events" -p "$pid" -o "$work/perf" -- sleep 3.5 &
perf_pid=$!
target/release/loadgen --port "$(cat "$work/port")" --mode stream --conns 4 --size 64k \
    --window "$window" --duration 3 --warmup 0.5 --cpu 1 --server-pid "$pid" --json > "$work/json"
wait "$perf_pid"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
python3 - "$work/perf" "$work/json" <<'PY'
import json, sys
report = json.load(open(sys.argv[2]))
rate = report["bytes_received"] / report["elapsed_s"]
gb_traced = rate * 3.5 / 1e9  # the tracepoints cover warmup and window
counts = {}
for line in open(sys.argv[1]):
    parts = line.strip().split(",")
    if len(parts) > 3 and parts[0].isdigit():
        counts[parts[2].rsplit("sys_enter_", 1)[-1]] = int(parts[0])
cpu = report["server_cpu_s"] / (report["bytes_received"] / 1e9)
print(f"{rate / 1e6:.0f} MB/s, {cpu:.3f} server CPU-s per GB")
for name, n in sorted(counts.items()):
    if n:
        print(f"  {name}: {n / gb_traced:,.0f} per GB")
PY
