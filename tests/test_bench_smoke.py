"""A smoke run of the benchmark with tiny numbers: every scenario runs and loses nothing.

The figures themselves are for bench/bench.py to print, not for a test to judge. (The login
scenarios, which need SASL, have a test of their own: test_bench_logins.py.)
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["fanout", "flood", "pairs", "latency", "idle", "connect"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    """bench/bench.py ARGS --quick, and what it printed; it must have succeeded."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), *args, "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| fanout | throughput |" in result.stdout
    return result


def test_every_benchmark_scenario_runs_and_delivers_everything_exactly_once():
    result = bench(*SCENARIOS, "--servers", "tcpchat")
    runs = re.findall(r"^(\w+)\s+tcpchat\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {name for name, _ in runs} == set(SCENARIOS)
    assert all(loss == "0" for _, loss in runs), result.stdout


def test_fanout_to_websocket_clients_runs_beside_tcp_and_delivers_everything_exactly_once():
    result = bench("fanout", "pairs", "--servers", "tcpchat,tcpchat:clients=websocket")
    runs = re.findall(r"^(\w+)\s+(\S+)\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {(name, server) for name, server, _ in runs} == {
        (name, server)
        for name in ("fanout", "pairs")
        for server in ("tcpchat", "tcpchat:clients=websocket")
    }
    assert all(loss == "0" for *_, loss in runs), result.stdout
