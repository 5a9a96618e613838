"""CHATHISTORY (IRCv3 draft/chathistory) against real servers with real data directories: what
a client gets back is what was delivered (same bytes, msgid and time), even after `kill -9`;
paging never skips or repeats; only one's own channels and conversations can be read."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.core.handlers.chathistory import SUBCOMMANDS, Refusal, parse

from net_harness import LineClient, running_server, start_server_process
from sasl_harness import add_account, plain_login

ROOT = Path(__file__).resolve().parent.parent
CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")
EVENTS = (*CAPS, "draft/event-playback")
LIVE = ("server-time", "message-tags")  # a recipient's view of messages as they come
PAST = "timestamp=2000-01-01T00:00:00.000Z"
FUTURE = "timestamp=2099-01-01T00:00:00.000Z"


@pytest.fixture
def server(tmp_path) -> Iterator:
    with running_server(data_dir=str(tmp_path), flood_rate=0.0) as running:
        yield running


def unbatched(line: str, ref: str) -> str:
    """`line` without its `batch=ref` tag: as it would have come outside the batch (a line
    of a batch nested in it keeps its own)."""
    if line.startswith(f"@batch={ref};"):
        return "@" + line[len(f"@batch={ref};") :]
    if line.startswith(f"@batch={ref} "):
        return line[len(f"@batch={ref} ") :]
    assert line.startswith("@batch="), line
    return line


def batch(client: LineClient, request: str, kind: str = "chathistory") -> list[str]:
    """Send `request`; the lines of the batch that answers it, without their batch tag."""
    client.send(request)
    ref = client.expect(rf"^(?:@\S+ )?:\S+ BATCH \+(\S+) {re.escape(kind)}\b").group(1)
    lines = []
    while True:
        line = client.readline()
        if re.match(rf"^:\S+ BATCH -{ref}$", line):
            return [unbatched(line, ref) for line in lines]
        lines.append(line)


def fail(client: LineClient, request: str) -> str:
    client.send(request)
    return client.expect(r"^(?:@\S+ )?:\S+ FAIL CHATHISTORY ").string


def msgids(lines: list[str]) -> list[str]:
    return [re.search(r"msgid=([^; ]+)", line).group(1) for line in lines]  # type: ignore[union-attr]


def texts(lines: list[str]) -> list[str]:
    """The last parameter of each line (a message's text)."""
    return [re.sub(r"^@\S+ ", "", line).split(" :", 1)[1] for line in lines]


def time_tag(line: str) -> str:
    return re.search(r"time=([^; ]+)", line).group(1)  # type: ignore[union-attr]


def joined(port: int, nick: str, caps: tuple[str, ...], *rooms: str) -> LineClient:
    client = LineClient(port).register(nick, caps)
    for room in rooms:
        client.send(f"JOIN {room}")
        client.expect(rf" 366 {nick} {re.escape(room)} ")
    return client


def say(sender: LineClient, hearer: LineClient, target: str, count: int, text: str = "line"):
    """`count` numbered lines from `sender`; what `hearer` received of them, in order."""
    sender.send(*(f"PRIVMSG {target} :{text} {i}" for i in range(count)))
    return [hearer.expect(rf" PRIVMSG \S+ :{text} {i}$").string for i in range(count)]


# ----------------------------------------------------------------- kill -9


def start_process(data_dir: Path, config: Path) -> tuple[subprocess.Popen, int]:
    return start_server_process(
        "--host", "127.0.0.1", "--data-dir", str(data_dir), "--config", str(config)
    )


def test_a_thousand_lines_survive_kill_9_byte_for_byte(tmp_path):
    config = tmp_path / "fast.toml"
    config.write_text("flood_rate = 0.0\n")
    data_dir = tmp_path / "data"
    proc, port = start_process(data_dir, config)
    try:
        alice = joined(port, "alice", (), "#room")
        bob = joined(port, "bob", LIVE, "#room")
        received = say(alice, bob, "#room", 1000)
        proc.send_signal(signal.SIGKILL)  # the moment the last line arrived
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    proc, port = start_process(data_dir, config)
    try:
        carol = joined(port, "carol", CAPS, "#room")
        replayed = batch(carol, "CHATHISTORY LATEST #room * 1000")
        assert replayed == received  # same order, msgids, times and bytes
        assert len(set(msgids(replayed))) == 1000
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


# ---------------------------------------------------------------- paging


def test_paging_by_msgid_both_ways_never_skips_or_repeats(server):
    alice = joined(server.port, "alice", CAPS, "#room")
    bob = joined(server.port, "bob", LIVE, "#room")
    received = say(alice, bob, "#room", 250)
    wanted = msgids(received)

    backwards: list[str] = []
    page = batch(alice, "CHATHISTORY LATEST #room * 50")
    while page:
        assert len(page) == 50
        backwards[:0] = msgids(page)
        page = batch(alice, f"CHATHISTORY BEFORE #room msgid={msgids(page)[0]} 50")
    assert backwards == wanted

    forwards: list[str] = []
    page = batch(alice, f"CHATHISTORY AFTER #room {PAST} 50")
    while page:
        forwards += msgids(page)
        page = batch(alice, f"CHATHISTORY AFTER #room msgid={msgids(page)[-1]} 50")
    assert forwards == wanted

    last = batch(alice, f"CHATHISTORY LATEST #room msgid={wanted[240]} 100")
    assert msgids(last) == wanted[241:]
    assert batch(alice, "CHATHISTORY LATEST #room * 3") == received[-3:]


def test_around_and_between_in_both_directions(server):
    alice = joined(server.port, "alice", CAPS, "#room")
    bob = joined(server.port, "bob", LIVE, "#room")
    wanted = msgids(say(alice, bob, "#room", 60))

    around = batch(alice, f"CHATHISTORY AROUND #room msgid={wanted[30]} 11")
    assert msgids(around) == wanted[25:36]  # five before, the message, five after
    assert msgids(batch(alice, f"CHATHISTORY AROUND #room msgid={wanted[1]} 6")) == wanted[:6]
    assert msgids(batch(alice, f"CHATHISTORY AROUND #room msgid={wanted[58]} 6")) == wanted[54:]

    def between(first: int, second: int, limit: int) -> list[str]:
        request = f"BETWEEN #room msgid={wanted[first]} msgid={wanted[second]} {limit}"
        return msgids(batch(alice, "CHATHISTORY " + request))

    assert between(10, 20, 100) == wanted[11:20]  # both ends excluded
    assert between(20, 10, 100) == wanted[11:20]  # backwards: the same lines, oldest first
    assert between(10, 20, 3) == wanted[11:14]  # counted from the first reference
    assert between(20, 10, 3) == wanted[17:20]
    assert between(10, 10, 5) == [] and between(10, 11, 5) == []


def test_timestamps_bound_like_the_times_a_client_was_shown(server):
    alice = joined(server.port, "alice", CAPS, "#room")
    bob = joined(server.port, "bob", LIVE, "#room")
    received = []
    for round_ in range(6):  # several loop turns, so several milliseconds
        received += say(alice, bob, "#room", 10, f"round{round_}")
    times = [time_tag(line) for line in received]
    ids = msgids(received)
    pivot = times[len(times) // 2]

    def ask(request: str) -> list[str]:
        return msgids(batch(alice, "CHATHISTORY " + request))

    before = [m for m, t in zip(ids, times, strict=True) if t < pivot]
    after = [m for m, t in zip(ids, times, strict=True) if t > pivot]
    assert len(before) >= 5 and len(after) >= 5  # the rounds took several milliseconds
    assert ask(f"BEFORE #room timestamp={pivot} 100") == before
    assert ask(f"AFTER #room timestamp={pivot} 100") == after
    assert ask(f"LATEST #room timestamp={pivot} 100") == after
    assert ask(f"BEFORE #room timestamp={pivot} 2") == before[-2:]
    assert ask(f"AFTER #room timestamp={pivot} 2") == after[:2]
    assert ask(f"BETWEEN #room {PAST} timestamp={pivot} 100") == before
    assert ask(f"BETWEEN #room timestamp={pivot} {PAST} 3") == before[-3:]
    assert ask(f"BETWEEN #room timestamp={pivot} {FUTURE} 100") == after
    assert ask(f"BETWEEN #room {FUTURE} timestamp={pivot} 2") == after[-2:]
    around = ask(f"AROUND #room timestamp={pivot} 10")
    first_at = ids[times.index(pivot)]
    assert around == ids[ids.index(first_at) - 5 : ids.index(first_at) + 5]
    assert ask(f"AFTER #room {FUTURE} 10") == [] and ask(f"LATEST #room {FUTURE} 10") == []
    assert ask(f"BEFORE #room {FUTURE} 100") == ids and ask(f"BEFORE #room {PAST} 10") == []


# ------------------------------------------------- conversations and targets


def test_a_private_conversation_is_its_two_sides_own(server):
    alice = joined(server.port, "alice", CAPS)
    bob = joined(server.port, "bob", CAPS)
    carol = joined(server.port, "carol", CAPS)
    heard = say(alice, bob, "bob", 3, "to bob")
    heard += say(bob, alice, "alice", 2, "to alice")
    by_alice = batch(alice, "CHATHISTORY LATEST bob * 10")
    assert batch(bob, "CHATHISTORY LATEST ALICE * 10") == by_alice  # the same, both sides
    assert msgids(by_alice) == msgids(heard)
    assert texts(by_alice) == [
        "to bob 0", "to bob 1", "to bob 2", "to alice 0", "to alice 1"
    ]  # fmt: skip
    assert batch(carol, "CHATHISTORY LATEST alice * 10") == []  # not carol's conversation
    assert batch(carol, "CHATHISTORY LATEST bob * 10") == []
    assert "INVALID_TARGET" in fail(carol, "CHATHISTORY LATEST alice!bob * 10")

    bob.send("QUIT :bye")
    bob.expect_closed()
    assert batch(alice, "CHATHISTORY LATEST bob * 10") == by_alice  # bob offline: still hers
    alice.send("QUIT :bye")
    alice.expect_closed()
    # Someone else takes the nick: a conversation kept by nick is not theirs.
    eve = joined(server.port, "alice", CAPS)
    assert batch(eve, "CHATHISTORY LATEST bob * 10") == []
    assert batch(eve, f"CHATHISTORY AFTER bob {PAST} 10") == []
    assert batch(eve, f"CHATHISTORY AROUND bob msgid={msgids(heard)[2]} 10") == []
    targets = batch(eve, f"CHATHISTORY TARGETS {PAST} {FUTURE} 10", "draft/chathistory-targets")
    assert targets == []


def login(port: int, nick: str, account: str, password: str = "pw") -> LineClient:
    client = LineClient(port).register(nick, (*CAPS, "sasl"))
    plain_login(client, account, password)
    client.expect(r" 903 ")
    return client


def test_a_conversation_between_accounts_follows_the_accounts(tmp_path):
    add_account(tmp_path, "alice", "pw")
    add_account(tmp_path, "bob", "pw")
    with running_server(data_dir=str(tmp_path), flood_rate=0.0) as server:
        alice = login(server.port, "alice", "alice")
        bob = login(server.port, "bob", "bob")
        heard = say(alice, bob, "bob", 2, "signed")
        assert msgids(batch(bob, "CHATHISTORY LATEST alice * 10")) == msgids(heard)
        for client in (alice, bob):
            client.send("QUIT")
            client.expect_closed()
        # Back under another nick, logged in: the conversation is found by the account
        # or by the nick bob last had, though bob is offline.
        ally = login(server.port, "ally", "alice")
        assert msgids(batch(ally, "CHATHISTORY LATEST bob * 10")) == msgids(heard)
        targets = batch(
            ally, f"CHATHISTORY TARGETS {PAST} {FUTURE} 10", "draft/chathistory-targets"
        )
        assert [line.split(" ")[3] for line in targets] == ["bob"]
        # Not logged in, with alice's nick: nothing of hers.
        eve = joined(server.port, "alice", CAPS)
        assert batch(eve, "CHATHISTORY LATEST bob * 10") == []


def test_targets_finds_a_conversation_by_its_latest_line_however_recent(server):
    """A conversation's last time in the store is updated lazily; TARGETS still counts the
    line said a moment ago."""
    alice = joined(server.port, "alice", CAPS)
    bob = joined(server.port, "bob", CAPS)
    first = time_tag(say(bob, alice, "alice", 1, "first")[-1])
    latest = first
    while latest == first:  # a later millisecond
        latest = time_tag(say(bob, alice, "alice", 1, "again")[-1])
    lines = batch(alice, f"CHATHISTORY TARGETS timestamp={first} {FUTURE} 5",
                  "draft/chathistory-targets")  # fmt: skip
    assert [line.split(" ")[3:5] for line in lines] == [["bob", latest]]


def test_targets_lists_ones_channels_and_conversations_with_their_last_times(server):
    alice = joined(server.port, "alice", CAPS, "#room", "#other")
    bob = joined(server.port, "bob", CAPS, "#room")
    dave = joined(server.port, "dave", CAPS)
    alice.send("PRIVMSG #other :o")  # alice is not sent her own: its time is the store's
    last = {"#room": time_tag(say(bob, alice, "#room", 1, "r")[-1])}
    last["bob"] = time_tag(say(bob, alice, "alice", 1, "hi")[-1])
    last["dave"] = time_tag(say(dave, alice, "alice", 1, "yo")[-1])
    dave.send("QUIT")
    dave.expect_closed()

    def targets(client: LineClient, request: str) -> list[tuple[str, str]]:
        lines = batch(client, "CHATHISTORY TARGETS " + request, "draft/chathistory-targets")
        found = [line.split(" ") for line in lines]
        assert all(words[1:3] == ["CHATHISTORY", "TARGETS"] for words in found), lines
        return [(words[3], words[4]) for words in found]

    everything = targets(alice, f"{PAST} {FUTURE} 10")
    assert {name for name, _ in everything} == {"#other", "#room", "bob", "dave"}
    assert [when for _, when in everything] == sorted(when for _, when in everything)
    for name, when in last.items():
        assert dict(everything)[name] == when
    assert targets(alice, f"{PAST} {FUTURE} 2") == everything[:2]  # from the first time on
    assert targets(alice, f"{FUTURE} {PAST} 2") == everything[-2:]  # back from the first
    assert targets(alice, f"{FUTURE} {FUTURE} 5") == []
    assert {name for name, _ in targets(bob, f"{PAST} {FUTURE} 10")} == {"#room", "alice"}


# --------------------------------------------------------- what one is sent


def test_event_playback_adds_joins_topics_and_tagmsg_only_for_those_who_asked(server):
    alice = joined(server.port, "alice", EVENTS, "#ev")
    plain = joined(server.port, "plain", CAPS, "#ev")
    untagged = joined(server.port, "untagged", ("batch", "draft/event-playback"), "#ev")
    alice.send("TOPIC #ev :a topic", "PRIVMSG #ev :words", "@+draft/react=yes TAGMSG #ev")
    plain.expect(r" TAGMSG #ev$")
    carol = joined(server.port, "carol", (), "#ev")
    carol.send("PART #ev :gone")
    alice.expect(r" PART #ev :gone$")

    def commands(client: LineClient) -> list[str]:
        lines = batch(client, "CHATHISTORY LATEST #ev * 50")
        return [re.sub(r"^@\S+ ", "", line).split(" ")[1] for line in lines]

    assert commands(alice) == [
        "JOIN", "JOIN", "JOIN", "TOPIC", "PRIVMSG", "TAGMSG", "JOIN", "PART"
    ]  # fmt: skip
    assert commands(plain) == ["PRIVMSG"]
    assert commands(untagged) == ["JOIN", "JOIN", "JOIN", "TOPIC", "PRIVMSG", "JOIN", "PART"]


def test_without_batch_the_lines_come_alone_and_multiline_nests_only_when_asked(server):
    alice = joined(server.port, "alice", (*CAPS, "draft/multiline"), "#ml")
    bare = joined(server.port, "bare", ("server-time", "draft/chathistory"), "#ml")
    nested = joined(server.port, "nested", (*CAPS, "draft/multiline"), "#ml")
    alice.send(
        "BATCH +m draft/multiline #ml", "@batch=m PRIVMSG #ml :first",
        "@batch=m PRIVMSG #ml :second", "BATCH -m", "PRIVMSG #ml :single",
    )  # fmt: skip
    live = bare.expect(r" PRIVMSG #ml :first$").string
    bare.expect(r" PRIVMSG #ml :single$")

    bare.send("CHATHISTORY LATEST #ml * 10", "PING :end")
    got = []
    while not (line := bare.readline()).endswith("PONG tcpchat :end"):
        got.append(line)
    assert got[0] == live and texts(got) == [
        "first", "second", "single"
    ]  # fmt: skip
    assert not any("BATCH" in line or "batch=" in line for line in got)

    lines = batch(nested, "CHATHISTORY LATEST #ml * 10")
    assert re.match(r"^@\S+ :alice!\S+ BATCH \+(\S+) draft/multiline #ml$", lines[0])
    inner = lines[0].split(" BATCH +")[1].split(" ")[0]
    assert lines[1:4] == [
        f"@batch={inner} :alice!alice@127.0.0.1 PRIVMSG #ml :first",
        f"@batch={inner} :alice!alice@127.0.0.1 PRIVMSG #ml :second",
        f":alice!alice@127.0.0.1 BATCH -{inner}",
    ]
    assert lines[4].endswith(" PRIVMSG #ml :single")


def test_labeled_requests_get_their_label_on_the_batch_or_the_fail(server):
    alice = joined(server.port, "alice", (*CAPS, "labeled-response"), "#room")
    alice.send("PRIVMSG #room :one")
    alice.send("@label=full CHATHISTORY LATEST #room * 5")
    opening = alice.expect(r"BATCH \+").string
    assert opening.startswith("@label=full :") and opening.endswith(" chathistory #room")
    alice.expect(r" PRIVMSG #room :one$")
    alice.expect(r"^:\S+ BATCH -")
    alice.send(f"@label=empty CHATHISTORY AFTER #room {FUTURE} 5")
    ref = alice.expect(r"^@label=empty :\S+ BATCH \+(\S+) chathistory #room$").group(1)
    assert alice.readline().endswith(f" BATCH -{ref}")
    assert fail(alice, "@label=bad CHATHISTORY LATEST #room * x").startswith("@label=bad ")


# --------------------------------------------------------------- bad input


def test_bad_requests_get_the_specs_fail(server):
    alice = joined(server.port, "alice", CAPS, "#room")
    alice.send("PRIVMSG #room :hello")
    cases = {
        "CHATHISTORY": "INVALID_PARAMS * :",
        "CHATHISTORY FETCH #room * 10": "INVALID_PARAMS FETCH :",
        "CHATHISTORY LATEST #room *": "INVALID_PARAMS LATEST :",
        "CHATHISTORY LATEST #room * 10 extra": "INVALID_PARAMS LATEST :",
        "CHATHISTORY LATEST #room * 0": "INVALID_PARAMS LATEST 0 :",
        "CHATHISTORY LATEST #room * -1": "INVALID_PARAMS LATEST -1 :",
        "CHATHISTORY LATEST #room * ten": "INVALID_PARAMS LATEST ten :",
        "CHATHISTORY LATEST #room * 1.5": "INVALID_PARAMS LATEST 1.5 :",
        "CHATHISTORY BEFORE #room timestamp=yesterday 5": "INVALID_PARAMS BEFORE timestamp=yes",
        "CHATHISTORY BEFORE #room timestamp=2024-02-30T00:00:00.000Z 5": "INVALID_PARAMS BEFORE",
        "CHATHISTORY BEFORE #room timestamp=2024-01-01T00:00:00Z 5": "INVALID_PARAMS BEFORE",
        "CHATHISTORY AROUND #room timestamp=0000-01-01T00:00:00.000Z 5": "INVALID_PARAMS AROUND",
        "CHATHISTORY AFTER #room msgid= 5": "INVALID_PARAMS AFTER msgid= :",
        "CHATHISTORY BEFORE #room * 5": "INVALID_MSGREFTYPE BEFORE * :",
        "CHATHISTORY AROUND #room id=abc 5": "INVALID_MSGREFTYPE AROUND id=abc :",
        "CHATHISTORY AFTER #room abc 5": "INVALID_MSGREFTYPE AFTER abc :",
        f"CHATHISTORY TARGETS msgid=abc {FUTURE} 5": "INVALID_MSGREFTYPE TARGETS msgid=abc :",
        f"CHATHISTORY TARGETS * {FUTURE} 5": "INVALID_MSGREFTYPE TARGETS * :",
        "CHATHISTORY LATEST #nowhere * 5": "INVALID_TARGET LATEST #nowhere :",
        "CHATHISTORY LATEST 9lives * 5": "INVALID_TARGET LATEST 9lives :",
    }
    for request, expected in cases.items():
        assert f" FAIL CHATHISTORY {expected}" in fail(alice, request), request
    assert batch(alice, "CHATHISTORY AFTER #room msgid=no-such-message 5") == []
    assert batch(alice, "CHATHISTORY AROUND #room msgid=no-such-message 5") == []
    assert batch(alice, f"CHATHISTORY BETWEEN #room msgid=nope {FUTURE} 5") == []
    huge = batch(alice, "CHATHISTORY LATEST #room * 99999999999999999999999999999999999")
    assert texts(huge) == ["hello"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["LATEST", "before", "BETWEEN", "TARGETS", "*", "#room", "0", "7"]),
            st.from_regex(r"(msgid|timestamp|MsgId)=[0-9:.TZ-]{0,26}", fullmatch=True),
            st.text(max_size=30),
        ),
        max_size=6,
    )
)
def test_any_parameters_make_a_request_or_a_refusal(params):
    try:
        request = parse(params, 1000)
    except Refusal as refusal:
        assert refusal.params[0] in ("INVALID_PARAMS", "INVALID_MSGREFTYPE")
        assert all(word and " " not in word and word[0] != ":" for word in refusal.params[1:-1])
    else:
        assert 1 <= request.limit <= 1000 and request.subcommand in SUBCOMMANDS


