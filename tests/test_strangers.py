"""Other protocols on the chat port (HTTP, TLS, SSH, ...): answered briefly, never in the chat.

Real servers on 127.0.0.1, real clients (http.client, ssl) and raw sockets. A watcher in
#lobby checks that no one sees a stranger: after the stranger is done, the watcher's own
NAMES round trip must come back with nothing before it.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.edge import tls
from tcpchat.edge.sniff import PROXY_V2_SIGNATURE, identify
from tcpchat.protocol import looks_like_irc

from net_harness import TIMEOUT, LineClient, running_server


@pytest.fixture
def server():
    with running_server() as running:
        yield running


def watcher_in_lobby(server) -> LineClient:
    watcher = LineClient(server.port).register("watcher")
    watcher.send("JOIN #lobby")
    watcher.expect(r" 366 watcher #lobby ")
    return watcher


def saw_nothing(watcher: LineClient) -> None:
    """The watcher's NAMES reply is the very next thing it reads, and names only itself."""
    watcher.send("NAMES #lobby")
    assert watcher.readline().endswith(" 353 watcher = #lobby :@watcher")
    assert " 366 " in watcher.readline()


def console_sightings(server) -> list[tuple[str, int]]:
    """The peers the operator console is told of, from now on."""
    seen: list[tuple[str, int]] = []
    server.call(setattr, server.server, "on_connect", seen.append)
    return seen


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(TIMEOUT)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def raw(server, *chunks: bytes) -> bytes:
    """Send `chunks` as separate writes, then read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        return read_all(sock)


# ------------------------------------------------------------------------ HTTP


def test_a_web_request_gets_a_short_page_and_no_one_in_the_chat_sees_it(server, caplog):
    watcher = watcher_in_lobby(server)
    sightings = console_sightings(server)
    caplog.set_level(logging.INFO, logger="tcpchat")
    web = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    web.request("GET", "/", headers={"User-Agent": "curl/8.5.0"})
    response = web.getresponse()
    page = response.read().decode()
    web.close()
    assert response.status == 400
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert response.getheader("Connection") == "close"
    assert "tcpchat" in page and "not a web server" in page
    assert f"irssi -c 127.0.0.1 -p {server.port}" in page
    assert f"nc 127.0.0.1 {server.port}" in page
    saw_nothing(watcher)
    assert sightings == []
    assert "HTTP request 'GET / HTTP/1.1'" in caplog.text


def test_the_page_names_the_host_the_browser_asked_for(server):
    reply = raw(server, b"GET /favicon.ico HTTP/1.1\r\nHost: chat.example.org:6667\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert f"nc chat.example.org {server.port}".encode() in body


def test_head_gets_the_headers_only(server):
    reply = raw(server, b"HEAD / HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert reply.endswith(b"\r\n\r\n")


def test_a_request_line_that_comes_in_pieces_is_still_recognised(server):
    watcher = watcher_in_lobby(server)
    reply = raw(server, b"GE", b"T / HT", b"TP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    saw_nothing(watcher)


def test_a_request_after_the_greeting_is_still_turned_away(server):
    watcher = watcher_in_lobby(server)
    slow = LineClient(server.port)
    slow.expect_text("nickname? ")  # greeted as a person before saying anything
    slow.send("GET / HTTP/1.0", "")
    slow.expect(r"^HTTP/1\.1 400 Bad Request$")
    slow.expect_closed()
    saw_nothing(watcher)


def test_http2_with_prior_knowledge_is_closed_without_an_answer(server):
    assert raw(server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == b""


# ------------------------------------------------------------------- TLS, SSH


def client_hello() -> bytes:
    """The ClientHello a real TLS client sends first (no line ending anywhere near)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    handshake = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        handshake.do_handshake()
    return outgoing.read()


def test_tls_on_the_plain_port_is_closed_at_once_with_a_log_line(server, caplog):
    watcher = watcher_in_lobby(server)
    sightings = console_sightings(server)
    caplog.set_level(logging.INFO, logger="tcpchat")
    assert raw(server, client_hello()) == (
        b"This is the plain-text port of a tcpchat chat server; this server has no TLS port.\r\n"
    )
    saw_nothing(watcher)
    assert sightings == []
    assert "TLS handshake on the plain port; this server has no TLS port" in caplog.text


def test_a_tls_client_on_the_plain_port_is_told_and_the_log_names_the_tls_port(
    tmp_path: Path, caplog
):
    cert, key = tls.make_self_signed(tmp_path, "localhost")
    caplog.set_level(logging.INFO, logger="tcpchat")
    with running_server(tls_cert=str(cert), tls_key=str(key), tls_port=0) as running:
        context = ssl.create_default_context(cafile=str(cert))
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT)
        # The well-known sign of TLS on a plain port, which a client can explain.
        with sock, pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER"):
            context.wrap_socket(sock, server_hostname="localhost")
        tls_port = running.server.tls_port
        assert f"TLS handshake on the plain port; TLS is on port {tls_port}" in caplog.text
        assert raw(running, client_hello()) == (
            f"This is the plain-text port of a tcpchat chat server; TLS is on port {tls_port}."
            "\r\n"
        ).encode()


def test_ssh_on_the_chat_port_is_closed(server, caplog):
    watcher = watcher_in_lobby(server)
    caplog.set_level(logging.INFO, logger="tcpchat")
    assert raw(server, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") == b""
    saw_nothing(watcher)
    assert "SSH" in caplog.text


@pytest.mark.parametrize(
    "header",
    [b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 6667\r\n", PROXY_V2_SIGNATURE + b"\x21\x11\x00\x0c"],
)
def test_a_proxy_protocol_header_is_refused_with_a_warning(server, caplog, header):
    caplog.set_level(logging.INFO, logger="tcpchat")
    assert raw(server, header + b"NICK alice\r\nUSER alice 0 * :A\r\n") == b""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("PROXY protocol" in message for message in warnings)


# ------------------------------------------------------------- the detector


@pytest.mark.parametrize(
    "first",
    [
        b"CAP LS 302\r\nNICK alice\r\n",
        b"NICK alice\r\nUSER alice 0 * :Alice\r\n",
        b"alice\n",
        b"GET\n",  # a person called GET
        b"get me out of here\n",
        b"HTTP is great\n",
        b"SSH is on port 22, right?\n",
        b"proxy\n",
        b"\xff\xfb\x1f\xff\xfb\x20tina\r\n",  # telnet negotiation, then a nickname
    ],
)
def test_chat_clients_and_people_are_no_strangers(first: bytes) -> None:
    assert identify(first) is None


@given(st.binary(max_size=60))
def test_nothing_an_irc_client_opens_with_is_taken_for_a_stranger(rest: bytes) -> None:
    for command in (b"CAP", b"NICK", b"PASS", b"USER"):
        line = command + b" " + rest.replace(b"\n", b"")
        if looks_like_irc(line):
            assert identify(line) is None
