"""Misbehaving peers over real sockets: floods, slow readers, silent and half-open peers,
connection storms, running out of file descriptors. Everyone else keeps chatting."""

import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpchat.edge.server import connection_cap

from net_harness import STUCK_SETTINGS, TIMEOUT, LineClient, quits_without_reading, running_server

ROOT = Path(__file__).resolve().parent.parent


def in_lobby(port: int, nick: str) -> LineClient:
    client = LineClient(port).register(nick)
    client.send("JOIN #lobby")
    client.expect(r" 366 ")
    return client


def test_flooder_is_delayed_not_dropped_then_disconnected_far_over_the_limit():
    with running_server(flood_burst=5, flood_rate=100.0, flood_max_queued=50) as server:
        flooder = in_lobby(server.port, "flooder")
        bob = in_lobby(server.port, "bob")
        flooder.send_raw(b"".join(b"PRIVMSG #lobby :line %d\r\n" % i for i in range(40)))
        for i in range(40):  # over the burst, so held back, yet every line arrives, in order
            bob.expect(rf"PRIVMSG #lobby :line {i}$")

        flooder.send_raw(b"PRIVMSG #lobby :spam\r\n" * 5000)
        assert any(
            "ERROR :Closing Link" in line and "Excess Flood" in line
            for line in flooder.expect_closed()
        )
        bob.expect(r"^:flooder!\S+ QUIT :Excess Flood$")
        carol = in_lobby(server.port, "carol")
        carol.send("PRIVMSG #lobby :still working")
        bob.expect(r"PRIVMSG #lobby :still working$")


def test_client_that_stops_reading_is_dropped_at_its_sendq_while_others_keep_chatting():
    with running_server(sendq_bytes=64 * 1024, flood_rate=0.0, socket_send_buffer=32768) as server:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        stuck.sendall(b"NICK stuck\r\nUSER s 0 * :s\r\nJOIN #lobby\r\n")  # and never reads
        talker = in_lobby(server.port, "talker")
        listener = in_lobby(server.port, "listener")
        talker.expect(r"^:listener!\S+ JOIN")
        line = "x" * 400
        for batch in range(40):  # ~900 KB through #lobby, far more than stuck's sendq
            talker.send_raw(
                "".join(
                    f"PRIVMSG #lobby :{i} {line}\r\n" for i in range(batch * 50, batch * 50 + 50)
                ).encode()
            )
            for i in range(batch * 50, batch * 50 + 50):  # every one arrives, in order
                listener.expect(rf"PRIVMSG #lobby :{i} x+$")
        assert any(re.match(r":stuck!\S+ QUIT :SendQ exceeded$", seen) for seen in listener.seen)
        held = server.call(lambda: max(c.queued_bytes() for c in server.server.connections))
        assert held <= 64 * 1024
        stuck.close()


def test_a_client_that_quits_and_never_reads_its_last_lines_leaves_no_connection_behind():
    """Its goodbye can't be sent, so the close waits; not past the ping timeout, or the
    socket and its address's one slot would be held for as long as the peer likes."""
    with running_server(**STUCK_SETTINGS) as server:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        quits_without_reading(stuck, server)


def test_silent_client_gets_ping_then_ping_timeout_while_an_answering_one_stays():
    with running_server(ping_interval=0.3, ping_timeout=2.0) as server:  # time for lively to answer
        silent = LineClient(server.port).register("silent")
        lively = LineClient(server.port).register("lively")
        silent.expect(r"^PING :?\S+$")
        ping = lively.expect(r"^PING :?(\S+)$").group(1)
        lively.send(f"PONG :{ping}")
        closing = silent.expect_closed()
        assert any("Ping timeout" in line for line in closing), closing
        lively.expect(r"^PING ")  # still connected, pinged again after the next silence
        lively.send("PING :alive")
        lively.expect(r"PONG \S+ :alive$")


def test_connection_that_never_registers_is_closed_after_the_registration_timeout():
    with running_server(registration_timeout=0.5) as server:
        idle = LineClient(server.port)
        idle.send("CAP LS 302")  # an IRC client that never finishes
        lines = idle.expect_closed()
        assert any("Registration timed out" in line for line in lines), lines


def test_connection_storm_over_the_per_address_and_total_limits():
    with running_server(max_connections_per_address=3, max_connections=5) as server:
        kept = [LineClient(server.port).register(f"user{i}") for i in range(3)]
        refused = LineClient(server.port)
        refused.send("NICK eager", "USER eager 0 * :talks before reading")  # still told why
        lines = refused.expect_closed()
        assert any("Too many connections from your address" in line for line in lines)
        kept[0].send("QUIT")
        kept[0].expect_closed()
        LineClient(server.port).register("newcomer")  # a slot freed up
        for client in kept[1:]:
            client.send("PING :ok")
            client.expect(r"PONG \S+ :ok")


def test_half_closed_socket_is_cleaned_up():
    with running_server() as server:
        watcher = in_lobby(server.port, "watcher")
        half = in_lobby(server.port, "half")
        half.sock.shutdown(socket.SHUT_WR)  # it will never send again
        watcher.expect(r"^:half!\S+ QUIT ")
        assert server.call(lambda: len(server.server.connections)) == 1


def start_server_process(*args: str, **popen) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--web-port",
            "0",
            "--no-console",
            "--log-level",
            "error",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        **popen,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline().rsplit(":", 1)[1])


def test_accept_loop_survives_running_out_of_file_descriptors():
    # Limits per address lifted: only the descriptors should run out here.
    proc, port = start_server_process(
        "--event-loop", "asyncio", "--config", str(ROOT / "bench" / "unlimited.toml")
    )
    # Lowered under the running server: it planned for more, so accept() hits EMFILE.
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (64, 64))
    hogs: list[socket.socket] = []
    try:
        for _ in range(100):  # more than the server has descriptors for
            hogs.append(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT))
        before = _cpu_seconds(proc.pid)
        probe = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        probe.settimeout(1.0)
        with contextlib.suppress(TimeoutError):  # not served while descriptors run out
            probe.recv(1)
        assert _cpu_seconds(proc.pid) - before < 0.3, "the accept loop is spinning"
        probe.close()
        for hog in hogs:
            hog.close()
        hogs.clear()
        client = LineClient(port).register("survivor")  # recovered once descriptors freed up
        client.send("PING :back")
        client.expect(r"PONG \S+ :back")
        assert proc.poll() is None
    finally:
        for hog in hogs:
            hog.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)


def test_connections_beyond_the_file_descriptor_limit_are_told_the_server_is_full():
    def small_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    proc, port = start_server_process(
        "--config", str(ROOT / "bench" / "unlimited.toml"), preexec_fn=small_fd_limit
    )
    try:
        held = [LineClient(port).register(f"u{i}") for i in range(connection_cap(10**6, 100))]
        refused = LineClient(port)
        assert any("Server is full" in line for line in refused.expect_closed())
        held[0].send("PING :ok")
        held[0].expect(r"PONG \S+ :ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def shared_server():
    """One server for every hypothesis example, with a user who must stay undisturbed."""
    with running_server(max_connections_per_address=0) as server:
        yield server, LineClient(server.port).register("watcher")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=1, max_size=2000), min_size=1, max_size=5))
def test_random_bytes_through_a_real_socket_never_hurt_anyone(shared_server, chunks):
    server, watcher = shared_server
    vandal = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    for chunk in chunks:
        vandal.sendall(chunk)
    vandal.close()
    watcher.send("PING :after")
    watcher.expect(r"PONG \S+ :after$")
    assert server.call(lambda: server.server.core.find_user("watcher")) is not None
