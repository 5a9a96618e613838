"""CHATHISTORY's questions to the database: a page of a target's history around a reference
(a msgid or a time), the targets someone has spoken in, and which of someone's private
conversations is the one with a given nick.

Everything is a place in a target's one order (its rows' ids, store/history.py): a msgid is
its row's id; a time falls between two ids. Bounds are exclusive, as the spec asks: the rows
after a reference are those with an id above its place, the rows before it those below.
Times are the milliseconds a client was shown (server-time), so a time given as
12:00:00.123 stands for that whole millisecond: "after" it means from 12:00:00.124 on,
"before" it means until 12:00:00.123 exclusive. `floor` hides the rows a requester may not
read (a conversation kept by nick, before they took the nick): only ids above it are seen.

Each function takes a connection and runs on the database's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from ..protocol import irc_lower
from .history import (
    CONVERSATION_SLACK,
    Stored,
    first_reaching,
    last_before,
    msgid_position,
    page,
    time_position,
)

__all__ = [
    "MILLISECOND",
    "Ref",
    "after",
    "around",
    "before",
    "between",
    "conversation_with",
    "floor_position",
    "latest",
    "targets",
]

MILLISECOND = 0.001
Kinds = Sequence[str] | None


class Ref(NamedTuple):
    """A message reference as a client gave it: by msgid, or by time (seconds, the start
    of the millisecond it names)."""

    msgid: str | None = None
    time: float = 0.0


class _Unknown(Exception):
    """A msgid this target has no row for: the answer is empty (as Ergo answers)."""


def floor_position(c: sqlite3.Connection, target: str, since: float | None) -> int:
    """The place below which a requester whose view starts at `since` sees nothing: the
    last id earlier than `since` (0 when there is no such bound, or no such row)."""
    if since is None:
        return 0
    return last_before(c, target, first_reaching(c, target, since, strictly=False))


def _lower(c: sqlite3.Connection, target: str, ref: Ref) -> int:
    """The place after which rows come after `ref`."""
    if ref.msgid is not None:
        return _msgid(c, target, ref.msgid)
    return floor_position(c, target, ref.time + MILLISECOND)


def _upper(c: sqlite3.Connection, target: str, ref: Ref) -> int | None:
    """The place before which rows come before `ref` (None: every row does)."""
    if ref.msgid is not None:
        return _msgid(c, target, ref.msgid)
    return time_position(c, target, ref.time, after=False)


def _msgid(c: sqlite3.Connection, target: str, msgid: str) -> int:
    place = msgid_position(c, target, msgid)
    if place is None:
        raise _Unknown
    return place


def latest(
    c: sqlite3.Connection, target: str, ref: Ref | None, limit: int, floor: int, kinds: Kinds
) -> list[Stored]:
    """The newest rows, after `ref` if given."""
    try:
        start = floor if ref is None else max(floor, _lower(c, target, ref))
    except _Unknown:
        return []
    return page(c, target, limit, after=start, newest=True, kinds=kinds)


def before(
    c: sqlite3.Connection, target: str, ref: Ref, limit: int, floor: int, kinds: Kinds
) -> list[Stored]:
    """The rows just before `ref`."""
    try:
        end = _upper(c, target, ref)
    except _Unknown:
        return []
    return page(c, target, limit, after=floor, before=end, newest=True, kinds=kinds)


def after(
    c: sqlite3.Connection, target: str, ref: Ref, limit: int, floor: int, kinds: Kinds
) -> list[Stored]:
    """The rows just after `ref`."""
    try:
        start = max(floor, _lower(c, target, ref))
    except _Unknown:
        return []
    return page(c, target, limit, after=start, kinds=kinds)


def around(
    c: sqlite3.Connection, target: str, ref: Ref, limit: int, floor: int, kinds: Kinds
) -> list[Stored]:
    """`limit` rows around `ref`: half before it, then the message itself (a msgid) or the
    first at or after the time, and those after; where one side runs out, the other
    gives more."""
    try:
        pivot = _upper(c, target, ref)
    except _Unknown:
        return []
    if pivot is None:  # a time after every row: the newest rows
        return page(c, target, limit, after=floor, newest=True, kinds=kinds)
    half = limit // 2
    earlier = page(c, target, half, after=floor, before=pivot, newest=True, kinds=kinds)
    later = page(c, target, limit - len(earlier), after=max(floor, pivot - 1), kinds=kinds)
    missing = limit - len(earlier) - len(later)
    if missing and len(earlier) == half:
        end = earlier[0].id if earlier else pivot
        more = page(c, target, missing, after=floor, before=end, newest=True, kinds=kinds)
        earlier = more + earlier
    return earlier + later


def between(
    c: sqlite3.Connection,
    target: str,
    first: Ref,
    second: Ref,
    limit: int,
    floor: int,
    kinds: Kinds,
) -> list[Stored]:
    """The rows strictly between two references, counted from `first`: forwards in time
    when `first` is the earlier, else backwards (oldest first in the answer either way)."""
    try:
        start, end = _lower(c, target, first), _upper(c, target, second)
        if end is None or start < end:
            return page(c, target, limit, after=max(floor, start), before=end, kinds=kinds)
        start, end = _lower(c, target, second), _upper(c, target, first)
    except _Unknown:
        return []
    return page(c, target, limit, after=max(floor, start), before=end, newest=True, kinds=kinds)


def _latest_time(
    c: sqlite3.Connection, target: str, low: float, high: float, kinds: Kinds
) -> float | None:
    """When `target`'s latest row with `low <= time < high` was written, if it has one: the
    latest before the first at or after `high` (times follow ids), if not before `low`
    (further back could only be earlier)."""
    place = first_reaching(c, target, high, strictly=False)
    sql = "SELECT time FROM history WHERE target = ? AND id < ?"
    params: list[object] = [target, place if place is not None else 1 << 62]
    if kinds is not None:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params.extend(kinds)
    row = c.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
    return float(row[0]) if row is not None and row[0] >= low else None


_CONVERSATIONS = (
    "SELECT key, one, other, one_name, other_name, last FROM conversations WHERE one = ?"
    " AND last >= ? UNION ALL SELECT key, one, other, one_name, other_name, last"
    " FROM conversations WHERE other = ? AND last >= ?"
)


def _conversations(
    c: sqlite3.Connection, side: str, since: float
) -> list[tuple[str, str, str, float]]:
    """The conversations `side` had that may have spoken at or after `since` (`last` is
    kept to within CONVERSATION_SLACK): (key, the other side's id, the other side's name,
    when it last spoke)."""
    found = []
    since -= CONVERSATION_SLACK
    for key, one, other, one_name, other_name, last in c.execute(
        _CONVERSATIONS, (side, since, side, since)
    ):
        if one == side:
            found.append((key, other, other_name, last))
        else:
            found.append((key, one, one_name, last))
    return found


def targets(
    c: sqlite3.Connection,
    channels: Sequence[tuple[str, str]],
    sides: Sequence[tuple[str, float | None]],
    low: float,
    high: float,
    limit: int,
    ascending: bool,
    kinds: Kinds,
) -> list[tuple[str, float]]:
    """CHATHISTORY TARGETS: of the `channels` (key, name) and of the conversations of the
    requester's `sides` (id, the time their view starts), those with a row in
    `low <= time < high`, as (name, time of the latest such row). The `limit` nearest
    `low` (`ascending`) or nearest `high`; oldest first either way."""
    found: list[tuple[float, str]] = []
    for key, name in channels:
        when = _latest_time(c, key, low, high, kinds)
        if when is not None:
            found.append((when, name))
    seen: set[str] = set()
    for side, since in sides:
        start = low if since is None else max(low, since)
        for key, _, name, _ in _conversations(c, side, start):
            if key in seen:
                continue
            seen.add(key)
            when = _latest_time(c, key, start, high, kinds)
            if when is not None:
                found.append((when, name))
    found.sort()
    chosen = found[:limit] if ascending else found[-limit:]
    return [(name, when) for when, name in chosen]


def conversation_with(
    c: sqlite3.Connection, sides: Sequence[tuple[str, float | None]], nick: str
) -> tuple[str, float | None] | None:
    """Which of the requester's conversations is the one with `nick` (someone not online
    now): one of the requester's `sides` on one end, and on the other that nick (kept by
    nick), or an account of that name or last seen under that nick (kept by account). The
    one that spoke last; (its key, when the requester's view of it starts)."""
    folded = irc_lower(nick)
    best: tuple[float, str, float | None] | None = None
    for side, since in sides:
        for key, other, name, last in _conversations(c, side, 0.0):
            if other.startswith("~"):
                match = other == "~" + folded or irc_lower(name) == folded
            else:
                match = other == folded
            if match and (best is None or last > best[0]):
                best = (last, key, since)
    return None if best is None else (best[1], best[2])
