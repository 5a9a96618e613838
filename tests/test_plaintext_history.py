"""Earlier messages in plain text: a chathistory batch read as sentences under a heading,
and /history, in both directions of the plain-text session (no I/O: driven directly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tcpchat.plaintext import PlainSession
from tcpchat.plaintext.history import NOT_OFFERED, history_time
from test_plaintext import registered, server, welcomed

WHEN = "2026-03-04T13:02:07.000Z"


def local(stamp: str) -> str:
    return history_time(stamp)


def batch(*lines: str, target: str = "#lobby", ref: str = "h1") -> list[str]:
    return [
        f":srv BATCH +{ref} chathistory {target}",
        *(f"@batch={ref};time={WHEN} {line}" for line in lines),
        f":srv BATCH -{ref}",
    ]


def test_history_time_is_local_hh_mm_today_and_has_the_day_otherwise() -> None:
    now = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    moment = datetime(2026, 3, 4, 14, 2, tzinfo=UTC).astimezone()
    stamp = "2026-03-04T14:02:00.000Z"
    if moment.date() == now.astimezone().date():
        assert history_time(stamp, now) == f"[{moment:%H:%M}] "
    later = now + timedelta(days=2)
    assert history_time(stamp, later) == f"[{moment:%b} {moment.day} {moment:%H:%M}] "
    assert history_time(None) == ""
    assert history_time("yesterday") == ""
    assert history_time("2026-03-04T14:02:00") == ""  # no zone: not server-time


def test_a_person_reads_a_chathistory_batch_under_a_heading() -> None:
    session = registered("dave", "#lobby")
    assert server(session, *batch(
        ":alice!a@h PRIVMSG #lobby :good morning",
        ":dave!d@h PRIVMSG #lobby :my own words, from before",
        ":alice!a@h PRIVMSG #lobby :\x01ACTION waves\x01",
        ":alice!a@h NOTICE #lobby :a notice",
        ":alice!a@h JOIN #lobby",  # an event (event-playback) is no message to read
        "@+draft/react=x :alice!a@h TAGMSG #lobby",
        ":srv NOTICE * :3 lines of history here could not be stored",
    )) == []  # fmt: skip
    at = local(WHEN)
    assert session.take_lines() == [
        "Earlier in #lobby:",
        f"{at}alice says: good morning",
        f"{at}dave says: my own words, from before",
        f"{at}* alice waves",
        f"{at}-alice- a notice",
        f"{at}3 lines of history here could not be stored",
    ]
    assert session.current_channel == "#lobby"  # the JOIN in it changed nothing
    server(session, ":alice!a@h PRIVMSG #lobby :live again")
    assert session.take_lines() == ["alice says: live again"]


def test_an_empty_batch_shows_nothing_unless_history_was_asked_for() -> None:
    session = registered("dave", "#lobby")
    server(session, *batch())
    assert session.take_lines() == []


def test_other_batches_are_read_as_ever() -> None:
    session = registered("dave", "#lobby")
    server(
        session,
        ":srv BATCH +n1 netsplit a b",
        "@batch=n1 :alice!a@h PRIVMSG #lobby :inside another batch",
        ":srv BATCH -n1",
    )
    assert session.take_lines() == ["alice says: inside another batch"]


def test_the_client_styles_every_line_of_history_and_its_nicks() -> None:
    session = PlainSession(style_nick=lambda nick: f"<{nick}>", style_history=lambda s: f"~{s}~")
    session.start("alice")
    server(session, ":srv 001 alice :Welcome", ":alice!u@h JOIN #lobby")
    session.take_lines()
    server(session, *batch(":bob!b@h PRIVMSG #lobby :hi"))
    assert session.take_lines() == ["~Earlier in #lobby:~", f"~{local(WHEN)}<bob> says: hi~"]


def test_a_private_conversation_s_history_is_earlier_with_someone() -> None:
    session = registered("dave", "#lobby")
    server(session, *batch(":bob!b@h PRIVMSG dave :psst", target="bob"))
    assert session.take_lines() == ["Earlier with bob:", f"{local(WHEN)}bob says: psst"]


def test_the_client_asks_for_history_when_offered_and_on_joining() -> None:
    session = PlainSession()
    session.start("alice")
    assert server(session, ":srv CAP * LS :batch server-time draft/chathistory") == [
        "CAP REQ :server-time batch draft/chathistory"
    ]
    assert server(session, ":srv CAP alice ACK :server-time batch draft/chathistory") == ["CAP END"]
    server(session, ":srv 001 alice :Welcome", ":srv 005 alice CHATHISTORY=50 :are supported")
    assert server(session, ":alice!u@h JOIN #lobby") == ["CHATHISTORY LATEST #lobby * 20"]
    assert session.from_person("/history") == ["CHATHISTORY LATEST #lobby * 20"]
    assert session.from_person("/history 5") == ["CHATHISTORY LATEST #lobby * 5"]
    assert session.from_person("/history 500") == ["CHATHISTORY LATEST #lobby * 50"]
    assert session.from_person("/history bob 3") == ["CHATHISTORY LATEST bob * 3"]
    session.take_lines()
    server(session, *batch())  # the answer to /history: nothing there
    assert session.take_lines() == ["Nothing earlier in #lobby."]


def test_history_needs_a_server_that_offers_it() -> None:
    session = welcomed()  # offered nothing
    assert session.from_person("/history") == []
    assert session.take_lines() == [NOT_OFFERED]
    assert server(session, ":alice!u@h JOIN #other") == []


def test_history_usage_is_explained() -> None:
    session = welcomed()
    for typed in ("/history 0", "/history :x"):
        assert session.from_person(typed) == []
    assert session.take_lines() == [
        "Ask for at least one line: /history 20",
        "Usage: /history [#room|nick] [number of lines]",
    ]


def test_a_person_asks_our_server_for_history_the_first_time_they_want_it() -> None:
    session = registered("dave", "#lobby")
    assert session.from_person("/history 7") == ["CAP REQ :draft/chathistory"]
    assert session.from_person("/history 8") == []  # still waiting for the answer
    assert server(session, ":tcpchat CAP dave ACK :draft/chathistory") == [
        "CHATHISTORY LATEST #lobby * 8"
    ]
    assert server(session, ":dave!d@h JOIN #next") == ["CHATHISTORY LATEST #next * 20"]


def test_a_person_is_told_when_the_server_keeps_no_history() -> None:
    session = registered("dave", "#lobby")
    assert session.from_person("/history") == ["CAP REQ :draft/chathistory"]
    assert server(session, ":tcpchat CAP dave NAK :draft/chathistory") == []
    assert session.take_lines() == [NOT_OFFERED]


def test_after_a_reconnect_the_client_asks_only_for_what_came_after_the_last_seen() -> None:
    session = PlainSession()
    session.start("alice", ["#lobby"], seen={"#lobby": "m9"})
    server(session, ":srv CAP * LS :batch draft/chathistory")
    server(session, ":srv CAP alice ACK :batch draft/chathistory", ":srv 001 alice :Welcome")
    assert server(session, ":alice!u@h JOIN #lobby") == ["CHATHISTORY LATEST #lobby msgid=m9 20"]
    assert server(session, ":alice!u@h JOIN #new") == ["CHATHISTORY LATEST #new * 20"]
    server(
        session, "@msgid=m10 :bob!b@h PRIVMSG #lobby :live", "@msgid=p1 :bob!b@h PRIVMSG alice :hi"
    )
    server(
        session,
        ":srv BATCH +h2 chathistory #new",
        f"@batch=h2;time={WHEN};msgid=n4 :bob!b@h PRIVMSG #new :earlier",
        ":srv BATCH -h2",
    )
    assert session.seen_msgids == {"#lobby": "m10", "#new": "n4"}
