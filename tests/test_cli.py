"""`python server.py` as a user runs it: flags, config file, port 0, graceful shutdown."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from net_harness import LineClient

ROOT = Path(__file__).resolve().parent.parent


def start(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-console", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:  # blocks until the server prints; the test timeout bounds it
        match = re.match(r"Listening on \S+:(\d+)", line)
        if match:
            port = int(match.group(1))
        if line.startswith("Server is waiting for connections"):
            return proc, port
    raise AssertionError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")


def test_help_explains_every_option():
    out = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"], capture_output=True, text=True
    ).stdout
    for option in ("--host", "--port", "--no-console", "--config", "--log-level"):
        assert option in out


def test_module_and_console_script_entry_points_show_help():
    out = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
    ).stdout
    assert "--port" in out
    out = subprocess.run(
        [sys.executable, "-m", "tcpchat", "client", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
    ).stdout
    assert "--nick" in out and "--join" in out and "--tls" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_port_zero_prints_the_port_and_sigterm_says_goodbye(host):
    proc, port = start("--host", host)
    try:
        client = LineClient(port, host=host).register("alice")
        proc.send_signal(signal.SIGTERM)
        lines = client.expect_closed()
        assert any(line.startswith("ERROR :") and "shutting down" in line for line in lines)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_config_file_sets_names_and_motd_and_flags_override(tmp_path):
    config = tmp_path / "tcpchat.toml"
    config.write_text(
        'server_name = "irc.example"\nnetwork_name = "Example"\nmotd = "Be kind."\n'
        "[server]\nnick_length = 12\n"
    )
    proc, port = start("--host", "127.0.0.1", "--config", str(config), "--network-name", "Flag")
    try:
        client = LineClient(port)
        client.send("NICK alice", "USER alice 0 * :A")
        client.expect(r"^:irc\.example 001 alice :Welcome to the Flag IRC Network")
        client.expect(r" 005 .*NICKLEN=12 ")
        client.expect(r" 372 alice :- Be kind\.$")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_bad_config_file_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("prot = 7\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown setting 'prot'" in result.stderr
    assert "Traceback" not in result.stderr
