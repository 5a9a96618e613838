"""The terminal client's chat logic, headless, against a real tcpchat server over TCP.

`ChatClient` is driven directly: typed lines go to `send_typed`, displayed lines
are collected by a `Screen`. The other side of each chat is a raw IRC client.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from client_harness import RunningClient, blocking, client_options, irc_user, run
from tcpchat.client import ChatClient, ConnectError

from net_harness import TIMEOUT, RunningServer, running_server


class PortOnly:
    """Where a hand-made server listens, for `client_options`."""

    def __init__(self, port: int) -> None:
        self.port = port


def test_typed_lines_reach_the_room_and_replies_are_shown() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            await blocking(bob.expect, r"^:alice!\S+ JOIN #lobby$")

            await alice.say("Hello")
            await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #lobby :Hello$")

            bob.send("PRIVMSG #lobby :Hi, alice!")
            await alice.screen.expect(r"^bob says: Hi, alice!$")
            bob.send("PRIVMSG alice :psst")
            await alice.screen.expect(r"^bob \(private\) says: psst$")
            bob.send("PRIVMSG #lobby :\x01ACTION waves\x01")
            await alice.screen.expect(r"^\* bob waves$")

            await alice.say("/me waves back")
            await blocking(bob.expect, r"PRIVMSG #lobby :\x01ACTION waves back\x01$")
            await alice.say("/msg bob just for you")
            await blocking(bob.expect, r"PRIVMSG bob :just for you$")
            assert not any("Hello" in line for line in alice.screen.lines)  # no echo back

            await alice.say("quit")
            await blocking(bob.expect, r"^:alice!\S+ QUIT :Quit: Leaving$")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_echo_shows_the_typed_line_with_the_nick() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            await alice.client.send_typed("Hello, Server!", echo=True)
            await alice.screen.expect(r"^You \(alice\): Hello, Server!$")
            await alice.say("over")
            assert await alice.exit_code() == 0

    run(main)


def test_join_switch_part_and_other_rooms() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby", "#dev")
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/join #dev")
            await alice.screen.expect(r"^You joined #dev\.$")
            assert alice.client.current_channel == "#dev"

            bob.send("PRIVMSG #lobby :in the lobby")
            await alice.screen.expect(r"^\[#lobby\] bob says: in the lobby$")
            bob.send("PRIVMSG #dev :in dev")
            await alice.screen.expect(r"^bob says: in dev$")

            await alice.say("/switch #lobby")
            await alice.screen.expect(r"^You are now talking in #lobby\.$")
            await alice.say("back here")
            await blocking(bob.expect, r"PRIVMSG #lobby :back here$")

            await alice.say("/part #dev")
            await alice.screen.expect(r"^You left #dev\.$")
            bob.send("PART #lobby :lunch")
            await alice.screen.expect(r"^\* bob left #lobby \(lunch\)$")
            await alice.say("/quit see you")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_nick_change_is_followed() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/nick alicia")
            await alice.screen.expect(r"^You are now known as alicia\.$")
            assert alice.client.nick == "alicia"
            await blocking(bob.expect, r"^:alice!\S+ NICK :?alicia$")
            bob.send("NICK robert")
            await alice.screen.expect(r"^\* bob is now known as robert$")
            assert alice.client.roster.nicks() == ["robert"]
            await alice.say("/quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_commands_render_replies_as_sentences() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            bob = await irc_user(server, "bob", "#lobby")
            await alice.screen.expect(r"^\* bob joined #lobby$")
            await alice.say("/names")
            await alice.screen.expect(r"^People in #lobby: (@alice, bob|bob, @alice)$")
            await alice.say("/topic Welcome all")
            await alice.screen.expect(r"set the topic of #lobby to: Welcome all$")
            await alice.say("/list")
            await alice.screen.expect(r"^  #lobby \(2 people\): Welcome all$")
            await alice.say("/whois bob")
            await alice.screen.expect(r"^bob \(bob@127\.0\.0\.1\): bob$")
            await alice.say("/away lunch")
            await alice.screen.expect(r"^You are now marked away\.$")
            await alice.say("/frobnicate")
            await alice.screen.expect(r"^Unknown command /frobnicate")
            await alice.say("over")
            await blocking(bob.expect, r"^:alice!\S+ QUIT ")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


@pytest.mark.parametrize(
    ("typed", "reason"), [("QUIT", "Leaving"), ("/quit gone fishing", "gone fishing")]
)
def test_leaving_sends_quit_and_waits_for_the_server_to_close(typed: str, reason: str) -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            # A long quit_timeout: exiting promptly shows the client saw the server close.
            options = client_options(server, quit_timeout=30.0)
            alice = await RunningClient(options).start()
            await alice.say(typed)
            await blocking(bob.expect, rf"^:alice!\S+ QUIT :Quit: {reason}$")
            assert await alice.exit_code(timeout=5.0) == 0
            assert not any("ended the chat" in line for line in alice.screen.lines)
            bob.close()

    run(main)


def test_a_server_that_never_closes_is_left_after_the_quit_timeout() -> None:
    async def main() -> None:
        silent = socket.create_server(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        loop = asyncio.get_running_loop()

        async def serve() -> None:
            sock, _ = await loop.sock_accept(silent)
            with sock:
                received = b""
                while b"USER" not in received:
                    received += await loop.sock_recv(sock, 4096)
                await loop.sock_sendall(sock, b":irc 001 alice :Welcome\r\n")
                await asyncio.Event().wait()  # never answer again, never close

        with silent:
            silent.setblocking(False)
            fake = asyncio.create_task(serve())
            options = client_options(PortOnly(port), quit_timeout=0.2, channels=[])
            alice = RunningClient(options)
            await alice.start(room=None)
            await alice.say("quit")
            assert await alice.exit_code(timeout=5.0) == 0
            fake.cancel()

    run(main)


def test_a_silent_server_is_pinged_then_given_up_on() -> None:
    async def main() -> None:
        silent = socket.create_server(("127.0.0.1", 0))
        silent.setblocking(False)
        loop = asyncio.get_running_loop()
        pinged = asyncio.Event()

        async def serve() -> None:
            sock, _ = await loop.sock_accept(silent)
            with sock:
                received = b""
                while b"USER" not in received:
                    received += await loop.sock_recv(sock, 4096)
                await loop.sock_sendall(sock, b":irc 001 alice :Welcome\r\n")
                while b"PING" not in received:
                    received += await loop.sock_recv(sock, 4096)
                pinged.set()
                await asyncio.Event().wait()  # no PONG

        with silent:
            fake = asyncio.create_task(serve())
            options = client_options(
                PortOnly(silent.getsockname()[1]),
                channels=[],
                ping_after=0.1,
                ping_timeout=0.2,
                quit_timeout=0.2,
                backoff_first=60.0,
            )
            alice = await RunningClient(options).start(room=None)
            await asyncio.wait_for(pinged.wait(), TIMEOUT)
            await alice.screen.expect(r"^Lost the connection to the server \(the server stopped")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            fake.cancel()

    run(main)


def test_unreachable_server_gives_one_clear_line() -> None:
    async def main() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = ChatClient(client_options(PortOnly(port)), print)
        with pytest.raises(ConnectError) as caught:
            await client.connect()
        assert str(caught.value) == f"Cannot connect to 127.0.0.1:{port}: Connection refused"

        lines: list[str] = []
        unconnected = ChatClient(client_options(PortOnly(port)), lines.append)
        assert await unconnected.run() == 1
        assert lines == [f"Cannot connect to 127.0.0.1:{port}: Connection refused"]

    run(main)


def test_a_server_answering_in_tls_is_recognised() -> None:
    """A TLS server that answers our plain "CAP LS" with an alert, as many do."""

    async def main() -> None:
        tls_only = socket.create_server(("127.0.0.1", 0))
        tls_only.setblocking(False)
        loop = asyncio.get_running_loop()

        async def serve() -> None:
            sock, _ = await loop.sock_accept(tls_only)
            with sock:
                await loop.sock_recv(sock, 4096)
                await loop.sock_sendall(sock, bytes.fromhex("15030300020232"))  # decode_error

        with tls_only:
            fake = asyncio.create_task(serve())
            port = tls_only.getsockname()[1]
            lines: list[str] = []
            assert await ChatClient(client_options(PortOnly(port)), lines.append).run() == 1
            assert lines == [
                f"Cannot connect to 127.0.0.1:{port}: the server answered in TLS, not plain "
                "text; try --tls."
            ]
            await fake

    run(main)


def test_taken_nick_picks_another_and_says_so() -> None:
    async def main() -> None:
        with running_server() as server:
            first = await irc_user(server, "alice", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            assert alice.screen.lines[:2] == [
                "Connected to the server. Type 'quit' to end the chat.",
                "The nickname alice is taken; you are alice_ instead.",
            ]
            assert alice.client.nick == "alice_"
            await alice.say("hi, other alice")
            await blocking(first.expect, r"^:alice_!\S+ PRIVMSG #lobby :hi, other alice$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            first.close()

    run(main)


def test_reserved_nick_is_replaced_and_explained() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server, nick="Server")).start()
            assert alice.screen.lines[1] == (
                "The nickname Server is reserved; you are Server_ instead."
            )
            await alice.say("quit")
            assert await alice.exit_code() == 0

    run(main)


def test_a_refused_nick_change_is_explained_not_shown_bare() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/nick Server")
            await alice.screen.expect(
                r"^You can't be Server: that nickname is reserved for the server's own use\.$"
            )
            await alice.say("/nick José")
            await alice.screen.expect(
                r"^You can't be José: that nickname isn't allowed \(letters, digits and "
                r"-\[\]\\`_\^\{\|\}, up to 30 characters, not starting with a digit or -\)\.$"
            )
            await alice.say("/nick bob")
            await alice.screen.expect(r"^You can't be bob: that nickname is taken\.$")
            assert alice.client.nick == "alice"
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_server_shutdown_mid_chat_prints_the_reason_and_exits_0() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            await blocking(server.stop, "Maintenance at noon")
            await alice.screen.expect(r"^The server ended the chat: .*Maintenance at noon")
            assert await alice.exit_code() == 0
            assert not any("reconnect" in line.lower() for line in alice.screen.lines)

    run(main)


def cut_connection(server: RunningServer, nick: str) -> None:
    """Drop `nick`'s socket on the server side, without a word: a network failure."""

    def cut() -> bool:
        assert server.server is not None
        for connection in list(server.server.connections):
            if connection.session is not None and connection.session.nick == nick:
                assert connection.transport is not None
                connection.transport.abort()
                return True
        return False

    assert server.call(cut), f"{nick} is not connected"


