"""A smoke run of bench/history.py with tiny numbers, so the history benchmark does not rot:
it builds a database the way the server writes one, reports its size and how fast a page of
history is read, and either times CHATHISTORY on a real server or says why it cannot."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_history_benchmark_builds_a_database_and_reads_it_back(tmp_path):
    keep = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "history.py"), "--quick", "--keep", str(keep)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^# built 3,000 rows in ", out, re.MULTILINE), out
    assert re.search(r"database size: [\d,]+ MiB per million messages \(FTS index \d", out), out
    assert re.search(r"page\(#room, 100, newest=True\): [\d,]+ queries/s", out), out
    assert re.search(
        r"CHATHISTORY LATEST #room \* 100: [\d,]+ requests/s|CHATHISTORY LATEST: skipped", out
    ), out
    assert (keep / "tcpchat.sqlite3").stat().st_size > 0
