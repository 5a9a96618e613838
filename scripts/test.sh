#!/usr/bin/env bash
# The whole test suite, set-up included: a virtualenv with the test extras, ruff, mypy, pytest.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Real terminals (tmux), two-host network tests (iproute2) and the web page in a real
# browser (Debian's headless Chromium and its driver) need these system tools; the cluster
# tests start a private redis-server of their own (never the system's service).
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v ip >/dev/null || missing+=(iproute2)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# contrib/'s compose file and its balancer: Compose checks the file, HAProxy runs its config.
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v haproxy >/dev/null || missing+=(haproxy)
# The benchmark's smoke test runs InspIRCd beside tcpchat.
command -v inspircd >/dev/null || missing+=(inspircd)
# Building and running the image needs a Docker engine (dockerd) and, where no image registry
# is reached, debootstrap for a stand-in base: some four minutes on a fresh machine, too much
# for CI's fifteen. So only on request: TCPCHAT_TEST_CONTAINER=1 scripts/test.sh. Without an
# engine the image test says so (a skip with the reason); everything else about the image runs.
if [ "${TCPCHAT_TEST_CONTAINER:-0}" = 1 ]; then
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "scripts/test.sh: please install: ${missing[*]}" >&2
        exit 1
    fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
