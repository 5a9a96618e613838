"""Accounts and nick ownership in the sans-IO core, on a clock the test moves: the grace to
the second, logging in during it, a grace of 0, guest nicks that fit NICKLEN, REGAIN from
someone still connecting, and the sweep interval the server derives from nick_grace."""

from __future__ import annotations

import asyncio
import re

from tcpchat.config import Settings
from tcpchat.core import ChatCore
from tcpchat.core.handlers.login import log_in
from tcpchat.edge.server import ChatServer

from core_harness import Peer, register


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def core_with(clock: Clock, **settings: object) -> ChatCore:
    return ChatCore(Settings().updated(settings), clock=clock)


def owner(core: ChatCore, nick: str) -> Peer:
    """An account named `nick`, its owner logged in and gone to another nick."""
    peer = register(core, nick)
    peer.send("REGISTER * * :correct horse")
    assert "REGISTER SUCCESS" in " ".join(peer.take_raw())
    peer.send(f"NICK {nick}_")
    peer.take()
    return peer


def test_the_grace_lasts_nick_grace_seconds_to_the_sweep() -> None:
    clock = Clock()
    core = core_with(clock, nick_grace=30)
    owner(core, "alice")
    mallory = register(core, "mallory")
    mallory.send("NICK alice")
    assert [m.command for m in mallory.take()] == ["NICK", "NOTICE"]
    clock.now += 29.9
    core.sweep()
    assert mallory.take() == []
    clock.now += 0.2
    core.sweep()
    renamed, told = mallory.take()
    assert renamed.command == "NICK" and re.fullmatch(r"Guest\d{5}", renamed.params[0])
    assert told.command == "NOTICE" and "did not log in within 30 seconds" in told.params[1]
    assert core.nick_graces == {}


def test_logging_in_during_the_grace_keeps_the_nick() -> None:
    clock = Clock()
    core = core_with(clock, nick_grace=30)
    owner(core, "alice")
    returning = register(core, "alice")  # registered in the grace already
    assert returning.user.uid in core.nick_graces
    found: list = []
    core.accounts.get("alice", found.append)  # as SASL would, once the password checks out
    log_in(core, returning.session, found[0])
    assert core.nick_graces == {}
    clock.now += 60
    core.sweep()
    assert [m.command for m in returning.take()] == ["900"]
    assert returning.user.nick == "alice"


def test_a_grace_of_zero_renames_at_once() -> None:
    core = core_with(Clock(), nick_grace=0)
    owner(core, "alice")
    mallory = register(core, "mallory")
    mallory.send("NICK alice")
    first, renamed, told = mallory.take()
    assert (first.command, first.params) == ("NICK", ["alice"])
    assert renamed.command == "NICK" and renamed.params[0].startswith("Guest")
    assert told.params[1].endswith(": the nick alice belongs to an account.")


def test_guest_nicks_fit_the_shortest_nicklen_and_are_never_an_account() -> None:
    core = core_with(Clock(), nick_grace=0, nick_length=9)
    owner(core, "alice")
    for number in range(30):
        intruder = register(core, f"intr{number}")
        intruder.send("NICK alice")
        nick = intruder.user.nick
        assert re.fullmatch(r"Guest\d{4}", nick), nick
    assert len({user.nick for user in core.state.all_users()}) == 31


def test_regain_from_someone_still_connecting_welcomes_them_with_a_guest_nick() -> None:
    core = core_with(Clock(), nick_grace=30)
    alice = owner(core, "alice")
    connecting = Peer(core)
    connecting.send("NICK alice")
    alice.send("REGAIN")
    assert [m.command for m in alice.take()] == ["NICK"]
    assert alice.user.nick == "alice"
    connecting.send("USER m 0 * :M")
    welcome = connecting.take()[0]
    assert welcome.command == "001" and welcome.params[0].startswith("Guest")


def test_the_sweep_runs_often_enough_for_the_grace() -> None:
    async def interval(**settings: object) -> float:
        return ChatServer(Settings().updated(settings)).sweep_interval

    assert asyncio.run(interval(nick_grace=30)) == 5.0
    assert asyncio.run(interval(nick_grace=2)) == 0.5
    assert asyncio.run(interval(nick_grace=0)) == 5.0  # 0 renames at once, without the sweep


def test_registering_midway_through_sasl_ends_the_exchange() -> None:
    """AUTHENTICATE PLAIN, then REGISTER instead of the credentials: the exchange is aborted
    (906) before the login (900), so finishing it later cannot log in a second time."""
    core = core_with(Clock())
    peer = register(core, "carol", "sasl")
    peer.send("AUTHENTICATE PLAIN")
    assert peer.commands() == ["AUTHENTICATE"]
    peer.send("REGISTER * * :correct horse")
    replies = [m.command for m in peer.take()]
    assert replies[:3] == ["REGISTER", "906", "900"], replies
    assert peer.session.sasl is None and peer.user.account == "carol"
