"""Under systemd: the server tells a notify socket it is ready, that it is alive (the
watchdog) and that it is stopping, and serves on a listening socket passed to it as file
descriptor 3 (socket activation). The notify socket is a real Unix datagram socket the test
makes; the server a real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.edge import systemd

from net_harness import ROOT, LineClient

pytestmark = pytest.mark.timeout(60)


def notify_socket(folder: Path) -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(folder / "notify.sock")
    sock.bind(path)
    sock.settimeout(20)
    return sock, path


def server(env: dict[str, str] | None, *args: str, **popen) -> subprocess.Popen[str]:
    """The server as a process; `env` None: this environment, as the child leaves it."""
    command = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
               "--web-port", "0", "--no-console", *args]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env if env is None else {**os.environ, **env},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)  # fmt: skip


def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path: Path):
    sock, path = notify_socket(tmp_path)
    proc = server({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    try:
        ready = sock.recv(4096).decode()
        assert ready.startswith("READY=1\n") and f"MAINPID={proc.pid}" in ready
        assert re.search(r"STATUS=Serving on 127\.0\.0\.1:\d+", ready)
        port = int(re.search(r":(\d+)", ready)[1])
        LineClient(port).register("alice")  # it does serve, once it says so
        assert [sock.recv(4096) for _ in range(3)] == [b"WATCHDOG=1"] * 3  # every 0.2 s
        proc.send_signal(signal.SIGTERM)
        while (message := sock.recv(4096)) == b"WATCHDOG=1":
            pass
        assert message == b"STOPPING=1"
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        sock.close()


def test_a_listening_socket_passed_as_fd_3_is_served(tmp_path: Path):
    """What systemd does for tcpchat.socket: bind, listen, pass the socket as fd 3 with
    LISTEN_FDS=1 and LISTEN_PID set to the new process, which serves on it."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    fd = listening.fileno()

    def as_systemd_does() -> None:  # in the child, before it runs the server
        os.dup2(fd, systemd.FIRST_FD)
        os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="irc")

    # dup2 makes fd 3 inheritable; close_fds would close it after preexec_fn runs
    proc = server(None, close_fds=False, preexec_fn=as_systemd_does)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip() for _ in range(2)]
        assert lines == [f"Listening on 127.0.0.1:{port}", "Server is waiting for connections..."]
        listening.close()  # only the server holds it now
        alice = LineClient(port).register("alice")
        alice.send("PING :activated")
        alice.expect(r"PONG \S+ :?activated")
    finally:
        proc.kill()
        proc.wait()


def test_without_systemd_nothing_is_sent_and_nothing_is_passed():
    assert systemd.notify("READY=1", environ={}) is False
    assert systemd.watchdog_interval({}) == 0.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}, 2) == 0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "1000000"}, 2) == 0.5
    assert systemd.activated_sockets({"LISTEN_FDS": "1", "LISTEN_PID": "1"}, pid=2) == {}


def test_an_abstract_notify_socket(tmp_path: Path):
    name = f"tcpchat-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert systemd.notify("READY=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"READY=1"
