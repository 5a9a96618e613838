"""Playback on join: a client that can't ask for history (no draft/chathistory) is sent the
room's last lines after its JOIN, as they were first delivered; a person reads them as
sentences under "Earlier in #room:". Real servers, real sockets, real database files."""

from __future__ import annotations

import re

from tcpchat.core.reconfigure import cap_new
from tcpchat.plaintext.history import history_time
from tcpchat.protocol import parse

from core_harness import make_core, register
from net_harness import LineClient, running_server

TAGS = ("batch", "server-time", "message-tags")


def joined(client: LineClient, room: str, nick: str) -> list[str]:
    """JOIN `room` and read up to the end of its names; returns nothing (lines kept in seen)."""
    client.send(f"JOIN {room}")
    client.expect(rf" 366 {nick} {re.escape(room)} ")
    return []


def until(client: LineClient, pattern: str) -> list[str]:
    """The lines read up to and including the first that matches `pattern`."""
    lines = []
    while True:
        line = client.readline()
        lines.append(line)
        if re.search(pattern, line):
            return lines


def talk(
    server, *texts: str, room: str = "#room", nick: str = "alice"
) -> tuple[LineClient, LineClient, list[str]]:
    """`nick` says `texts` in `room`; a watcher with tags receives them live. Returns the
    speaker, the watcher and its copies (time and msgid as first delivered)."""
    alice = LineClient(server.port).register(nick)
    watching = nick + "_w"
    watcher = LineClient(server.port).register(watching, ("server-time", "message-tags"))
    joined(alice, room, nick)
    joined(watcher, room, watching)
    alice.expect(r"JOIN :?#")
    live = []
    for text in texts:
        alice.send(f"PRIVMSG {room} :{text}")
        live.append(watcher.expect(rf"PRIVMSG {re.escape(room)} :{re.escape(text)}$").string)
    return alice, watcher, live


def test_a_client_with_batch_gets_the_last_lines_in_a_chathistory_batch_after_names():
    with running_server() as server:
        alice, _watcher, live = talk(server, "one", "two", "three")
        bob = LineClient(server.port).register("bob", TAGS)
        bob.send("JOIN #room")
        before = until(bob, r" 366 bob #room ")
        assert not any("PRIVMSG" in line for line in before)
        opening = parse(bob.readline())
        assert opening.command == "BATCH" and opening.params[1:] == ["chathistory", "#room"]
        ref = opening.params[0][1:]
        replayed = [bob.readline() for _ in live]
        assert bob.readline().endswith(f"BATCH -{ref}")
        # Byte for byte as first delivered (same time, msgid, text), in the batch.
        assert replayed == [f"@batch={ref};{line[1:]}" for line in live]
        alice.send("PRIVMSG #room :after")
        assert bob.readline().endswith("PRIVMSG #room :after")


def test_a_client_without_batch_gets_plain_lines_timed_when_it_has_server_time():
    with running_server() as server:
        alice, _watcher, live = talk(server, "one", "two")
        timed = LineClient(server.port).register("timed", ("server-time",))
        plain = LineClient(server.port).register("plain")
        for client, nick in ((timed, "timed"), (plain, "plain")):
            client.send("JOIN #room")
            until(client, rf" 366 {nick} #room ")
        for line in live:
            tags, _, rest = line.partition(" ")
            time_tag = next(tag for tag in tags[1:].split(";") if tag.startswith("time="))
            assert timed.readline() == f"@{time_tag} {rest}"
            assert plain.readline() == rest
        alice.send("PRIVMSG #room :now")
        assert plain.readline() == ":alice!alice@127.0.0.1 PRIVMSG #room :now"


def test_a_person_reads_earlier_lines_with_their_times_under_a_heading():
    with running_server(default_channel="#room") as server:
        _alice, _watcher, live = talk(server, "good morning", "\x01ACTION waves\x01")
        person = LineClient(server.port)
        person.expect_text("nickname? ")
        person.send("dave")
        person.expect(r"^You joined #room\.$")
        times = [history_time(parse(line).tags["time"]) for line in live]
        assert re.fullmatch(r"\[\d\d:\d\d\] ", times[0])  # today: the time alone
        assert until(person, r"^People in ")[-1] == "People in #room: @alice, alice_w, dave"
        assert person.readline() == "Earlier in #room:"
        assert person.readline() == f"{times[0]}alice says: good morning"
        assert person.readline() == f"{times[1]}* alice waves"


def test_a_person_joining_a_room_without_history_sees_no_heading():
    with running_server(default_channel="#room") as server:
        person = LineClient(server.port)
        person.expect_text("nickname? ")
        person.send("dave")
        person.expect(r"^You joined #room\.$")
        person.send("/topic")
        lines = until(person, r"has no topic")
        assert not any("Earlier" in line for line in lines)


def test_history_on_join_0_sends_nothing():
    with running_server(history_on_join=0) as server:
        alice, _watcher, _ = talk(server, "one")
        bob = LineClient(server.port).register("bob", TAGS)
        bob.send("JOIN #room")
        until(bob, r" 366 bob #room ")
        alice.send("PRIVMSG #room :live")
        assert bob.readline().endswith("PRIVMSG #room :live")


