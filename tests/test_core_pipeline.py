"""One path for every line, one time and one msgid per message, replies in command order."""

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.core.chat import parse_line
from tcpchat.passwords import hash_password
from tcpchat.protocol import ProtocolError, parse

from core_harness import make_core, register
from net_harness import LineClient, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


# ------------------------------------------------------------ one path


@given(st.text(alphabet="PRIVMSG :#ab c\r\n\x00é@", max_size=30))
def test_the_privmsg_shortcut_parses_exactly_as_the_parser(text):
    try:
        expected = parse(text)
    except ProtocolError:
        expected = None
    try:
        got = parse_line(text)
    except ProtocolError:
        got = None
    assert got == expected


@given(st.from_regex(r"PRIVMSG [^ \r\n\x00]{1,8}( :[^\r\n\x00]*)?", fullmatch=True))
def test_the_privmsg_shortcut_agrees_on_privmsg_lines(text):
    assert parse_line(text) == parse(text)


def normalized(lines: list[str]) -> list[str]:
    return [re.sub(r"msgid=[^; ]+", "msgid=X", line) for line in lines]


LINES = [
    "PRIVMSG bob :hi",
    "PRIVMSG #room :hi all",
    "PRIVMSG bob,#room :both",
    "PRIVMSG nobody :hello?",
    "NOTICE bob :psst",
    "TOPIC #room :a topic",
    "MODE #room +v bob",
    "WHO #room",
    "NAMES #room",
    "AWAY :lunch",
    "KICK #room bob :out",
    "PART #room",
    "PING token",
]


def test_every_command_answers_the_same_in_any_case():
    for line in LINES:
        outputs = []
        for how in (str.upper, str.lower):
            core = make_core()
            alice = register(core, "alice", "echo-message", "message-tags")
            bob = register(core, "bob")
            alice.send("JOIN #room")
            bob.send("JOIN #room")
            alice.take(), bob.take()
            word, _, rest = line.partition(" ")
            alice.send(f"{how(word)} {rest}")
            outputs.append((normalized(alice.take_raw()), normalized(bob.take_raw())))
        assert outputs[0] == outputs[1], line


def test_targets_per_message_applies_to_every_spelling():
    core = make_core(targets_per_message=1)
    alice, bob, carol = register(core, "alice"), register(core, "bob"), register(core, "carol")
    for command in ("PRIVMSG", "privmsg", "PrivMsg"):
        alice.send(f"{command} bob,carol :x")
        assert [m.command for m in alice.take()] == ["407"], command
        assert bob.take() == [] and carol.take() == []
        alice.send(f"{command} bob :x")
        assert [m.params for m in bob.take()] == [["bob", "x"]], command


# ---------------------------------------------------- one time, one msgid


def test_every_recipient_of_a_message_gets_the_same_time_and_msgid():
    ticks = itertools.count(1_700_000_000, 0.25)
    core = make_core()
    core.clock = lambda: next(ticks)  # the clock moves on at every reading
    caps = ("server-time", "message-tags", "echo-message")
    peers = [register(core, nick, *caps) for nick in ("alice", "bob", "carol")]
    plain = register(core, "dave", "server-time")
    for peer in [*peers, plain]:
        peer.send("JOIN #room")
    for peer in [*peers, plain]:
        peer.take()
    peers[0].send("PRIVMSG #room :one time for all")
    copies = [peer.take()[0] for peer in [*peers, plain]]
    assert {m.tags["time"] for m in copies} == {copies[0].tags["time"]}
    assert {m.tags["msgid"] for m in copies[:3]} == {copies[0].tags["msgid"]}
    assert "msgid" not in copies[3].tags  # dave did not ask for message-tags
    peers[0].send("PRIVMSG #room :another")
    assert peers[1].take()[0].tags["msgid"] != copies[0].tags["msgid"]


# ---------------------------------------------------------- command order


def test_replies_keep_the_order_of_commands_when_oper_finishes_later():
    """OPER's password check runs on a worker thread; the PING after it waits its turn."""
    with running_server(operators={"root": ROOT_HASH}) as server:
        client = LineClient(server.port).register("admin")
        client.send("OPER root hunter2", "PING :first", "JOIN #ops", "PING :second")
        replies = [client.expect(r" (381|PONG|JOIN|366) ").group(1) for _ in range(5)]
        assert replies == ["381", "PONG", "JOIN", "366", "PONG"]
        assert client.seen[-1].endswith(":second")

        other = LineClient(server.port).register("guesser")
        other.send("OPER root wrong", "PING :after")
        assert [other.expect(r" (464|PONG) ").group(1) for _ in range(2)] == ["464", "PONG"]
