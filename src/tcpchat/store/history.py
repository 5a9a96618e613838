"""History in the database: every stored message and channel event, in one total order.

A row is what someone received, kept so that it can be sent again byte for byte: the line
as it was delivered (without tags), the client-only tags it carried, its msgid and its
time. `id` (the rowid) is the one order of a target's history, so paging by msgid never skips
or repeats a line; times never go back as ids grow (History clamps a clock that steps back),
so one index, `history_in_order` (target, id, time), finds a target's rows by place and by
time. A target is a channel's folded name, or a private conversation's key
(`conversation_key`); `conversations` lists each conversation's two sides, for TARGETS.

`history_text` is an FTS5 index of the messages' text (SEARCH). It is brought up to date in
bulk (`INDEX_TEXT`: every row newer than the newest indexed one), by a write once a thousand
lines or so wait, and before each search; not by a trigger per row, since FTS5 flushes its
pending terms at every statement (a trigger cost about 10 times a row), and not with every
write, since a flush per write was still a third of a private message's cost. Deleting rows
goes through a trigger, for the rows that were indexed.

Each function takes a connection and runs on the database's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "INDEX_TEXT",
    "CONVERSATION_SLACK",
    "INSERT_CONVERSATION",
    "INSERT_ROW",
    "MESSAGE_KINDS",
    "MIGRATIONS",
    "Row",
    "RowValues",
    "Stored",
    "conversation_key",
    "count",
    "first_reaching",
    "last_before",
    "latest_time",
    "msgid_position",
    "before_join",
    "page",
    "time_position",
]

MIGRATIONS = [
    (
        2,
        """
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            target TEXT NOT NULL,
            msgid TEXT NOT NULL,
            time REAL NOT NULL,
            kind TEXT NOT NULL,
            sender TEXT NOT NULL,
            account TEXT,
            line TEXT NOT NULL,
            tags TEXT,
            lines TEXT,
            text TEXT
        );
        CREATE INDEX history_by_target ON history (target, id);
        CREATE INDEX history_by_time ON history (target, time);
        CREATE INDEX history_by_msgid ON history (msgid);
        CREATE TABLE conversations (
            key TEXT PRIMARY KEY,
            one TEXT NOT NULL,
            other TEXT NOT NULL,
            one_name TEXT NOT NULL,
            other_name TEXT NOT NULL,
            last REAL NOT NULL
        );
        CREATE INDEX conversations_by_one ON conversations (one);
        CREATE INDEX conversations_by_other ON conversations (other);
        CREATE VIRTUAL TABLE history_text USING fts5 (
            text, content = 'history', content_rowid = 'id'
        );
        CREATE TRIGGER history_text_added AFTER INSERT ON history
            WHEN new.text IS NOT NULL BEGIN
            INSERT INTO history_text (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER history_text_removed AFTER DELETE ON history
            WHEN old.text IS NOT NULL BEGIN
            INSERT INTO history_text (history_text, rowid, text)
                VALUES ('delete', old.id, old.text);
        END
        """,
    ),
    # The text is indexed by the writer, in bulk (INDEX_TEXT).
    (3, "DROP TRIGGER history_text_added"),
    # So a deleted row leaves the index only if it was indexed (FTS5 must not be told to
    # delete what it never had).
    (
        4,
        """
        DROP TRIGGER history_text_removed;
        CREATE TRIGGER history_text_removed AFTER DELETE ON history
            WHEN old.text IS NOT NULL
            AND EXISTS (SELECT 1 FROM history_text_docsize WHERE id = old.id) BEGIN
            INSERT INTO history_text (history_text, rowid, text)
                VALUES ('delete', old.id, old.text);
        END
        """,
    ),
    # One index of each target's rows in order, their times in it, instead of two (by id
    # and by time): a row costs about 40% less to write (private messages land on as many
    # places of each index as there are conversations). Times follow ids (History keeps
    # them so), so a time is found by walking the index back from the newest row.
    (
        6,
        """
        CREATE INDEX history_in_order ON history (target, id, time);
        DROP INDEX history_by_target;
        DROP INDEX history_by_time
        """,
    ),
]


class Row(NamedTuple):
    """One line of history as it is written (the columns of `history` but its id)."""

    target: str  # a channel's folded name, or a conversation's key
    msgid: str
    time: float
    kind: str  # PRIVMSG NOTICE TAGMSG JOIN PART QUIT KICK NICK TOPIC MODE
    sender: str  # the folded nick of who sent it or did it
    account: str | None  # their account, as shown, when they were logged in
    line: str  # the line as delivered, without tags or CRLF
    tags: str | None  # the tags it carried besides time, msgid and account (formatted)
    lines: str | None  # a message of several lines: JSON [[text, concat], ...]
    text: str | None  # what SEARCH looks in: a message's text


# A Row's values as a plain tuple, in the same order: what the hot path builds (see
# History._keep); a Row is one too.
RowValues = tuple[str, str, float, str, str, str | None, str, str | None, str | None, str | None]


class Stored(NamedTuple):
    """A row as read back: its place in the order (`id`) and what is sent again."""

    id: int
    msgid: str
    time: float
    kind: str
    account: str | None
    line: str
    tags: str | None
    lines: str | None


INSERT_ROW = (
    "INSERT INTO history (target, msgid, time, kind, sender, account, line, tags, lines, text)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# (): index the text of every row newer than the newest indexed one (ids only grow, and a
# forgotten row leaves the index with it). One statement: one FTS5 flush for them all.
INDEX_TEXT = (
    "INSERT INTO history_text (rowid, text) SELECT id, text FROM history"
    " WHERE id > (SELECT coalesce(max(id), 0) FROM history_text_docsize) AND text IS NOT NULL"
)
# (key, one, other, one_name, other_name, last): a conversation and when it last spoke, to
# within CONVERSATION_SLACK seconds (the writer updates `last` no more often than that).
CONVERSATION_SLACK = 60.0
INSERT_CONVERSATION = (
    "INSERT INTO conversations (key, one, other, one_name, other_name, last)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
    " one_name = excluded.one_name, other_name = excluded.other_name, last = excluded.last"
)


def conversation_key(one: str, other: str) -> tuple[str, str, str]:
    """A private conversation's key from its two sides' ids (`~account` or a folded nick),
    the same whoever writes first: (key, first id, second id)."""
    first, second = (one, other) if one <= other else (other, one)
    return f"{first} {second}", first, second


def count(c: sqlite3.Connection) -> int:
    """How many lines of history are kept, in all."""
    return int(c.execute("SELECT count(*) FROM history").fetchone()[0])


# The kinds a client without draft/event-playback is sent (GAP: a note of lost lines).
MESSAGE_KINDS = ("PRIVMSG", "NOTICE", "TAGMSG", "GAP")
_COLUMNS = "id, msgid, time, kind, account, line, tags, lines"
_ONLY_MESSAGES = f" AND kind IN ({', '.join(repr(k) for k in MESSAGE_KINDS)})"


def page(
    c: sqlite3.Connection,
    target: str,
    limit: int,
    *,
    after: int = 0,
    before: int | None = None,
    newest: bool = False,
    events: bool = True,
    kinds: Sequence[str] | None = None,
) -> list[Stored]:
    """The rows of `target` with `after < id < before`, at most `limit` of them: those
    nearest `after`, or with `newest` those nearest `before` (the latest); oldest first
    either way. Without `events`, messages only (no JOIN, PART, ...); with `kinds`, only
    rows of those kinds."""
    sql = f"SELECT {_COLUMNS} FROM history WHERE target = ? AND id > ?"
    params: list[object] = [target, after]
    if before is not None:
        sql += " AND id < ?"
        params.append(before)
    if kinds is not None:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params.extend(kinds)
    elif not events:
        sql += _ONLY_MESSAGES
    sql += f" ORDER BY id {'DESC' if newest else 'ASC'} LIMIT ?"
    params.append(limit)
    rows = [Stored(*row) for row in c.execute(sql, params)]
    if newest:
        rows.reverse()
    return rows


# How many of a room's latest lines playback looks through for messages: a quiet room full
# of joins and quits costs a bounded read on each JOIN (after a restart, everyone rejoins).
PLAYBACK_SCAN = 2000


def before_join(c: sqlite3.Connection, target: str, nick: str, limit: int) -> list[Stored]:
    """The last `limit` messages of `target` before `nick`'s latest JOIN there, among the
    PLAYBACK_SCAN lines before it (events are looked through, not sent); oldest first."""
    row = c.execute(
        "SELECT id FROM history WHERE target = ? AND kind = 'JOIN' AND sender = ?"
        " ORDER BY id DESC LIMIT 1",
        (target, nick),
    ).fetchone()
    before = int(row[0]) if row is not None else 1 << 62  # not stored (a failed write): all
    rows = [
        Stored(*found)
        for found in c.execute(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM history WHERE target = ?"
            f" AND id < ? ORDER BY id DESC LIMIT ?) WHERE 1{_ONLY_MESSAGES}"
            " ORDER BY id DESC LIMIT ?",
            (target, before, PLAYBACK_SCAN, limit),
        )
    ]
    rows.reverse()
    return rows


def msgid_position(c: sqlite3.Connection, target: str, msgid: str) -> int | None:
    """Where the message `msgid` stands in `target`'s order (its id), if it is there."""
    row = c.execute(
        "SELECT id FROM history WHERE msgid = ? AND target = ?", (msgid, target)
    ).fetchone()
    return int(row[0]) if row is not None else None


def latest_time(c: sqlite3.Connection) -> float:
    """The newest row's time (0 with none): no row may be stored earlier."""
    row = c.execute("SELECT time FROM history ORDER BY id DESC LIMIT 1").fetchone()
    return float(row[0]) if row is not None else 0.0


def time_position(c: sqlite3.Connection, target: str, when: float, *, after: bool) -> int | None:
    """A timestamp as a place in `target`'s order. With `after`: the id of the last row at
    or before `when` (0 if none), so rows after it are those later than `when`; else the
    id of the first row at or after `when` (None if none), so rows before it are earlier."""
    if not after:
        return first_reaching(c, target, when, strictly=False)
    return last_before(c, target, first_reaching(c, target, when, strictly=True))


def last_before(c: sqlite3.Connection, target: str, place: int | None) -> int:
    """The id of `target`'s last row before the id `place` (None: after every row); 0 if
    there is none."""
    row = c.execute(
        "SELECT id FROM history WHERE target = ? AND id < ? ORDER BY id DESC LIMIT 1",
        (target, place if place is not None else 1 << 62),
    ).fetchone()
    return int(row[0]) if row is not None else 0


def first_reaching(
    c: sqlite3.Connection, target: str, when: float, *, strictly: bool
) -> int | None:
    """The id of `target`'s first row at or after `when` (`strictly`: after it), None if none.

    Times follow ids (History stores them so), so this is a binary search over the target's
    ids in `history_in_order`: a few dozen lookups of the index whatever the history's size
    (a walk back from the newest row took 40 ms through 300,000 lines)."""
    reaches = float.__gt__ if strictly else float.__ge__
    first = c.execute(
        "SELECT id FROM history WHERE target = ? ORDER BY id LIMIT 1", (target,)
    ).fetchone()
    last = c.execute(
        "SELECT id, time FROM history WHERE target = ? ORDER BY id DESC LIMIT 1", (target,)
    ).fetchone()
    if first is None or not reaches(float(last[1]), when):
        return None
    low, high = int(first[0]), int(last[0])
    best, high = high, high - 1  # a row that reaches `when`; look for an earlier one
    while low <= high:
        middle = (low + high) // 2
        row = c.execute(
            "SELECT id, time FROM history WHERE target = ? AND id >= ? AND id <= ?"
            " ORDER BY id LIMIT 1",
            (target, middle, high),
        ).fetchone()
        if row is None:  # no row of the target from `middle` to `high`
            high = middle - 1
        elif reaches(float(row[1]), when):
            best, high = int(row[0]), middle - 1  # none between `middle` and this one
        else:
            low = int(row[0]) + 1
    return best
