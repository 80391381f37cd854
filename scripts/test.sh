#!/usr/bin/env bash
# Builds everything and runs every test: cargo test (the Rust core and the
# load generator) and pytest. Creates .venv and installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh

echo "== lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
"$VENV/bin/ruff" check --quiet python tests benches examples
"$VENV/bin/ruff" format --check --quiet python tests benches examples
"$PY" -m mypy.stubtest torsion._torsion

echo "== cargo test"
cargo test --workspace --quiet 2>&1 | tail -n 40
echo "== pytest"
set +e
"$PY" -m pytest -q -p no:randomly "$@" tests
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
