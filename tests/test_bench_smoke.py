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


def test_every_benchmark_scenario_runs_and_delivers_everything_exactly_once():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench.py"),
            *SCENARIOS,
            "--quick",
            "--servers",
            "tcpchat",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = re.findall(r"^(\w+)\s+tcpchat\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {name for name, _ in runs} == set(SCENARIOS)
    assert all(loss == "0" for _, loss in runs), result.stdout
    assert "| fanout | throughput |" in result.stdout
