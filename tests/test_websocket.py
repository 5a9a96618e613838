"""IRC over WebSocket on the web port, with the `websockets` client library over real
sockets: the subprotocols, a chat with a TCP client, the page's own origin only, invalid
UTF-8 and an overlong line, and the plain HTTP around it (/healthz, the static files)."""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side

from tcpchat.edge.websocket import frame_lines

from net_harness import LineClient, running_server


def web_port(server) -> int:
    return server.call(lambda: server.server.web_addresses[0][1])


async def register(ws, nick: str) -> None:
    await ws.send(f"NICK {nick}")
    await ws.send(f"USER {nick} 0 * :{nick}")
    while True:
        line = await asyncio.wait_for(ws.recv(), 10)
        assert "\r" not in line and "\n" not in line  # one line per message
        if " 376 " in line or " 422 " in line:
            return


async def until(ws, needle: str) -> str:
    while True:
        line = await asyncio.wait_for(ws.recv(), 10)
        if needle in line:
            return line


def test_subprotocols_are_chosen_in_the_clients_order_and_text_without_any() -> None:
    async def chosen(port: int, offered: list[str] | None) -> str | None:
        async with connect(f"ws://127.0.0.1:{port}/", subprotocols=offered) as ws:
            return ws.subprotocol

    with running_server(web_port=-1) as server:
        port = web_port(server)
        assert asyncio.run(chosen(port, ["binary.ircv3.net", "text.ircv3.net"])) == (
            "binary.ircv3.net"
        )
        assert asyncio.run(chosen(port, ["text.ircv3.net", "binary.ircv3.net"])) == (
            "text.ircv3.net"
        )
        assert asyncio.run(chosen(port, None)) is None
        with pytest.raises(InvalidStatus):
            asyncio.run(chosen(port, ["xmpp"]))


def test_a_browser_chats_with_a_tcp_client() -> None:
    with running_server(web_port=-1) as server:
        tcp = LineClient(server.port).register("alice").join("#room")

        async def browser() -> None:
            async with connect(
                f"ws://127.0.0.1:{web_port(server)}/", subprotocols=["text.ircv3.net"]
            ) as ws:
                await register(ws, "webby")
                await ws.send("JOIN #room")
                await until(ws, " 366 ")
                await ws.send("PRIVMSG #room :hello from the browser, ünïcode")
                await asyncio.to_thread(tcp.expect, "hello from the browser, ünïcode")
                await asyncio.to_thread(tcp.send, "PRIVMSG #room :hi webby")
                line = await until(ws, "hi webby")
                assert line == ":alice!alice@127.0.0.1 PRIVMSG #room :hi webby"

        asyncio.run(browser())


def test_what_a_tcp_client_says_reaches_text_and_binary_websocket_members_intact() -> None:
    """A long line (a frame header with a 16-bit size) and a line in Latin-1 (taken as
    such, as on TCP): both kinds of member get each line as one message, in order, the
    Latin-1 one as UTF-8."""
    long_text = "x" * 300
    with running_server(web_port=-1) as server:
        tcp = LineClient(server.port).register("alice").join("#room")

        async def member(nick: str, subprotocol: str) -> list[str | bytes]:
            async with connect(
                f"ws://127.0.0.1:{web_port(server)}/", subprotocols=[subprotocol]
            ) as ws:
                await ws.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #room")
                said: list[str | bytes] = []
                while len(said) < 3:  # all after our JOIN: the others' JOINs, the three
                    message = await asyncio.wait_for(ws.recv(), 10)
                    text = message if isinstance(message, str) else message.decode("latin-1")
                    if " PRIVMSG " in text:
                        said.append(message)
                return said

        async def both() -> tuple[list[str | bytes], list[str | bytes]]:
            text = asyncio.create_task(member("texty", "text.ircv3.net"))
            binary = asyncio.create_task(member("binny", "binary.ircv3.net"))
            await asyncio.to_thread(tcp.expect, "JOIN #room")
            await asyncio.to_thread(tcp.expect, "JOIN #room")
            tcp.send_raw(
                f"PRIVMSG #room :{long_text}\r\nPRIVMSG #room :caf\xe9\r\n"
                "PRIVMSG #room :bye\r\n".encode("latin-1")
            )
            return await text, await binary

        text, binary = asyncio.run(both())
        prefix = ":alice!alice@127.0.0.1 PRIVMSG #room :"
        assert text == [prefix + long_text, prefix + "café", prefix + "bye"]
        assert binary == [line.encode() for line in text]


