"""The quick lane for `PRIVMSG target :text` (handlers/messaging.py, quick_message)
must be invisible: every line, sent to a core that takes it and to one that never does,
has to give the very same bytes to everyone, and the same counts.

Both cores run on one clock and one msgid origin, so msgids and times agree too.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import tcpchat.core.chat as chat
from tcpchat.core import ChatCore, Session

from core_harness import Peer, make_core

# (nick, caps): plain, with echo-message and tags, with server-time alone, and a fourth
# who only ever joins and leaves.
PEOPLE = [
    ("alice", ()),
    ("bob", ("echo-message", "message-tags", "server-time", "account-tag")),
    ("carol", ("server-time",)),
    ("Dave[1]", ()),
]
TARGETS = ["bob", "BOB", "Bob", "alice", "carol", "dave{1}", "Dave[1]", "nobody", "#room",
           "@#room", "+#room", "bob,carol", "bob carol", ":bob", ""]  # fmt: skip
TEXTS = ["hi", "", " spaced out ", ":colon", "a\0b", "ünïcödé", "a\rb", "x" * 600]
OTHER_LINES = [
    "AWAY :lunch", "AWAY", "NICK bob", "NICK Bobby", "NICK carol2", "NICK carol",
    "privmsg bob :lower case", "PRIVMSG bob hi", "PRIVMSG bob", "PRIVMSG",
    "NOTICE bob :a notice", "@+draft/reply=1 PRIVMSG bob :tagged", "TAGMSG bob",
    "JOIN #other", "PRIVMSG #other :elsewhere",
]  # fmt: skip
# Who may speak in #room (alice, its first member, is its operator): moderated, open to
# outsiders, banned, voiced; and people leaving and coming back.
ROOM_CHANGES = [
    "MODE #room +m", "MODE #room -m", "MODE #room -n", "MODE #room +n", "MODE #room +v carol",
    "MODE #room -v carol", "MODE #room +b carol!*@*", "MODE #room -b carol!*@*",
    "MODE #room +o bob", "PART #room", "JOIN #room",
]  # fmt: skip
ROOM_MESSAGES = ["PRIVMSG #room :to the room", "PRIVMSG #ROOM :in capitals"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def two_cores() -> tuple[ChatCore, ChatCore, list[Peer], list[Peer], Clock]:
    """A core that takes the quick lane and one that does not, with the same people."""
    clock = Clock()
    cores = []
    peers: list[list[Peer]] = []
    for _ in range(2):
        core = make_core()
        core.clock = clock
        core.msgid_origin = "origin-"
        cores.append(core)
        mine = []
        for nick, caps in PEOPLE:
            peer = Peer(core)
            if caps:
                peer.send("CAP LS 302", "CAP REQ :" + " ".join(caps), "CAP END")
            peer.send(f"NICK {nick}", f"USER {nick[:4].lower()} 0 * :{nick}", "JOIN #room")
            assert peer.session.registered
            mine.append(peer)
        peers.append(mine)
    return cores[0], cores[1], peers[0], peers[1], clock


class Lane:
    """The quick lane, turned off for the cores in `without`, counting how often it is
    taken (so a test can tell it was), for as long as the `with` lasts."""

    def __init__(self) -> None:
        self.without: list[ChatCore] = []
        self.taken = 0
        self.quick = chat.quick_message

    def __call__(self, core: ChatCore, session: Session, raw: bytes) -> bool:
        taken = core not in self.without and self.quick(core, session, raw)
        self.taken += taken
        return taken

    def __enter__(self) -> Lane:
        chat.quick_message = self
        return self

    def __exit__(self, *exc: object) -> None:
        chat.quick_message = self.quick


def lines() -> st.SearchStrategy[bytes]:
    message = st.builds(
        lambda target, text: f"PRIVMSG {target} :{text}".encode(),
        st.sampled_from(TARGETS),
        st.sampled_from(TEXTS),
    )
    raw = st.sampled_from([b"PRIVMSG bob :\xff\xfe latin", b"PRIVMSG b\xe9b :hi"])
    room = st.sampled_from(ROOM_CHANGES + ROOM_MESSAGES * 3).map(str.encode)
    other = st.sampled_from(OTHER_LINES).map(str.encode)
    return st.one_of(message, message, room, room, other, raw)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, len(PEOPLE) - 1), lines()), max_size=30))
def test_every_line_gives_the_same_bytes_with_the_quick_lane_and_without(
    steps: list[tuple[int, bytes]],
) -> None:
    quick, reference, quick_peers, reference_peers, clock = two_cores()
    with Lane() as lane:
        lane.without.append(reference)
        compare(quick_peers, reference_peers, clock, steps)
    assert quick.lines_in == reference.lines_in
    assert quick.handler_failures == reference.handler_failures == 0


def compare(
    quick_peers: list[Peer], reference_peers: list[Peer], clock: Clock,
    steps: list[tuple[int, bytes]],
) -> None:
    """Each step's line to both cores; then everyone's bytes must be the same."""
    for peer in quick_peers + reference_peers:
        peer.take_raw()
    for who, line in steps:
        clock.now += 0.25
        quick_peers[who].send(line)
        reference_peers[who].send(line)
        for mine, theirs in zip(quick_peers, reference_peers, strict=True):
            assert mine.take_raw() == theirs.take_raw(), (who, line)
            assert mine.session.last_spoke == theirs.session.last_spoke


def test_plain_messages_take_the_quick_lane() -> None:
    """So the test above compares something: the lane is taken for the usual line, and
    what it delivers is what a client expects."""
    core = make_core()
    alice, bob = Peer(core), Peer(core)
    for peer, nick in ((alice, "alice"), (bob, "bob")):
        peer.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        peer.take_raw()
    with Lane() as lane:
        alice.send("PRIVMSG BOB :hello there")
    assert lane.taken == 1
    assert bob.take_raw() == [":alice!alice@127.0.0.1 PRIVMSG bob :hello there"]
    assert alice.take_raw() == []
    bob.send("AWAY :out")
    bob.take_raw()
    with Lane() as lane:
        alice.send("PRIVMSG bob :still there?")  # away: the one path answers 301
    assert lane.taken == 0
    assert [line.split(" ")[1] for line in alice.take_raw()] == ["301"]
    alice.send("JOIN #room")
    bob.send("JOIN #Room")
    alice.take_raw(), bob.take_raw()
    with Lane() as lane:
        bob.send("PRIVMSG #ROOM :to the room")
    assert lane.taken == 1
    assert alice.take_raw() == [":bob!bob@127.0.0.1 PRIVMSG #room :to the room"]
    alice.send("MODE #room +m")
    alice.take_raw(), bob.take_raw()
    with Lane() as lane:
        bob.send("PRIVMSG #room :hush")  # moderated: the one path answers 404
    assert lane.taken == 0
    assert [line.split(" ")[1] for line in bob.take_raw()] == ["404"]
