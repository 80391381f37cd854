#!/bin/sh
# Runs loadgen against each comparison echo server and prints one JSON line
# per server (prefixed with its name) on stdout.
#
#   benches/echo_servers/compare.sh [SERVER...]     (default: torsion twisted asyncio uvloop c)
#
# SERVER is one of torsion, asyncio, uvloop, twisted, c. Each server is pinned to core
# SERVER_CPU (default 0) with taskset, the generator to core LOADGEN_CPU
# (default 1). MODE, CONNS, SIZE, DURATION and WARMUP are passed to loadgen
# (defaults pingpong, 50, 1024, 10, 1). PYTHON defaults to the project's
# virtualenv. Everything listens on 127.0.0.1 only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-"$root/.venv/bin/python"}
target=${CARGO_TARGET_DIR:-"$root/target"}
servers=${*:-torsion twisted asyncio uvloop c}

(cd "$root" && cargo build --release -q -p loadgen)
c_echo=$("$here/build.sh")
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

for name in $servers; do
    portfile="$tmp/$name.port"
    case $name in
        asyncio | uvloop) set -- "$python" "$here/asyncio_echo.py" 0 --loop "$name" --port-file "$portfile" ;;
        twisted) set -- "$python" "$here/twisted_echo.py" 0 --port-file "$portfile" ;;
        torsion) set -- "$python" "$root/benches/torsion_echo.py" 0 --port-file "$portfile" ;;
        c) set -- "$c_echo" 0 127.0.0.1 "$portfile" ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
    taskset -c "${SERVER_CPU:-0}" "$@" &
    pid=$!
    tries=0
    while [ ! -s "$portfile" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then echo "$name did not start" >&2; exit 1; fi
        sleep 0.05
    done
    printf '%s ' "$name"
    "$target/release/loadgen" --port "$(cat "$portfile")" --json \
        --mode "${MODE:-pingpong}" --conns "${CONNS:-50}" --size "${SIZE:-1024}" \
        --duration "${DURATION:-10}" --warmup "${WARMUP:-1}" \
        --cpu "${LOADGEN_CPU:-1}" --server-pid "$pid" || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
done