@pytest.mark.parametrize("size", [1, 125, 126, 65535, 65536])
def test_server_frames_are_what_the_websockets_library_reads(size: int) -> None:
    """Frames made by hand on the hot path, read back by the library: every size class of
    header, text and binary, and a line that is not UTF-8 made valid for text."""
    line = b"y" * size
    data = b"PING :a\r\n" + line + b"\r\n" + b"caf\xe9\r\n"
    for binary in (False, True):
        reader = Protocol(Side.CLIENT, max_size=None)
        reader.receive_data(frame_lines(data, binary))
        frames = reader.events_received()
        kind = Opcode.BINARY if binary else Opcode.TEXT
        assert [frame.opcode for frame in frames] == [kind] * 3
        last = b"caf\xe9" if binary else "caf\ufffd".encode()
        assert [bytes(frame.data) for frame in frames] == [b"PING :a", line, last]


def test_a_page_from_another_origin_is_refused_and_its_own_accepted() -> None:
    with running_server(web_port=-1) as server:
        port = web_port(server)

        async def attempt(origin: str) -> None:
            async with connect(f"ws://127.0.0.1:{port}/", origin=origin) as ws:  # type: ignore[arg-type]
                await register(ws, "o" + str(abs(hash(origin)) % 1000))

        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt("http://evil.example"))
        assert refused.value.response.status_code == 403
        assert b"not allowed" in refused.value.response.body
        asyncio.run(attempt(f"http://127.0.0.1:{port}"))


def test_invalid_utf8_in_a_text_frame_closes_with_1007_and_an_overlong_line_gets_417() -> None:
    with running_server(web_port=-1) as server:
        port = web_port(server)

        async def overlong() -> str:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await register(ws, "longy")
                await ws.send("PRIVMSG longy :" + "x" * 9000)
                return await until(ws, " 417 ")

        assert "too long" in asyncio.run(overlong()).lower()

        async def invalid() -> int | None:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await register(ws, "badutf")
                # a text frame whose payload is not UTF-8, sent below the library's checks
                ws.protocol.send_frame(Frame(Opcode.TEXT, b"PRIVMSG x :\xff\xfe"))
                ws.send_data()
                with pytest.raises(ConnectionClosedError) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                return closed.value.rcvd.code if closed.value.rcvd else None

        assert asyncio.run(invalid()) == 1007


def test_healthz_and_the_static_files_and_nothing_outside_them() -> None:
    with running_server(web_port=-1) as server:
        port = web_port(server)

        def get(path: str) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()

        assert get("/healthz") == (200, b"ok\n")
        assert get("/../../etc/passwd")[0] == 404
        assert get("/%2e%2e/%2e%2e/etc/passwd")[0] == 404
        assert get("/nothing-here.js")[0] == 404
        tcp = LineClient(server.port)  # the chat goes on meanwhile
        tcp.register("still")


