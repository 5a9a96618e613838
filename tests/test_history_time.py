"""History's times never go back as its order goes on: a clock that steps back (NTP, a VM
restored, another node's clock) stores its lines at the newest time so far, even across a
restart, so CHATHISTORY by timestamp finds the very place of the order a client expects; and
a database from before one index held both order and time (schema 5) answers the same."""

import re
import sqlite3
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.config import Settings
from tcpchat.core import ChatCore
from tcpchat.store.database import DB_NAME, Database
from tcpchat.store.history import INSERT_ROW, Row, time_position
from tcpchat.store.schema import MIGRATIONS

from core_harness import register

CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")


class Clock:
    """The time the test says (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stamp(seconds: float) -> str:
    """An IRCv3 timestamp (UTC, milliseconds) of `seconds` since the epoch."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def texts(peer, request: str) -> list[tuple[str, str]]:
    """(time tag, text) of each message a CHATHISTORY request returns, in order."""
    peer.send(request)
    found = []
    for line in peer.take_raw():
        match = re.match(r"^@\S*time=([^; ]+)\S* :\S+ PRIVMSG #room :(.*)$", line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def open_core(folder, clock: Clock) -> tuple[ChatCore, Database]:
    database = Database(folder, MIGRATIONS)
    database.open()
    core = ChatCore(Settings().updated({"flood_rate": 0.0}), clock=clock)
    core.attach_database(database)
    return core, database


def test_lines_after_the_clock_steps_back_keep_their_place_in_time(tmp_path):
    clock = Clock(1_800_000_000.0)
    core, database = open_core(tmp_path, clock)
    try:
        alice, bob = register(core, "alice", *CAPS), register(core, "bob", *CAPS)
        for peer in (alice, bob):
            peer.send("JOIN #room")
        alice.send("PRIVMSG #room :one")
        clock.now += 60
        alice.send("PRIVMSG #room :two")
        clock.now -= 30  # the clock steps back half a minute
        alice.send("PRIVMSG #room :three")
        bob.take()
        later = texts(bob, f"CHATHISTORY AFTER #room timestamp={stamp(1_800_000_001.0)} 10")
        assert [text for _, text in later] == ["two", "three"]
        assert later[1][0] == later[0][0] == stamp(1_800_000_060.0)  # not back in time
        before = texts(bob, f"CHATHISTORY BEFORE #room timestamp={stamp(1_800_000_045.0)} 10")
        assert [text for _, text in before] == ["one"]  # "three" is not before "two"
    finally:
        database.close()
    clock.now = 1_800_000_010.0  # restarted on a clock still behind
    core, database = open_core(tmp_path, clock)
    try:
        carol = register(core, "carol", *CAPS)
        carol.send("JOIN #room", "PRIVMSG #room :four")
        carol.take()
        newest = texts(carol, "CHATHISTORY LATEST #room * 2")
        assert newest == [(stamp(1_800_000_060.0), "three"), (stamp(1_800_000_060.0), "four")]
    finally:
        database.close()


def test_a_database_from_before_the_one_index_finds_lines_by_time(tmp_path):
    old = Database(tmp_path, [m for m in MIGRATIONS if m[0] <= 5])
    old.open()
    old.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        c.executemany(INSERT_ROW, [
            Row("#room", f"old{i}", 1_700_000_000.0 + i, "PRIVMSG", "alice", None,
                f":alice!alice@127.0.0.1 PRIVMSG #room :old {i}", None, None, f"old {i}")
            for i in range(50)
        ])  # fmt: skip
    core, database = open_core(tmp_path, Clock(1_800_000_000.0))
    try:
        bob = register(core, "bob", *CAPS)
        bob.send("JOIN #room")
        bob.take()
        around = f"timestamp={stamp(1_700_000_020.0)}"
        assert [t for _, t in texts(bob, f"CHATHISTORY AFTER #room {around} 3")] == [
            "old 21", "old 22", "old 23"
        ]
        assert [t for _, t in texts(bob, f"CHATHISTORY BEFORE #room {around} 2")] == [
            "old 18", "old 19"
        ]
        between = f"timestamp={stamp(1_700_000_010.5)} timestamp={stamp(1_700_000_013.0)}"
        assert [t for _, t in texts(bob, f"CHATHISTORY BETWEEN #room {between} 10")] == [
            "old 11", "old 12"
        ]
    finally:
        database.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        indexes = {row[1] for row in c.execute("PRAGMA index_list(history)")}
    assert "history_in_order" in indexes and "history_by_time" not in indexes


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from([0.0, 0.0, 0.5, 1.0, 7.0])),
             max_size=40),
    st.lists(st.floats(min_value=-1.0, max_value=120.0), min_size=1, max_size=5),
)  # fmt: skip
def test_a_time_is_found_where_a_scan_of_the_order_finds_it(steps, whens):
    """The binary search over ids agrees with a scan of every row, for times that repeat,
    targets interleaved, and times before, between and after the rows."""
    database = Database(None, MIGRATIONS)
    database.open()
    try:
        rows, now = [], 0.0
        for target, step in steps:
            now += step
            rows.append(Row(target, f"m{len(rows)}", now, "PRIVMSG", "x", None, "l", None,
                            None, None))  # fmt: skip
        if rows:
            database.run_now(lambda c: c.executemany(INSERT_ROW, rows))
        stored = [(i + 1, row.target, row.time) for i, row in enumerate(rows)]  # rowids
        for target in "ab":
            mine = [(id_, time) for id_, t, time in stored if t == target]
            for when in whens:
                at_or_after = next((i for i, time in mine if time >= when), None)
                last_at_or_before = max((i for i, time in mine if time <= when), default=0)
                found = database.run_now(
                    lambda c, t=target, w=when: (
                        time_position(c, t, w, after=False),
                        time_position(c, t, w, after=True),
                    )
                )
                assert found == (at_or_after, last_at_or_before)
    finally:
        database.close()