def test_a_limit_above_the_maximum_is_the_maximum(tmp_path):
    with running_server(data_dir=str(tmp_path), flood_rate=0.0, chathistory_max=5) as server:
        alice = LineClient(server.port)
        alice.send("CAP LS 302", "CAP REQ :" + " ".join(CAPS), "NICK alice", "USER a 0 * :A")
        alice.send("CAP END")
        alice.expect(r" 005 .*\bCHATHISTORY=5\b")
        alice.expect(r" 376 ")
        alice.send("JOIN #room")
        bob = joined(server.port, "bob", LIVE, "#room")
        wanted = msgids(say(alice, bob, "#room", 8))
        assert msgids(batch(alice, "CHATHISTORY LATEST #room * 100")) == wanted[-5:]
        assert msgids(batch(alice, f"CHATHISTORY AFTER #room {PAST} 6")) == wanted[:5]


def test_channels_one_is_not_in_are_refused_alike(server):
    owner = joined(server.port, "owner", CAPS, "#secret", "#open")
    owner.send("MODE #secret +s", "PRIVMSG #secret :classified", "PRIVMSG #open :public")
    owner.expect(r" MODE #secret \+s")
    leaver = joined(server.port, "leaver", CAPS, "#secret")
    assert texts(batch(leaver, "CHATHISTORY LATEST #secret * 5")) == ["classified"]
    leaver.send("PART #secret")
    leaver.expect(r" PART :?#secret")
    refusals = [
        fail(leaver, "CHATHISTORY LATEST #secret * 5"),
        fail(leaver, "CHATHISTORY LATEST #open * 5"),  # exists, never joined
        fail(leaver, "CHATHISTORY LATEST #nosuch * 5"),
    ]
    assert [line.split(" ", 4)[3:] for line in refusals] == [
        ["INVALID_TARGET", "LATEST #secret :Messages could not be retrieved"],
        ["INVALID_TARGET", "LATEST #open :Messages could not be retrieved"],
        ["INVALID_TARGET", "LATEST #nosuch :Messages could not be retrieved"],
    ]
    targets = batch(leaver, f"CHATHISTORY TARGETS {PAST} {FUTURE} 9", "draft/chathistory-targets")
    assert targets == []