def test_bad_input_on_the_web_port_is_refused_and_disturbs_no_one() -> None:
    """HTTP garbage gets 400; a handshake that never finishes is dropped after the
    handshake timeout; a frame that claims 2 GiB closes with 1009 (message too big)
    without being read; a flood of pings is answered or cut, and a TCP client in a
    channel with the culprits notices nothing."""
    import socket
    import struct

    with running_server(web_port=-1, tls_handshake_timeout=0.5) as server:
        port = web_port(server)
        tcp = LineClient(server.port)
        tcp.register("bystander")

        garbage = socket.create_connection(("127.0.0.1", port), timeout=10)
        garbage.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        answer = garbage.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer
        garbage.close()

        silent = socket.create_connection(("127.0.0.1", port), timeout=10)
        silent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert silent.recv(4096) == b""  # dropped after the timeout
        silent.close()

        async def huge() -> int | None:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await register(ws, "huge")
                # a masked binary frame header claiming 2 GiB, and nothing after it
                header = struct.pack("!BBQ", 0x82, 0x80 | 127, 2**31) + b"\0\0\0\0"
                ws.transport.write(header)  # type: ignore[attr-defined]
                with pytest.raises(ConnectionClosedError) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                return closed.value.rcvd.code if closed.value.rcvd else None

        assert asyncio.run(huge()) == 1009

        async def pings() -> None:
            async with connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
                await register(ws, "pinger")
                for n in range(2000):
                    await ws.ping(str(n))
                await ws.send("PING :still here")
                await until(ws, "still here")

        asyncio.run(pings())
        tcp.send("PING :me too")
        tcp.expect("me too")


