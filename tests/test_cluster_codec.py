"""The bus's encoding: every kind of event, and a snapshot of the network, come back from
JSON equal to what went in (a node on the other side rebuilds the very same records)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.cluster import codec
from tcpchat.cluster.codec import decode_batch, decode_state, encode_batch, encode_state
from tcpchat.core.events import (
    EVENT_TYPES,
    AccountChanged,
    AwayChanged,
    ChannelModeChanged,
    ChannelRestored,
    HostChanged,
    Invited,
    Joined,
    Kicked,
    Killed,
    Knocked,
    MessageSent,
    ModeChange,
    MultilineSent,
    NickChanged,
    Parted,
    Quit,
    RealnameChanged,
    Registered,
    ServerTold,
    StatusMessageSent,
    StoreWritten,
    TopicSet,
    UserModeChanged,
    Wallops,
)
from tcpchat.core.model import Channel, User
from tcpchat.store.accounts import RegisteredChannel

T = 1764670000.25


def alice() -> User:
    user = User("a1.1", "10.0.0.1", "Alice", "al", "Alice Liddell", frozenset("iw"), "lunch",
                "alice", "", T, T)  # fmt: skip
    user.refresh_source()
    return user


MESSAGE = MessageSent(T, "origin-", 7, "PRIVMSG", "a1.1", "Alice!al@h", "#Room", "#room",
                      None, "héllo\x02 wörld", {"+draft/reply": "x1"}, True)  # fmt: skip

EVERY_KIND = [
    Registered(T, alice()),
    MESSAGE,
    MultilineSent(T, "o-", 8, "PRIVMSG", "a1.1", "A!a@h", "bob", None, "b2.1",
                  (("one", False), ("two", True)), None, False),  # fmt: skip
    Joined(T, "a1.1", "A!a@h", "#Room", "#room", "o"),
    Parted(T, "a1.1", "A!a@h", "#Room", "#room", "bye"),
    Kicked(T, "a1.1", "A!a@h", "#Room", "#room", "b2.1", "bob", "out"),
    Quit(T, "a1.1", "A!a@h", "*.net *.split", ("#room", "#two")),
    NickChanged(T, "a1.1", "A!a@h", "Alicia"),
    TopicSet(T, "a1.1", "A!a@h", "#Room", "#room", "a topic"),
    ChannelModeChanged(T, "a1.1", "A!a@h", "#Room", "#room",
                       (ModeChange(True, "o", "bob", "b2.1"), ModeChange(False, "k", "s"),
                        ModeChange(True, "b", "*!*@evil"))),  # fmt: skip
    UserModeChanged(T, "a1.1", "A!a@h", "A", (ModeChange(True, "i"),)),
    Invited(T, "a1.1", "A!a@h", "b2.1", "bob", "#Room", "#room"),
    AwayChanged(T, "a1.1", "A!a@h", None),
    Killed(T, "a1.1", "A!a@h", "b2.1", "bob", "spam"),
    HostChanged(T, "a1.1", "A!a@h", "x", "y.example"),
    RealnameChanged(T, "a1.1", "A!a@h", "New Name"),
    StatusMessageSent(T, "o", MESSAGE),
    Knocked(T, "a1.1", "A!a@h", "#Room", "#room", "let me in"),
    Wallops(T, "a1.1", "A!a@h", "hear ye"),
    AccountChanged(T, "a1.1", "A!a@h", "alice"),
    ServerTold(T, "a1.1", "901", ("A!a@h", "You are now logged out")),
    ChannelRestored(T, "#Room", "#room",
                    RegisteredChannel("#room", "#Room", "alice", T, "kept", "A", T, "nt", "k",
                                      5, (("b", "*!*@x", "A", T),), {"bob": "v"})),  # fmt: skip
    StoreWritten(T, (("UPDATE accounts SET salt = ? WHERE folded = ?", [b"\x00\xffk", "al"]),
                     ("DELETE FROM certfps WHERE account = ?", ["al"]))),  # fmt: skip
]


def test_every_kind_of_event_comes_back_equal():
    assert {type(event) for event in EVERY_KIND} == set(EVENT_TYPES)
    back = decode_batch(encode_batch(EVERY_KIND, "3"))
    for sent, received in zip(EVERY_KIND, back, strict=True):
        assert type(received) is type(sent)
        if isinstance(sent, Registered):
            user = received.user
            assert (user.uid, user.nick, user.user, user.host, user.realname, user.modes,
                    user.away, user.account, user.signon, user.source) == (
                "a1.1", "Alice", "al", "10.0.0.1", "Alice Liddell", frozenset("iw"), "lunch",
                "alice", T, "Alice!al@10.0.0.1")  # fmt: skip
            assert user.node == "3"  # a user of the sending node is that node's
            assert not user.registered  # the receiving state registers them
        else:
            assert received == sent
    assert back[1].msgid == MESSAGE.msgid


def test_a_snapshot_of_users_and_channels_comes_back_equal():
    user = alice()
    user.node = "5"  # someone the answering node knows of on a third node
    room = Channel("#Room", "#room", T, members={"a1.1": "o", "b2.1": ""}, topic="t",
                   topic_setter="A!a@h", topic_time=T, modes=frozenset("nt"), key="k",
                   limit=9, invited={"c3.1"})  # fmt: skip
    room.bans["*!*@evil"] = ("A!a@h", T)
    room.invex["*!*@friend"] = ("A!a@h", T)
    store = [("INSERT INTO accounts VALUES (?, ?, ?)", ["al", b"\x01\x02", None])]
    users, channels, kept = decode_state(encode_state([user], [room], "2", store))
    assert kept == store
    assert users[0].node == "5" and users[0].nick == "Alice" and users[0].modes == user.modes
    got = channels[0]
    assert (got.name, got.folded, got.members, got.topic, got.modes, got.key, got.limit,
            got.bans, got.excepts, got.invex, got.invited) == (
        "#Room", "#room", {"a1.1": "o", "b2.1": ""}, "t", frozenset("nt"), "k", 9,
        room.bans, {}, room.invex, {"c3.1"})  # fmt: skip


# Any text a message may hold, and what orjson refuses: a lone surrogate (json escapes it).
TEXTS = st.text() | st.just("half a pair: \ud800 then")


@given(text=TEXTS, tags=st.none() | st.dictionaries(st.just("+draft/reply"), st.text()))
def test_any_message_comes_back_equal(text: str, tags: dict[str, str] | None) -> None:
    sent = MESSAGE._replace(text=text, tags=tags)
    assert decode_batch(encode_batch([sent], "1")) == [sent]


@pytest.mark.parametrize("writer_has_orjson", [True, False])
def test_nodes_with_and_without_orjson_read_each_other(
    monkeypatch: pytest.MonkeyPatch, writer_has_orjson: bool
) -> None:
    """orjson is the cluster extra's; a node without it (redis-py installed by hand) uses
    the standard library's json, and the two must share one bus."""
    assert codec.orjson is not None, "the test extra installs orjson"
    real = codec.orjson
    if not writer_has_orjson:
        monkeypatch.setattr(codec, "orjson", None)
    batch = encode_batch(EVERY_KIND, "3")
    monkeypatch.setattr(codec, "orjson", None if writer_has_orjson else real)
    back = decode_batch(batch)
    assert [type(event) for event in back] == [type(event) for event in EVERY_KIND]
    assert back[1:] == EVERY_KIND[1:]  # the first, a Registered, holds a User made anew
