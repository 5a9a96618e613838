"""Clients behind a trusted proxy (the PROXY protocol, v1 and v2), over real sockets: the
client's address from the header is the one the server knows them by, for WHOIS and what
others see, for D-lines, limits, throttling and the log, on the chat, TLS and web ports.

The "proxy" is the test itself on 127.0.0.1, the one address in trusted_proxies; clients
that connect directly come from other loopback addresses (127.0.0.2 and up), untrusted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from cluster_harness import wait_until
from tcpchat.edge.proxy_protocol import SIGNATURE
from tcpchat.edge.tls import make_self_signed
from tcpchat.logs import JsonFormatter
from tcpchat.passwords import hash_password

from net_harness import TIMEOUT, LineClient, running_server

PROXY = {"trusted_proxies": ["127.0.0.1"]}
OPERATORS = {"operators": {"root": hash_password("hunter2", n=16)}}  # cheap parameters


def v1(client: str, port: int = 51234) -> bytes:
    family = "TCP6" if ":" in client else "TCP4"
    server = "2001:db8::1" if ":" in client else "198.51.100.1"
    return f"PROXY {family} {client} {server} {port} 6667\r\n".encode()


def v2(client: str, port: int = 51234, command: int = 0x1) -> bytes:
    """HAProxy's send-proxy-v2 header for a TCP client (command 0x0: LOCAL, a check)."""
    kind = socket.AF_INET6 if ":" in client else socket.AF_INET
    server = "2001:db8::1" if ":" in client else "198.51.100.1"
    body = (socket.inet_pton(kind, client) + socket.inet_pton(kind, server)
            + port.to_bytes(2, "big") + (6667).to_bytes(2, "big"))  # fmt: skip
    family = 0x21 if kind == socket.AF_INET6 else 0x11
    return SIGNATURE + bytes([0x20 | command, family]) + len(body).to_bytes(2, "big") + body


LOCAL = SIGNATURE + b"\x20\x00\x00\x00"  # v2 LOCAL: the proxy's own connection


def proxied(port: int, header: bytes, **more: object) -> LineClient:
    """A client through the proxy: the header, then the client's own bytes."""
    return LineClient(port, first=header, **more)  # type: ignore[arg-type]


def host_of(observer: LineClient, nick: str) -> str:
    """The host `observer` sees in WHOIS for `nick`."""
    observer.send(f"WHOIS {nick}")
    return observer.expect(rf" 311 \S+ {nick} \S+ (\S+) \* :").group(1)


def ban(admin: LineClient, line: str) -> None:
    """An operator's KLINE or DLINE, once it is in force."""
    admin.send(line)
    admin.expect(r"NOTICE admin :Added [KD]-line on ")


def oper(port: int) -> LineClient:
    admin = LineClient(port, source="127.0.0.2").register("admin")
    admin.send("OPER root hunter2")
    admin.expect(r" 381 admin ")
    return admin


# -------------------------------------------------------- who the client is


@pytest.mark.parametrize(
    ("header", "host"),
    [(v1("192.0.2.7"), "192.0.2.7"), (v2("192.0.2.7"), "192.0.2.7"),
     (v1("2001:db8::7"), "2001:db8::7"), (v2("2001:db8::7"), "2001:db8::7")],
    ids=["v1", "v2", "v1-ipv6", "v2-ipv6"],
)  # fmt: skip
def test_a_proxied_clients_host_is_the_address_in_the_header(header: bytes, host: str):
    with running_server(**PROXY) as server:
        bob = LineClient(server.port, source="127.0.0.2").register("bob").join("#lobby")
        alice = proxied(server.port, header).register("alice").join("#lobby")
        bob.expect(rf"^:alice!alice@{host} JOIN #lobby$")
        assert host_of(bob, "alice") == host
        alice.send("PRIVMSG #lobby :hello from behind the balancer")
        bob.expect(rf"^:alice!alice@{host} PRIVMSG #lobby :hello from behind the balancer$")
        assert host_of(alice, "bob") == "127.0.0.2"  # a direct client stays itself


def test_a_local_header_a_health_check_keeps_the_proxys_own_address():
    with running_server(**PROXY) as server:
        bob = LineClient(server.port, source="127.0.0.2").register("bob")
        check = proxied(server.port, LOCAL).register("check")
        assert host_of(bob, "check") == "127.0.0.1"
        unknown = proxied(server.port, b"PROXY UNKNOWN\r\n").register("unknown")
        assert host_of(bob, "unknown") == "127.0.0.1"
        check.close()
        unknown.close()


def test_the_header_may_come_in_pieces_and_the_client_right_behind_it():
    with running_server(**PROXY) as server:
        bob = LineClient(server.port, source="127.0.0.2").register("bob")
        alice = LineClient(server.port, first=v2("192.0.2.7")[:5])
        alice.send_raw(v2("192.0.2.7")[5:] + b"NICK alice\r\nUSER alice 0 * :A\r\n")
        alice.expect(r" 001 alice ")
        assert host_of(bob, "alice") == "192.0.2.7"


