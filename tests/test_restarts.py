"""Restarts clients survive: SIGTERM (systemd, `docker stop`) and SIGINT without a console
tell clients the server restarts, and our terminal client comes back, in its rooms, under its
nick, logged in again; only the operator's `over` at the console ends the chat for good.

Each restart is real: a server process stopped with a signal, and another started on the
same port at once (the listener's SO_REUSEADDR lets it bind past the old connections)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from client_harness import RunningClient, blocking, run
from tcpchat.client import ClientOptions

from net_harness import TIMEOUT, LineClient, sees_in, server_process
from sasl_harness import add_account
from terminal_harness import server_with_console

RESTART = "Server restarting, reconnect in a few seconds"


@asynccontextmanager
async def restarted(
    first: subprocess.Popen, port: int, data: Path, alice: RunningClient
) -> AsyncIterator[subprocess.Popen]:
    """SIGTERM to `first` (alice is told it restarts), then a new server on the same port and
    data, stopped with SIGTERM at the end."""
    first.send_signal(signal.SIGTERM)
    await alice.screen.expect(r"^Server restarting; reconnecting in [\d.]+ s\.\.\.$")
    assert await blocking(first.wait, TIMEOUT) == 0
    with server_process("--port", str(port), "--data-dir", str(data)) as (second, _, _):
        yield second
        second.send_signal(signal.SIGTERM)
        assert await blocking(second.wait, TIMEOUT) == 0


def options(port: int, **overrides: object) -> ClientOptions:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "nick": "alice",
        "quit_timeout": 2.0,
        "backoff_first": 0.2,
        "backoff_max": 1.0,
        "connect_timeout": 5.0,
        "ready_timeout": 5.0,
    }
    values.update(overrides)
    return ClientOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_tells_irc_and_nc_clients_it_is_a_restart_and_the_port_binds_again_at_once(
    signum: signal.Signals, tmp_path: Path
) -> None:
    with server_process("--data-dir", str(tmp_path)) as (first, port, _):
        irc = LineClient(port).register("alice")
        person = LineClient(port)
        person.expect_text("nickname? ")
        person.send("dave")
        person.expect(r"^You joined #lobby\.$")
        first.send_signal(signum)
        assert irc.expect_closed()[-1] == f"ERROR :Closing Link: 127.0.0.1 ({RESTART})"
        said = person.expect_closed()
        assert "The server is restarting; connect again in a few seconds to carry on." in said
        assert not any("ended the chat" in line for line in said), said
        assert first.wait(TIMEOUT) == 0
        with server_process("--port", str(port), "--data-dir", str(tmp_path)) as (again, same, _):
            assert same == port
            LineClient(port).register("alice").close()
            again.send_signal(signal.SIGTERM)
            assert again.wait(TIMEOUT) == 0


def test_our_client_comes_back_after_a_restart_in_every_room_it_was_in(tmp_path: Path) -> None:
    """Two rooms from the command line and one joined later: all three again, same nick."""

    async def main() -> None:
        with server_process("--data-dir", str(tmp_path)) as (first, port, _):
            alice = await RunningClient(options(port, channels=["#a", "#b"])).start(room="#b")
            await alice.say("/join #c")
            await alice.screen.expect(r"^You joined #c\.$")
            async with restarted(first, port, tmp_path, alice):
                bob = await blocking(lambda: LineClient(port).register("bob"))
                for room in ("#a", "#b", "#c"):
                    await blocking(sees_in, bob, "alice", room)
                await alice.screen.expect(r"^Reconnected to the server\.$")
                await alice.screen.expect(r"^Rejoined #a, #b, #c\.$")
                await alice.say("back in the room I was in")
                await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #c :back in the room I was in$")
                await alice.say("/switch #a")
                await alice.say("and in the first")
                await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #a :and in the first$")
                bob.send("PRIVMSG #b :welcome back")
                await alice.screen.expect(r"bob says: welcome back$")
                await alice.say("quit")
                assert await alice.exit_code() == 0
                assert not any("ended the chat" in line for line in alice.screen.lines)

    run(main, timeout=60)


def test_a_login_made_with_slash_login_is_made_again_after_a_restart(tmp_path: Path) -> None:
    add_account(tmp_path, "alice", "sesame")

    async def main() -> None:
        with server_process("--data-dir", str(tmp_path)) as (first, port, _):
            alice = await RunningClient(options(port)).start()
            await alice.say("/login alice sesame")
            await alice.screen.expect(r"^You are now logged in as alice\.$")
            async with restarted(first, port, tmp_path, alice):
                await alice.screen.expect(r"^You are now logged in as alice\.$")
                await alice.screen.expect(r"^Rejoined #lobby\.$")
                bob = await blocking(lambda: LineClient(port).register("bob"))
                bob.send("WHOIS alice")
                await blocking(bob.expect, r" 330 bob alice alice :is logged in as$")
                await alice.say("quit")
                assert await alice.exit_code() == 0

    run(main, timeout=60)


def test_over_at_the_console_ends_our_client_for_good(tmp_path: Path) -> None:
    server = server_with_console("--web-port", "0", "--data-dir", str(tmp_path))

    async def main() -> None:
        port = int(server.wait_for(r"Listening on 127\.0\.0\.1:(\d+)").group(1))
        server.wait_for(r"You \(Server\):")
        alice = await RunningClient(options(port)).start()
        server.type("over")
        await alice.screen.expect(
            r"^The server ended the chat: Closing Link: 127\.0\.0\.1 \(Server shutting down\)$"
        )
        assert await alice.exit_code() == 0
        assert not any("reconnect" in line.lower() for line in alice.screen.lines)

    try:
        run(main, timeout=30)
        assert server.wait_exit() == 0
    finally:
        server.close()
