#!/usr/bin/env bash
# Compile the hot path with mypyc (optional: everything runs without it, only slower).
# Usage: scripts/compile.sh [--out DIR]       needs a C compiler and the Python headers
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[compile]'
exec .venv/bin/python scripts/compile.py "$@"