def test_lost_connection_reconnects_and_rejoins_keeping_the_current_room() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby", "#dev")
            options = client_options(server, channels=["#dev", "#lobby"])
            alice = await RunningClient(options).start(room="#lobby")
            await alice.say("/switch #lobby")
            await alice.screen.expect(r"^You are now talking in #lobby\.$")

            await blocking(cut_connection, server, "alice")
            await alice.screen.expect(r"^Lost the connection to the server \(.+\); reconnecting")
            await alice.screen.expect(r"^Reconnected to the server\.$")
            await blocking(bob.expect, r"^:alice!\S+ JOIN #dev$")
            await blocking(bob.expect, r"^:alice!\S+ JOIN #lobby$")
            await alice.screen.expect(r"^You joined #lobby\.$")

            await alice.say("still here")
            await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #lobby :still here$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_quit_while_waiting_to_reconnect_exits_at_once() -> None:
    async def main() -> None:
        with running_server() as server:
            options = client_options(server, backoff_first=60.0)
            alice = await RunningClient(options).start()
            await blocking(cut_connection, server, "alice")
            await alice.screen.expect(r"reconnecting in 60 s\.\.\.$")
            await alice.say("hello?")
            await alice.screen.expect(r"^Not connected to the server right now; that was not sent")
            await alice.say("quit")
            assert await alice.exit_code(timeout=5.0) == 0

    run(main)


