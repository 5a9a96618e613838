"""/help, /msg and message times as people see them, on a real server: a person on nc
(the plain-text mode) and the terminal client (`ChatClient`, headless)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from client_harness import RunningClient, blocking, client_options, irc_user, run
from tcpchat.plaintext import help_text

from net_harness import LineClient, RunningServer, running_server

SMALL_TERMINAL = (24, 80)  # rows, columns
HELP_END = r"^/help COMMAND tells more about one, e\.g\. /help join$"


def person(server: RunningServer, nick: str) -> LineClient:
    """Someone on nc: greeted, named, in #lobby, with what was seen so far forgotten."""
    client = LineClient(server.port)
    client.expect_text("nickname? ")
    client.send(nick)
    client.expect(r"^You joined #lobby\.$")
    client.expect(r"^People in #lobby: ")
    client.seen.clear()
    return client


def lines_until(client: LineClient, pattern: str) -> list[str]:
    """The lines read up to and including the first one matching `pattern`."""
    start = len(client.seen)
    client.expect(pattern)
    return client.seen[start:]


def local_times_around_now() -> set[str]:
    """HH:MM now, and a minute either side, for a clock that ticks over during a test."""
    now = datetime.now()
    return {(now + timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 0, 1)}


# -- /help -------------------------------------------------------------------


def test_help_fits_a_small_terminal_and_help_command_tells_more_on_nc() -> None:
    with running_server() as server:
        dave = person(server, "dave")
        dave.send("/help")
        shown = lines_until(dave, HELP_END)
        assert shown[0].startswith("Type a message and press Enter")
        rows, columns = SMALL_TERMINAL
        assert len(shown) <= rows - 9, shown  # room for the conversation above it
        assert max(len(line) for line in shown) <= columns
        for command in ("/join", "/msg", "/quit", "/kick", "/ban", "/mode", "/oper", "/kill"):
            assert command in "\n".join(shown)

        dave.send("/help join")
        assert lines_until(dave, r"^  .*/join #a,#b joins several\.$") == [
            "/join #room [key]",
            "  Join a room (created if it doesn't exist) and make it your current room. The",
            "  key is the room's password, if it has one. /join #a,#b joins several.",
        ]
        dave.send("/help /BAN")
        dave.expect(r"^/ban \[#room\] \[mask\]$")
        dave.send("/help deop")
        dave.expect(r"^/op \[#room\] nick, /deop \[#room\] nick$")
        dave.send("/help frob")
        dave.expect(r"^There is no /frob command; /help lists them\.$")
        dave.close()


def test_help_before_the_nickname_tells_more_too() -> None:
    with running_server() as server:
        dave = LineClient(server.port)
        dave.expect_text("nickname? ")
        dave.send("/help msg")
        dave.expect(r"^/msg nick text$")
        dave.expect(r"^  Send a private message: only nick sees it\.$")
        dave.expect_text("What's your nickname? ")
        dave.close()


@pytest.mark.parametrize("command", sorted(set(re.findall(r"(?<![/\w])/([a-z]+)", help_text()))))
def test_every_command_in_the_list_has_details(command: str) -> None:
    usage, _, details = help_text(command).partition("\n  ")
    assert usage.startswith("/") and f"/{command}" in usage and details, help_text(command)


def test_help_and_help_command_in_the_client() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/help")
            await alice.screen.expect(HELP_END)
            shown = alice.screen.lines[alice.screen.lines.index(help_text().splitlines()[0]) :]
            assert len(shown) <= 15
            await alice.say("/help topic")
            await alice.screen.expect(r"^/topic \[#room\] \[text\]$")
            await alice.screen.expect(r"^  Show a room's topic, or set it")
            await alice.say("quit")
            assert await alice.exit_code() == 0

    run(main)


# -- /msg ----------------------------------------------------------------------


def test_msg_on_nc_confirms_the_message_as_sent() -> None:
    with running_server() as server:
        bob = LineClient(server.port).register("bob")
        dave = person(server, "dave")
        dave.send("/msg bob see you at  noon")
        bob.expect(r"^:dave!\S+ PRIVMSG bob :see you at  noon$")
        dave.expect(r"^-> bob: see you at  noon$")
        dave.close()
        bob.close()


def test_msg_in_the_client_shows_the_message_as_sent_not_the_command() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            await alice.client.send_typed("/msg bob just for you", echo=True)
            await blocking(bob.expect, r"^:alice!\S+ PRIVMSG bob :just for you$")
            await alice.screen.expect(r"^-> bob: just for you$")
            assert not any("/msg" in line for line in alice.screen.lines)
            await alice.client.send_typed("/msg bob", echo=True)  # no text: the usage
            await alice.screen.expect(r"^Usage: /msg nick text$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


# -- message times -----------------------------------------------------------------


def test_client_shows_local_hh_mm_before_messages_when_the_server_sends_times() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server, show_time=True)).start(room=None)
            await alice.screen.expect(r"^\d\d:\d\d You joined #lobby\.$")
            bob.send("PRIVMSG #lobby :what time is it?")
            said = await alice.screen.expect(r"^(\d\d:\d\d) bob says: what time is it\?$")
            assert said.group(1) in local_times_around_now()
            await alice.client.send_typed("tea time", echo=True)
            typed = await alice.screen.expect(r"^(\d\d:\d\d) You \(alice\): tea time$")
            assert typed.group(1) in local_times_around_now()
            bob.send("PRIVMSG alice :psst")
            await alice.screen.expect(r"^\d\d:\d\d bob \(private\) says: psst$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_client_without_times_and_nc_people_see_none() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            alice = await RunningClient(client_options(server, show_time=False)).start()
            dave = await blocking(person, server, "dave")
            bob.send("PRIVMSG #lobby :no clocks here")
            await alice.screen.expect(r"^bob says: no clocks here$")
            await blocking(dave.expect, r"^bob says: no clocks here$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            dave.close()
            bob.close()

    run(main)