def test_a_proxied_tls_client_the_header_before_the_handshake(tmp_path: Path):
    cert, key = make_self_signed(tmp_path, "localhost")
    trusting = ssl.create_default_context(cafile=str(cert))
    tls = {"tls_cert": str(cert), "tls_key": str(key), "tls_port": 0}
    with running_server(**PROXY, **tls) as server:
        bob = LineClient(server.port, source="127.0.0.2").register("bob")
        tls_port = server.server.tls_port
        alice = proxied(tls_port, v2("192.0.2.7"), host="localhost", ssl_context=trusting)
        alice.register("alice")
        assert host_of(bob, "alice") == "192.0.2.7"
        carol = proxied(tls_port, v1("2001:db8::9"), host="localhost", ssl_context=trusting)
        carol.register("carol")
        assert host_of(bob, "carol") == "2001:db8::9"
        # without a header, a TLS client on the proxy's host is served as that host
        dave = LineClient(tls_port, host="localhost", ssl_context=trusting).register("dave")
        assert host_of(bob, "dave") == "127.0.0.1"
        dave.close()


def test_a_proxied_web_client_and_a_health_check_without_a_header():
    async def joined_host(port: int, header: bytes, nick: str) -> str:
        # a nick of its own each time, so how the last one left cannot matter to the next
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(header)
        async with connect(f"ws://127.0.0.1:{port}/", sock=sock) as ws:
            await ws.send(f"NICK {nick}")
            await ws.send(f"USER {nick} 0 * :W")
            await ws.send("JOIN #p")
            seen: list[str] = []
            while " JOIN " not in (line := await next_line(ws, seen)):
                seen.append(line)
                assert " 433 " not in line and " 451 " not in line, seen
            return line.split("@", 1)[1].split(" ", 1)[0]

    async def next_line(ws: ClientConnection, seen: list[str]) -> str:
        try:
            return str(await asyncio.wait_for(ws.recv(), TIMEOUT))
        except TimeoutError:
            raise AssertionError(f"nothing more in {TIMEOUT} s; seen {seen}") from None

    with running_server(web_port=-1, **PROXY) as server:
        port = server.server.web_addresses[0][1]
        assert asyncio.run(joined_host(port, v2("192.0.2.7"), "webby")) == "192.0.2.7"
        # the header is optional on the web port
        assert asyncio.run(joined_host(port, b"", "plain")) == "127.0.0.1"
        for check in (LOCAL, b""):  # HAProxy's health check, with a LOCAL header or none
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                sock.sendall(check + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


# ------------------------------------------------- bans, limits, throttling


def test_a_dline_refuses_the_proxied_client_not_another_one_nor_the_proxy():
    with running_server(**PROXY, **OPERATORS) as server:
        admin = oper(server.port)
        ban(admin, "DLINE 192.0.2.0/24 :documentation network")

        banned = proxied(server.port, v2("192.0.2.7"))
        assert banned.expect_closed() == [
            "ERROR :Closing Link: 192.0.2.7 "
            "(You are banned from this server: documentation network)"
        ]
        assert (
            proxied(server.port, v1("192.0.2.200"))
            .expect_closed()[-1]
            .startswith("ERROR :Closing Link: 192.0.2.200 (You are banned")
        )
        other = proxied(server.port, v2("198.51.100.9")).register("other")
        check = proxied(server.port, LOCAL).register("check")  # the proxy itself
        assert host_of(admin, "other") == "198.51.100.9"
        assert host_of(admin, "check") == "127.0.0.1"
        other.close()
        check.close()

        # a D-line on the proxy's own address bans its own connections, not its clients'
        ban(admin, "DLINE 127.0.0.1 :the balancer itself")
        assert (
            proxied(server.port, LOCAL)
            .expect_closed()[-1]
            .startswith(
                "ERROR :Closing Link: 127.0.0.1 (You are banned from this server: the balancer"
            )
        )
        proxied(server.port, v2("198.51.100.10")).register("behind").close()

        # one already on is kicked by a D-line on their proxied address
        on = proxied(server.port, v1("203.0.113.5")).register("onnow")
        admin.send("DLINE 203.0.113.5 :later")
        assert on.expect_closed()[-1] == "ERROR :Closing Link: 203.0.113.5 (D-lined: later)"
        admin.expect(r"Added D-line on 203\.0\.113\.5 until lifted: later; 1 disconnected$")


def test_a_kline_matches_the_proxied_host():
    with running_server(**PROXY, **OPERATORS) as server:
        admin = oper(server.port)
        ban(admin, "KLINE *@192.0.2.7 :from there")
        mallory = proxied(server.port, v2("192.0.2.7"))
        mallory.send("NICK mallory", "USER mallory 0 * :M")
        assert mallory.expect_closed()[-1] == "ERROR :Closing Link: 192.0.2.7 (K-lined: from there)"
        proxied(server.port, v2("192.0.2.8")).register("neighbour")


def test_throttling_and_connection_limits_count_the_proxied_address():
    limits = {"connections_per_minute_per_address": 2, "max_connections_per_address": 3}
    with running_server(**PROXY, **limits) as server:
        first = [proxied(server.port, v1("192.0.2.7")).register(f"a{i}") for i in range(2)]
        third = proxied(server.port, v2("192.0.2.7")).expect_closed()
        assert third[-1].startswith(
            "ERROR :Closing Link: 192.0.2.7 (Too many connections from your address in the "
            "last minute; try again in "
        )
        others = [proxied(server.port, v1("198.51.100.9")).register(f"b{i}") for i in range(2)]
        assert len(first + others) == 4  # the proxy, carrying five, is no one's limit

    with running_server(**PROXY, max_connections_per_address=2) as server:
        kept = [proxied(server.port, v2("192.0.2.7")).register(f"a{i}") for i in range(2)]
        assert proxied(server.port, v2("192.0.2.7")).expect_closed()[-1] == (
            "ERROR :Closing Link: 192.0.2.7 (Too many connections from your address)"
        )
        other = proxied(server.port, v2("198.51.100.9")).register("b")
        kept[0].close()  # a place is freed
        counted = lambda: server.call(lambda: server.server.per_address.get("192.0.2.7"))  # noqa: E731
        wait_until(lambda: counted() == 1, "a2's place to be freed")
        kept.append(proxied(server.port, v2("192.0.2.7")).register("a2"))
        other.close()


# ----------------------------------------------- a trusted proxy must send it


def test_from_a_trusted_proxy_a_bad_header_is_refused_and_no_header_is_the_proxys_own():
    must = " (from an address in trusted_proxies, a PROXY protocol header begun must be whole))"
    with running_server(**PROXY) as server:
        # No header: someone on the proxy's host, connecting straight (an IRC client, or a
        # person who waits to be greeted): served as that address, never refused.
        direct = proxied(server.port, b"NICK alice\r\nUSER alice 0 * :A\r\n")
        direct.expect(r" 001 alice ")
        direct.send("WHOIS alice")
        direct.expect(r" 311 alice alice alice 127\.0\.0\.1 ")
        person = LineClient(server.port)
        person.expect_text("Welcome")  # greeted as a person once the header's wait is over
        long = proxied(server.port, b"PROXY TCP4 " + b"1" * 120).expect_closed()
        assert long == [
            "ERROR :Closing Link: 127.0.0.1 (PROXY protocol v1 line longer than 107 bytes" + must
        ]
        odd = proxied(server.port, SIGNATURE + b"\x21\x41\x00\x00").expect_closed()
        assert odd[-1].startswith(
            "ERROR :Closing Link: 127.0.0.1 (PROXY protocol v2 with the unknown address family 0x4"
        )
        stalled = proxied(server.port, b"PROXY TCP4 192.0.2.7").expect_closed()
        assert stalled == [
            "ERROR :Closing Link: 127.0.0.1 (PROXY protocol header not finished in time" + must
        ]
        assert server.call(lambda: server.server.metrics.refused["proxy_header"]) == 3


def test_from_an_untrusted_address_a_proxy_header_is_never_believed(caplog):
    caplog.set_level(logging.INFO, logger="tcpchat")
    with running_server(**PROXY) as server:
        watcher = proxied(server.port, LOCAL).register("watcher")
        first = LineClient(server.port, source="127.0.0.2", first=v1("192.0.2.7"))
        first.send("NICK forger", "USER forger 0 * :F")
        assert first.expect_closed() == []  # a stranger, turned away as before
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("not in trusted_proxies" in message for message in warned)

        later = LineClient(server.port, source="127.0.0.2").register("forger")
        later.send(v1("192.0.2.7").rstrip(b"\r\n"))
        later.expect(r" 421 forger PROXY :Unknown command")
        assert host_of(watcher, "forger") == "127.0.0.2"


# ----------------------------------------------------------------- the log


def test_the_log_knows_a_proxied_client_by_its_address_and_names_the_proxy(caplog):
    caplog.set_level(logging.INFO, logger="tcpchat")
    with running_server(**PROXY) as server:
        alice = proxied(server.port, v2("192.0.2.7", 40000)).register("alice")
        alice.send("QUIT :bye")
        alice.expect_closed()
    lines = {r.event: r for r in caplog.records if getattr(r, "addr", None) == "192.0.2.7"}
    assert {"connect", "register", "disconnect"} <= lines.keys()
    came = json.loads(JsonFormatter().format(lines["connect"]))
    assert (came["addr"], came["port"], came["proxy"]) == ("192.0.2.7", 40000, "127.0.0.1")
    assert came["message"].startswith("Client connected from: 192.0.2.7:40000 (conn ")
    assert came["message"].endswith(" via proxy 127.0.0.1")
