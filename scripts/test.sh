#!/usr/bin/env bash
# The whole test suite, set-up included: a virtualenv with the test extras, ruff, then pytest.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