def test_a_request_flood_is_cut_off_and_others_are_still_answered(tmp_path):
    with running_server(data_dir=str(tmp_path)) as server:  # the default flood limits
        flooder = joined(server.port, "flooder", CAPS, "#room")
        other = joined(server.port, "other", CAPS, "#room")
        flooder.send_raw(b"CHATHISTORY LATEST #room * 1000\r\n" * 600)
        assert any("Excess Flood" in line for line in flooder.expect_closed())
        other.send("PRIVMSG #room :still here")
        lines = batch(other, "CHATHISTORY LATEST #room * 10")
        assert lines[-1].endswith(" PRIVMSG #room :still here")


def test_isupport_and_capabilities_only_while_history_is_kept():
    with running_server(history=True) as server:
        client = LineClient(server.port)
        client.send("CAP LS 302")
        caps = client.expect(r"CAP \* LS :").string
        assert "draft/chathistory" in caps.split() and "draft/event-playback" in caps.split()
        client.send("NICK a", "USER a 0 * :a", "CAP END")
        client.expect(r" 005 .*\bCHATHISTORY=1000\b")
        client.expect(r" 005 .*\bMSGREFTYPES=msgid,timestamp\b")
    with running_server(history=False) as server:
        client = LineClient(server.port)
        client.send("CAP LS 302")
        caps = client.expect(r"CAP \* LS :").string
        assert "chathistory" not in caps and "event-playback" not in caps
        client.send("NICK a", "USER a 0 * :a", "CAP END", "JOIN #room")
        client.expect(r" 366 ")
        assert not any("CHATHISTORY=" in line or "MSGREFTYPES" in line for line in client.seen)
        assert " MESSAGE_ERROR LATEST #room :" in fail(client, "CHATHISTORY LATEST #room * 5")
