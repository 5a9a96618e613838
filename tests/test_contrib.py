"""The systemd units in contrib/: systemd itself finds nothing wrong with them, their
sockets carry names the server knows, and the service's command line starts a server that
tells systemd it is ready."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.edge import systemd

from net_harness import ROOT

pytestmark = pytest.mark.timeout(60)
CONTRIB = ROOT / "contrib"
UNITS = sorted(CONTRIB.glob("tcpchat*.s*"))


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(CONTRIB / name)
    return parser


def test_systemd_analyze_finds_nothing_wrong():
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/test.sh installs it (systemd)"
    assert [p.name for p in UNITS] == ["tcpchat-web.socket", "tcpchat.service", "tcpchat.socket"]
    done = subprocess.run([analyze, "verify", *map(str, UNITS)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_sockets_are_named_as_the_server_reads_them():
    expected = (("tcpchat.socket", "6667", "irc"), ("tcpchat-web.socket", "8080", "web"))
    for name, port, kind in expected:
        socket_unit = unit(name)["Socket"]
        assert (socket_unit["ListenStream"], socket_unit["FileDescriptorName"]) == (port, kind)
        assert kind in systemd.KINDS and socket_unit["Service"] == "tcpchat.service"
    service = unit("tcpchat.service")["Service"]
    assert service["Type"] == "notify" and service["StateDirectory"] == "tcpchat"
    assert service["DynamicUser"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes" and int(service["WatchdogSec"]) > 0


def test_the_service_command_starts_a_server_that_says_it_is_ready(tmp_path: Path):
    """ExecStart as systemd runs it: $STATE_DIRECTORY set, a notify socket to tell."""
    command = shlex.split(unit("tcpchat.service")["Service"]["ExecStart"])
    assert command[:4] == ["/usr/bin/python3", "-m", "tcpchat", "server"]
    state = tmp_path / "state"
    state.mkdir()
    args = [arg.replace("${STATE_DIRECTORY}", str(state)) for arg in command[4:]]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
           "STATE_DIRECTORY": str(state), "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    env.pop("TCPCHAT_DATA_DIR", None)  # the unit's --data-dir, not the tests' default
    # This interpreter (with the test extras) for /usr/bin/python3, and free ports.
    proc = subprocess.Popen(
        [sys.executable, *command[1:4], *args, "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = notify.recv(4096).decode()
        assert ready.startswith("READY=1") and re.search(r"Serving on 127\.0\.0\.1:\d+", ready)
        assert (state / "tcpchat.sqlite3").exists()  # its data in the state directory
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        notify.close()