def test_backoff_grows_while_the_server_is_away() -> None:
    async def main() -> None:
        # A listener that takes connections and drops them before any welcome.
        refuser = socket.create_server(("127.0.0.1", 0))
        refuser.setblocking(False)
        loop = asyncio.get_running_loop()

        async def drop_everyone() -> None:
            while True:
                sock, _ = await loop.sock_accept(refuser)
                sock.close()

        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            alice.client.options.port = refuser.getsockname()[1]  # where reconnects now go
            dropping = asyncio.create_task(drop_everyone())
            await blocking(cut_connection, server, "alice")
            await alice.screen.expect(r"reconnecting in 0\.05 s\.\.\.$")
            await alice.screen.expect(r"^Lost the connection .*; reconnecting in 0\.1 s")
            await alice.screen.expect(r"^Lost the connection .*; reconnecting in 0\.2 s")
            await alice.screen.expect(r"^Lost the connection .*; reconnecting in 0\.2 s")
            alice.client.options.port = server.port
            await alice.screen.expect(r"^Reconnected to the server\.$")
            dropping.cancel()
            refuser.close()
            await alice.say("quit")
            assert await alice.exit_code() == 0

    run(main)


# -- TLS ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def tls_proxy(certificate: tuple[Path, Path], port: int) -> asyncio.Server:
    """TLS in front of the plain tcpchat server: the edge a TLS listener will be."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


def test_tls_connects_when_the_certificate_is_trusted(certificate: tuple[Path, Path]) -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            proxy = await tls_proxy(certificate, server.port)
            tls_port = proxy.sockets[0].getsockname()[1]
            trusting = ssl.create_default_context(cafile=str(certificate[0]))
            options = client_options(PortOnly(tls_port), tls=True, ssl_context=trusting)
            alice = await RunningClient(options).start()
            await alice.say("over TLS")
            await blocking(bob.expect, r"PRIVMSG #lobby :over TLS$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            proxy.close()
            bob.close()

    run(main)


def test_tls_refuses_an_untrusted_certificate(certificate: tuple[Path, Path]) -> None:
    async def main() -> None:
        with running_server() as server:
            proxy = await tls_proxy(certificate, server.port)
            tls_port = proxy.sockets[0].getsockname()[1]
            client = ChatClient(client_options(PortOnly(tls_port), tls=True), print)
            with pytest.raises(ConnectError, match="certificate verify failed"):
                await client.connect()
            proxy.close()

    run(main)
