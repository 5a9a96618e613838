"""The data directory from the command line: made on first start, one server at a time, and a
database that can't be used said in one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from net_harness import LineClient

ROOT = Path(__file__).resolve().parent.parent


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0", "--no-console", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def port_of(server: subprocess.Popen[str]) -> int:
    assert server.stdout is not None
    line = server.stdout.readline()
    assert "Listening on" in line, (line, server.stderr.read() if server.stderr else "")
    return int(line.rsplit(":", 1)[1])


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.wait(10)


def test_a_default_start_makes_its_data_directory_beside_where_it_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TCPCHAT_DATA_DIR"}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0", "--no-console"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        LineClient(port_of(server)).register("alice")
        database = tmp_path / "tcpchat-data" / "tcpchat.sqlite3"
        assert database.exists()
        with sqlite3.connect(database) as connection:
            assert connection.execute("SELECT max(version) FROM schema_version").fetchone()[0] >= 1
    finally:
        stop(server)


def test_a_second_server_on_the_same_data_directory_says_so_and_exits(tmp_path):
    first = start("--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    try:
        port_of(first)
        second = start("--data-dir", str(tmp_path / "data"), cwd=tmp_path)
        _, err = second.communicate(timeout=20)
        assert second.returncode == 1
        assert "another tcpchat server is using the data directory" in err
        assert "Traceback" not in err
    finally:
        stop(first)


def test_a_database_from_a_newer_tcpchat_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    with sqlite3.connect(folder / "tcpchat.sqlite3") as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER)")
        connection.execute("INSERT INTO schema_version VALUES (999)")
    server = start("--data-dir", str(folder), cwd=tmp_path)
    _, err = server.communicate(timeout=20)
    assert server.returncode == 1
    assert err.strip().splitlines()[-1].startswith("server.py: ")
    assert "newer tcpchat (schema 999" in err and "Traceback" not in err


def test_data_dir_none_keeps_nothing_on_disk(tmp_path):
    server = start("--data-dir", "none", cwd=tmp_path)
    try:
        LineClient(port_of(server)).register("alice")
    finally:
        stop(server)
    assert list(tmp_path.iterdir()) == []