def test_a_room_with_history_off_plays_nothing_back():
    with running_server() as server:
        alice = LineClient(server.port).register("alice")
        joined(alice, "#quiet", "alice")
        alice.send("MODE #quiet +U")
        alice.expect(r"MODE #quiet \+U")
        alice.send("PRIVMSG #quiet :unrecorded")
        bob = LineClient(server.port).register("bob", TAGS)
        bob.send("JOIN #quiet")
        until(bob, r" 366 bob #quiet ")
        alice.send("PRIVMSG #quiet :live")
        assert bob.readline().endswith("PRIVMSG #quiet :live")


def test_playback_survives_a_restart_on_the_same_data_directory(tmp_path):
    data = str(tmp_path / "data")
    with running_server(data_dir=data) as server:
        _alice, _watcher, live = talk(server, "kept one", "kept two")
    with running_server(data_dir=data) as server:
        bob = LineClient(server.port).register("bob", TAGS)
        bob.send("JOIN #room")
        until(bob, r" 366 bob #room ")
        ref = parse(bob.readline()).params[0][1:]
        assert [bob.readline() for _ in live] == [f"@batch={ref};{line[1:]}" for line in live]


def test_several_rooms_in_one_join_each_get_their_own_batch():
    with running_server() as server:
        speakers = [talk(server, "in a", room="#a"), talk(server, "in b", room="#b", nick="alba")]
        bob = LineClient(server.port).register("bob", ("batch",))
        bob.send("JOIN #a,#b")
        lines = until(bob, r"BATCH -.*")
        lines += until(bob, r"BATCH -.*")
        said = [line.partition(" PRIVMSG ")[2] for line in lines if " PRIVMSG " in line]
        assert said == ["#a :in a", "#b :in b"]
        assert len(speakers) == 2  # kept connected until now
        assert [parse(line).params[1:] for line in lines if " BATCH +" in line] == [
            ["chathistory", "#a"],
            ["chathistory", "#b"],
        ]


# -- the order, in the sans-IO core: the read's answer is held back by the test ----------


def in_flight(core) -> list:
    """History reads wait until `answer` runs them: as on a server whose reader thread is
    busy, so lines said meanwhile are stored before the read looks."""
    reads: list = []
    core.history.read = lambda work, done: reads.append((work, done))
    return reads


def answer(reads: list, core) -> None:
    work, done = reads.pop(0)
    type(core.history).read(core.history, work, done)


def test_lines_said_while_the_playback_is_read_come_after_it():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN #room", "PRIVMSG #room :before")
    reads = in_flight(core)
    bob = register(core, "bob", "batch", "echo-message")
    bob.send("JOIN #room")
    alice.send("PRIVMSG #room :during")  # live to bob, while his playback is being read
    bob.send("PRIVMSG #room :bob's own")  # bob's next line waits for the playback
    alice.take()
    first = bob.take_raw()  # the JOIN's own replies, nothing else yet
    assert " 366 bob #room " in first[-1] and not any("PRIVMSG" in line for line in first)
    answer(reads, core)
    lines = bob.take_raw()
    assert "BATCH +" in lines[0]
    said = [line.partition(" PRIVMSG ")[2] for line in lines if " PRIVMSG " in line]
    assert said == ["#room :before", "#room :during", "#room :bob's own"]
    assert [m.params[-1] for m in alice.take() if m.command == "PRIVMSG"] == ["bob's own"]


def test_a_labeled_join_answers_with_the_playback_inside_its_response():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN #room", "PRIVMSG #room :before")
    reads = in_flight(core)
    bob = register(core, "bob", "batch", "labeled-response")
    bob.send("@label=j1 JOIN #room")
    alice.send("PRIVMSG #room :during")
    assert bob.take_raw() == []
    answer(reads, core)
    lines = bob.take_raw()
    assert lines[0].startswith("@label=j1 ") and "BATCH +" in lines[0]
    outer = parse(lines[0]).params[0][1:]
    assert lines[-2] == f":tcpchat BATCH -{outer}"
    assert lines[-1].endswith("PRIVMSG #room :during")
    inner = [parse(line) for line in lines[1:-2]]
    history = next(m for m in inner if m.command == "BATCH" and m.params[0].startswith("+"))
    assert history.params[1:] == ["chathistory", "#room"]
    assert history.tags["batch"] == outer


def test_a_client_that_asks_for_history_itself_is_sent_none_on_join():
    core = make_core()
    cap_new(core, "draft/chathistory")  # as the server offers it once CHATHISTORY is there
    alice = register(core, "alice")
    alice.send("JOIN #room", "PRIVMSG #room :before")
    bob = register(core, "bob", "batch", "draft/chathistory")
    bob.send("JOIN #room")
    assert not any("PRIVMSG" in line or "BATCH" in line for line in bob.take_raw())
    carol = register(core, "carol", "batch")
    carol.send("JOIN #room")
    assert any(line.endswith("PRIVMSG #room :before") for line in carol.take_raw())


def test_tagmsg_is_played_back_only_to_clients_with_message_tags():
    core = make_core()
    alice = register(core, "alice", "message-tags")
    alice.send("JOIN #room", "@+draft/react=+1 TAGMSG #room", "PRIVMSG #room :text")
    tagged = register(core, "tagged", "message-tags")
    tagged.send("JOIN #room")
    assert [m.command for m in tagged.take() if m.command in ("TAGMSG", "PRIVMSG")] == [
        "TAGMSG",
        "PRIVMSG",
    ]
    plain = register(core, "plain")
    plain.send("JOIN #room")
    assert [m.command for m in plain.take() if m.command in ("TAGMSG", "PRIVMSG")] == ["PRIVMSG"]
