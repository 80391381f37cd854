#!/usr/bin/env bash
# The main job: starts torsion's echo server and drives it with a client,
# printing what each side did. Creates .venv and builds torsion if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
exec "$PY" examples/echo_demo.py
