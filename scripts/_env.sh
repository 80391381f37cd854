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
# Real peers the tests run against (an IRC daemon, socat, ...).
missing=()
while read -r pkg; do
    [ -z "$pkg" ] || dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < <(grep -v '^#' scripts/debian-packages.txt)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install a Rust toolchain (rustup)" >&2
    exit 1
fi
echo "== building torsion (release)"
"$VENV/bin/maturin" develop --release --quiet 2>&1 | grep -v "^\s*$" | tail -n 3
cargo build --release --quiet -p loadgen
