"""SASL in the sans-IO core, where time and worker threads are ours to drive: the pause after
a failure ends, a crowd of logins waits its turn instead of being refused, a name that is no
account looks like one that is, and account-tag reaches multiline messages."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from tcpchat.accounts.scram import derive_keys
from tcpchat.store.accounts import Account

from core_harness import Peer, make_core, register


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(name: str, password: str) -> str:
    return "AUTHENTICATE " + b64(f"\0{name}\0{password}".encode())


def with_account(core, name: str = "alice", password: str = "pw") -> None:
    account = Account(name.lower(), name, None, derive_keys(password), time.time())
    done: list[bool] = []
    core.accounts.create(account, done.append)
    assert done == [True]


def start_login(core, nick: str) -> Peer:
    peer = Peer(core)
    peer.send("CAP LS 302", "CAP REQ :sasl", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    peer.send("AUTHENTICATE PLAIN")
    peer.take()
    return peer


def replies(peer: Peer) -> list[str]:
    return [f"{m.command} {m.params[-1]}" for m in peer.take()]


def test_the_pause_after_a_failure_ends_and_the_right_password_then_works():
    now = [1000.0]
    core = make_core()
    core.clock = lambda: now[0]
    with_account(core)
    alice = start_login(core, "alice")
    alice.send(plain("alice", "wrong"))
    assert replies(alice) == ["904 SASL authentication failed: wrong account name or password"]
    alice.send("AUTHENTICATE PLAIN", plain("alice", "pw"))
    assert replies(alice)[-1].startswith("904 SASL authentication failed: too many attempts")
    now[0] += core.password_gate.retry_delay
    alice.send("AUTHENTICATE PLAIN", plain("alice", "pw"))
    assert replies(alice)[-2:] == [
        "900 You are now logged in as alice", "903 SASL authentication successful"
    ]  # fmt: skip


def test_a_crowd_of_logins_waits_its_turn_few_at_once_and_none_is_refused():
    core = make_core()
    with_account(core)
    pending: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []
    core.run_blocking = lambda work, done: pending.append((work, done))  # worker threads, held
    crowd = [start_login(core, f"user{i}") for i in range(7)]
    for peer in crowd:
        peer.send(plain("alice", "pw"), "CAP END")
    gate = core.password_gate
    assert len(pending) == gate.at_once == len(gate.checking)
    assert len(gate.waiting) == 3
    crowd[-1].session.sink.close()
    core.disconnect(crowd[-1].session)  # one of those waiting leaves: it never runs
    assert len(gate.waiting) == 2
    crowd[0].session.sink.close()
    core.disconnect(crowd[0].session)  # one being checked leaves: the next may start
    assert len(pending) == gate.at_once + 1
    while pending:
        work, done = pending.pop(0)
        done(work())
    for peer in crowd[1:-1]:
        got = replies(peer)
        assert "903 SASL authentication successful" in got, got
        assert got[-1].startswith("376 ") or got[-1].startswith("422 ")  # registered after
    assert not gate.checking and not gate.waiting


def test_an_unknown_name_gets_a_challenge_like_a_real_account_the_same_each_time():
    core = make_core(password_iterations=5000)
    with_account(core, "alice")

    def challenge(name: str) -> dict[str, str]:
        peer = Peer(core)
        peer.send("CAP REQ :sasl", "AUTHENTICATE SCRAM-SHA-256")
        peer.take()
        peer.send(f"AUTHENTICATE {b64(f'n,,n={name},r=abc'.encode())}")
        [line] = peer.take()
        message = base64.b64decode(line.params[0]).decode()
        return dict(part.split("=", 1) for part in message.split(","))

    first, again = challenge("nobody"), challenge("nobody")
    assert first["s"] == again["s"] and first["r"] != again["r"]
    assert first["i"] == "5000" and len(base64.b64decode(first["s"])) == 16
    assert challenge("somebody")["s"] != first["s"]


def test_account_tag_goes_on_a_multiline_message_for_those_who_asked():
    core = make_core()
    with_account(core)
    alice = register(core, "alice", "sasl", "batch", "draft/multiline")
    alice.send("AUTHENTICATE PLAIN", plain("alice", "pw"))
    tagged = register(core, "tagged", "account-tag", "batch", "draft/multiline")
    lines = register(core, "lines", "account-tag")
    untagged = register(core, "untagged")
    for peer in (alice, tagged, lines, untagged):
        peer.send("JOIN #room")
    for peer in (alice, tagged, lines, untagged):
        peer.take()
    alice.send(
        "BATCH +m draft/multiline #room",
        "@batch=m PRIVMSG #room :one",
        "@batch=m PRIVMSG #room :two",
        "BATCH -m",
    )
    batch = tagged.take_raw()
    assert batch[0].startswith("@account=alice :alice!") and " BATCH +" in batch[0]
    assert all(line.startswith("@account=alice :") for line in lines.take_raw())
    assert not any(line.startswith("@") for line in untagged.take_raw())
