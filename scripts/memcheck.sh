#!/usr/bin/env bash
# Memory-safety checks (issue 6, part 10).
#
#   scripts/memcheck.sh [python|valgrind|asan|all] [extra pytest args]
#
# python    the pytest suite with PYTHONMALLOC=debug (debug hooks on every
#           Python allocator: buffer over/underruns, use after free, and
#           allocator API misuse, which the Rust binding could cause, abort
#           the run). Uses the existing .venv and the extension already
#           installed in it; builds nothing. Takes several minutes.
# valgrind  the Rust test binaries (core unit tests and the WriteQueue
#           property tests, PROPTEST_CASES=100 unless set) under valgrind
#           memcheck; any error or definite leak fails.
# asan      the same tests built with AddressSanitizer on the nightly
#           toolchain (skipped, with a note, when nightly is missing).
# all       (the default) valgrind, asan, then python.
#
# Miri is not used: the core's tests make real system calls (sockets,
# epoll, eventfd) that Miri cannot run, and the component is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${TORSION_VENV:-.venv}"
PY="$VENV/bin/python"
what="${1:-all}"
[ $# -gt 0 ] && shift

run_python() {
    echo "== pytest under PYTHONMALLOC=debug"
    if [ ! -x "$PY" ]; then
        echo "no $PY: run scripts/test.sh once to create it" >&2
        return 1
    fi
    PYTHONMALLOC=debug "$PY" -m pytest tests -q -x -p no:randomly "$@"
}

test_binaries() {
    # The test executables cargo builds for the crate (debug profile).
    cargo test --no-run --quiet --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["profile"].get("test"):
        print(msg["executable"])
'
}

run_valgrind() {
    echo "== Rust tests under valgrind"
    if ! command -v valgrind >/dev/null; then
        echo "valgrind not installed" >&2
        return 1
    fi
    local status=0
    local bin
    for bin in $(test_binaries); do
        echo "-- $(basename "$bin")"
        PROPTEST_CASES="${PROPTEST_CASES:-100}" valgrind --quiet \
            --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            "$bin" --test-threads=1 -q || status=1
    done
    return "$status"
}

run_asan() {
    echo "== Rust tests with AddressSanitizer (nightly)"
    if ! cargo +nightly --version >/dev/null 2>&1; then
        echo "no nightly toolchain: skipped"
        return 0
    fi
    local host
    host="$(rustc -vV | sed -n 's/^host: //p')"
    RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
        PROPTEST_CASES="${PROPTEST_CASES:-300}" \
        cargo +nightly test --quiet --target "$host" --target-dir target/asan \
        --lib --test write_queue_prop
}

case "$what" in
    python) run_python "$@" ;;
    valgrind) run_valgrind ;;
    asan) run_asan ;;
    all)
        run_valgrind
        run_asan
        run_python "$@"
        ;;
    *)
        echo "usage: $0 [python|valgrind|asan|all] [pytest args]" >&2
        exit 2
        ;;
esac