def test_metrics_parse_strictly_and_count_what_happens_and_only_for_loopback() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def scrape(port: int) -> tuple[int, dict[tuple[str, tuple], float]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            return response.status, {}
        samples = {}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
        return response.status, samples

    with running_server(web_port=-1) as server:
        port = web_port(server)
        status, before = scrape(port)
        assert status == 200
        alice, bob = LineClient(server.port), LineClient(server.port)
        alice.register("alice")
        bob.register("bob")
        for each in (alice, bob):
            each.join("#m")
        for n in range(5):
            alice.send(f"PRIVMSG #m :line {n}")
        alice.send("PRIVMSG bob :just you", "PING :done")
        alice.expect("done")
        bob.expect("just you")
        bob.send("CAP REQ :away-notify")
        bob.expect("ACK")
        alice.send("AWAY :lunch", "AWAY")  # away, and back: a line with no parameters
        bob.expect(r"AWAY :lunch")
        bob.expect(r"alice\S* AWAY\r?$")
        _, after = scrape(port)

        def rise(name: str, command: str) -> float:
            key = (name, (("command", command),))
            return after[key] - before.get(key, 0)

        assert rise("tcpchat_lines_in_total", "PRIVMSG") == 6
        assert rise("tcpchat_lines_out_total", "PRIVMSG") == 6  # five to bob in #m, one PM
        assert rise("tcpchat_lines_out_total", "001") == 2  # a welcome each
        assert rise("tcpchat_lines_out_total", "PONG") == 1
        assert rise("tcpchat_lines_out_total", "JOIN") == 3  # alice's to her, bob's to both
        assert rise("tcpchat_lines_out_total", "AWAY") == 2  # counted as AWAY, not 'AWAY\r\n'
        assert after["tcpchat_users", ()] == 2
        assert after["tcpchat_channels", ()] == 1
        assert after["tcpchat_connections", (("kind", "irc"), ("transport", "tcp"))] == 2
        assert after["tcpchat_bytes_in_total", ()] > before.get(("tcpchat_bytes_in_total", ()), 0)
        assert after["tcpchat_event_loop_lag_seconds_count", ()] >= 0
        assert not any("alice" in str(key) or "#m" in str(key) for key in after)

    with running_server(web_port=-1, metrics_allow=["10.0.0.0/8"]) as server:
        assert scrape(web_port(server))[0] == 403


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    async def host_seen(port: int, nick: str) -> str:
        headers = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
        async with connect(f"ws://127.0.0.1:{port}/", additional_headers=headers) as ws:
            await register(ws, nick)
            await ws.send("JOIN #p")
            joined = await until(ws, " JOIN ")
            return joined.split("@", 1)[1].split(" ", 1)[0]

    with running_server(web_port=-1) as server:
        assert asyncio.run(host_seen(web_port(server), "direct")) == "127.0.0.1"
    with running_server(web_port=-1, trusted_proxies=["127.0.0.1"]) as server:
        assert asyncio.run(host_seen(web_port(server), "proxied")) == "203.0.113.7"


def test_a_web_port_taken_by_another_program_leaves_the_chat_running(caplog) -> None:
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with running_server(web_port=busy.getsockname()[1]) as server:
            assert server.call(lambda: server.server.web_addresses) == []
            LineClient(server.port).register("stillhere")
        assert any("no web client" in record.getMessage() for record in caplog.records)
    finally:
        busy.close()


def started_without_the_web_extra(*args: str) -> tuple[list[str], str]:
    """What `python server.py ARGS` prints (stdout up to "waiting", then all of stderr) on
    a Python where websockets can't be imported, as on a fresh clone without the web extra;
    an IRC client registers meanwhile, so the chat itself must run."""
    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys, runpy; sys.modules['websockets'] = None; sys.argv[0] = 'server.py'\n"
        f"runpy.run_path({str(root / 'server.py')!r}, run_name='__main__')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--host", "127.0.0.1", "--port", "0", "--no-console",
         "--data-dir", "none", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    printed = []
    for line in proc.stdout:  # blocks until the server prints; the test timeout bounds it
        printed.append(line.rstrip("\n"))
        if line.startswith("Server is waiting for connections"):
            break
    port = int(printed[0].rpartition(":")[2])
    LineClient(port).register("stillhere")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return printed, err


def test_a_web_port_asked_for_without_the_web_extra_says_how_to_get_it() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    printed, err = started_without_the_web_extra("--web-port", str(free))
    assert [line for line in printed if "web" in line] == []
    assert "WARNING" in err and "no web client: it needs the web extra (pip install '.[web]'" in err


def test_the_default_web_port_without_the_web_extra_is_quietly_left_out() -> None:
    """`python server.py` on a fresh clone: the chat, and no warning about a page not asked
    for (the log's notes, at INFO, say it is left out and how to get it)."""
    printed, err = started_without_the_web_extra()
    assert printed[-1] == "Server is waiting for connections..."
    assert [line for line in err.splitlines() if "web" in line and "WARNING" in line] == []
    assert "INFO tcpchat.edge: no web client: it needs the web extra" in err


def test_the_web_port_listens_where_web_host_says_and_the_chat_where_host_says() -> None:
    """Say, the web port on one address for a reverse proxy, IRC on another."""
    with running_server(web_port=-1, host="127.0.0.1", web_host="127.0.0.2") as server:
        (web_address, port), *_ = server.call(lambda: server.server.web_addresses)
        assert web_address == "127.0.0.2"
        conn = http.client.HTTPConnection("127.0.0.2", port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        with pytest.raises(ConnectionRefusedError):
            http.client.HTTPConnection("127.0.0.1", port, timeout=10).connect()
        LineClient(server.port, host="127.0.0.1").register("alice")


def test_a_binary_frame_that_is_not_utf8_is_taken_as_on_tcp() -> None:
    """binary.ircv3.net carries bytes: Latin-1 arrives as TCP's would (shown as such), and
    the connection stays open."""
    with running_server(web_port=-1) as server:
        tcp = LineClient(server.port).register("alice").join("#room")

        async def binary() -> bytes:
            async with connect(
                f"ws://127.0.0.1:{web_port(server)}/", subprotocols=["binary.ircv3.net"]
            ) as ws:
                await ws.send(b"NICK binny\r\nUSER binny 0 * :b\r\nJOIN #room")
                await ws.send(b"PRIVMSG #room :caf\xe9 au lait")
                await asyncio.to_thread(tcp.expect, "au lait")
                await ws.send(b"PING :still-here")
                while True:
                    message = await asyncio.wait_for(ws.recv(), 10)
                    assert isinstance(message, bytes)
                    if b"still-here" in message:
                        return message

        assert asyncio.run(binary()).endswith(b"PONG tcpchat :still-here")
        assert tcp.seen[-1] == ":binny!binny@127.0.0.1 PRIVMSG #room :café au lait"
