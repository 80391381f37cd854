# Sourced by the scripts: a virtual environment with the build and test
# dependencies, and torsion built (release) and installed into it.
VENV="${TORSION_VENV:-.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
STAMP="$VENV/.torsion-deps"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ scripts/_env.sh -nt "$STAMP" ]; then
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "maturin>=1.7,<2"
    "$PY" -m pip install --quiet zope.interface pytest pytest-timeout pytest-benchmark \
        hypothesis twisted ruff mypy uvloop
    touch "$STAMP"
fi
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install a Rust toolchain (rustup)" >&2
    exit 1
fi
echo "== building torsion (release)"
"$VENV/bin/maturin" develop --release --quiet 2>&1 | grep -v "^\s*$" | tail -n 3
cargo build --release --quiet -p loadgen
