"""End to end in real terminals: `python server.py` and `python client.py` as the tutorial
shows them, first on one machine, then on two hosts joined by a network."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal_harness import Terminal, require

ROOT = Path(__file__).resolve().parent.parent
PLAIN = {"NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
TIME = r"\d\d:\d\d "  # the client shows when each message was said (our server sends it)


def server_terminal(*args: str, netns: str | None = None) -> Terminal:
    return Terminal([sys.executable, "server.py", *args], cwd=str(ROOT), env=PLAIN, netns=netns)


def listening_server() -> tuple[Terminal, str]:
    """`python server.py` on 127.0.0.1 and a free port, in its terminal, and that port (the
    web port off: two at once would want the same 8080)."""
    server = server_terminal("--host", "127.0.0.1", "--port", "0", "--web-port", "0")
    try:
        return server, server.wait_for(r"Listening on 127\.0\.0\.1:(\d+)").group(1)
    except BaseException:
        server.close()
        raise


def client_terminal(*args: str, netns: str | None = None) -> Terminal:
    return Terminal([sys.executable, "client.py", *args], cwd=str(ROOT), env=PLAIN, netns=netns)


def chat_both_ways(server: Terminal, client: Terminal, nick: str) -> None:
    """The design notes' exchange: the client greets, the server answers."""
    client.wait_for(r"^Connected to the server\. Type 'quit' to end the chat\.$")
    server.wait_for(r"^Client connected from: \('[0-9a-f.:]+', \d+\)$")
    server.wait_for(rf"^\* {nick} joined #lobby$")
    client.type("Hello, Server!")
    client.wait_for(rf"^{TIME}You \({nick}\): Hello, Server!$")
    server.wait_for(rf"^{nick} says: Hello, Server!$")
    server.type(f"Hi, {nick}!")
    server.wait_for(rf"^You \(Server\): Hi, {nick}!$")
    client.wait_for(rf"^{TIME}Server says: Hi, {nick}!$")


def test_tutorial_two_terminals_on_one_machine():
    server, port = listening_server()
    client = None
    try:
        server.wait_for(r"^Server is waiting for connections\.\.\.$")
        client = client_terminal(f"127.0.0.1:{port}", "--nick", "alice")
        chat_both_ways(server, client, "alice")
        server.wait_for(r"^Type 'quit' to end the chat\.$")

        client.type("quit")
        assert client.wait_exit() == 0
        server.wait_for(r"^\* alice quit")

        server.type("over")
        assert server.wait_exit() == 0
    finally:
        server.close()
        if client is not None:
            client.close()


def test_server_ending_the_chat_ends_the_client_with_its_reason():
    server, port = listening_server()
    client = None
    try:
        client = client_terminal(f"127.0.0.1:{port}", "--nick", "bob")
        client.wait_for(r"^Connected to the server")
        server.wait_for(r"^\* bob joined #lobby$")
        server.type("over")
        assert server.wait_exit() == 0
        client.wait_for(r"The server ended the chat")
        assert client.wait_exit() == 0
    finally:
        server.close()
        if client is not None:
            client.close()


# --------------------------------------------------------------- two hosts


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def two_hosts() -> Iterator[tuple[str, str]]:
    """Two network namespaces, a server host and a client host, joined by a veth pair."""
    require("ip")
    assert os.geteuid() == 0, "the two-host test needs root for ip netns (CI runs as root)"
    tag = str(os.getpid())[-6:]
    server_ns, client_ns = f"tcchat-srv-{tag}", f"tcchat-cli-{tag}"
    server_if, client_if = f"tcs{tag}", f"tcc{tag}"
    _ip("netns", "add", server_ns)
    _ip("netns", "add", client_ns)
    try:
        _ip("link", "add", server_if, "type", "veth", "peer", "name", client_if)
        _ip("link", "set", server_if, "netns", server_ns)
        _ip("link", "set", client_if, "netns", client_ns)
        for ns, iface, v4, v6 in (
            (server_ns, server_if, "10.231.0.1/24", "fd42:7c::1/64"),
            (client_ns, client_if, "10.231.0.2/24", "fd42:7c::2/64"),
        ):
            _ip("-n", ns, "addr", "add", v4, "dev", iface)
            _ip("-n", ns, "addr", "add", v6, "dev", iface, "nodad")
            _ip("-n", ns, "link", "set", iface, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield server_ns, client_ns
    finally:
        subprocess.run(["ip", "netns", "del", server_ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", client_ns], capture_output=True)


def test_server_and_client_on_two_hosts_over_ipv4_and_ipv6(two_hosts):
    server_ns, client_ns = two_hosts
    # The README's first command, as is: every interface, IPv4 and IPv6, port 6667 (and the
    # web port, 8080), in a network namespace of its own, so those ports are no one else's.
    server = server_terminal(netns=server_ns)
    clients: list[Terminal] = []
    try:
        server.wait_for(r"^Listening on \[::\]:6667$")
        server.wait_for(r"^Server is waiting for connections\.\.\.$")

        over_v4 = client_terminal("10.231.0.1", "--nick", "alice", netns=client_ns)
        clients.append(over_v4)
        chat_both_ways(server, over_v4, "alice")
        server.wait_for(r"^Client connected from: \('10\.231\.0\.2', \d+\)$")

        over_v6 = client_terminal("[fd42:7c::1]:6667", "--nick", "bob", netns=client_ns)
        clients.append(over_v6)
        chat_both_ways(server, over_v6, "bob")
        server.wait_for(r"^Client connected from: \('fd42:7c::2', \d+\)$")

        over_v6.type("over")
        assert over_v6.wait_exit() == 0
        server.type("quit")
        assert server.wait_exit() == 0
        over_v4.wait_for(r"The server ended the chat")
        assert over_v4.wait_exit() == 0
    finally:
        server.close()
        for client in clients:
            client.close()


def test_the_client_in_a_terminal_shows_what_was_said_before_it_came_dimmed():
    server, port = listening_server()
    client = None
    try:
        server.wait_for(r"^Server is waiting for connections\.\.\.$")
        server.type("Anyone here?")
        server.wait_for(r"^You \(Server\): Anyone here\?$")
        client = Terminal(
            [sys.executable, "client.py", f"127.0.0.1:{port}", "--nick", "alice"],
            cwd=str(ROOT),
            env={"PYTHONUNBUFFERED": "1", "TERM": "xterm-256color"},  # colour on
        )
        client.wait_for(r"^Earlier in #lobby:$")
        client.wait_for(r"^\[\d\d:\d\d\] Server says: Anyone here\?$")
        coloured = client._tmux("capture-pane", "-p", "-e", "-J", "-S", "-", "-t", "main")
        assert re.search(r"\x1b\[[0-9;]*\b2m[^\n]*Earlier in #lobby:", coloured), coloured
        client.type("quit")
        assert client.wait_exit() == 0
        server.type("over")
        assert server.wait_exit() == 0
    finally:
        server.close()
        if client is not None:
            client.close()
