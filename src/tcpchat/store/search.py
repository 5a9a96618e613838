"""SEARCH in the database: the messages of some targets that match words (FTS5), newest
first or from a time on.

The words are a person's: each becomes an FTS5 string (`"word"`, its quotes doubled), so no
character of theirs is FTS5 syntax (no `OR`, `NEAR`, `*`, column filters or syntax errors),
and all of them must be in a message for it to match. The tokenizer (unicode61) matches
whole words, case and accents aside.

Runs on the database's thread, like store/history.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .history import Stored

__all__ = ["Found", "Query", "conversations_of", "fts_query", "search"]


class Query(NamedTuple):
    """What to look for. `targets` are the only ones searched (those the asker may read),
    and `recent` too but only from `since` on."""

    targets: Sequence[str]
    words: Sequence[str]  # all must match; none: any message
    sender: str | None  # a folded nick
    after: float | None
    before: float | None
    limit: int
    recent: Sequence[str] = ()
    since: float = 0.0


class Found(NamedTuple):
    """A message found, and the target it was sent to (a channel's folded name or a
    conversation's key)."""

    row: Stored
    target: str


def fts_query(words: Iterable[str]) -> str:
    """The FTS5 query matching messages with every one of `words`: each a quoted string,
    so nothing in them is taken as FTS5 syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def conversations_of(c: sqlite3.Connection, sides: Sequence[str]) -> list[tuple[str, ...]]:
    """The conversations one of whose sides is in `sides`: (key, one, other, one_name,
    other_name) each."""
    marks = ", ".join("?" * len(sides))
    return [
        tuple(row)
        for row in c.execute(
            "SELECT key, one, other, one_name, other_name FROM conversations"
            f" WHERE one IN ({marks}) OR other IN ({marks})",
            [*sides, *sides],
        )
    ]


_COLUMNS = "h.id, h.msgid, h.time, h.kind, h.account, h.line, h.tags, h.lines, h.target"


def _filters(query: Query, params: list[object]) -> str:
    """The conditions on sender and time that both kinds of search add (their values go
    to `params`)."""
    sql = ""
    if query.sender is not None:
        sql += " AND h.sender = ?"
        params.append(query.sender)
    if query.after is not None:
        sql += " AND h.time >= ?"
        params.append(query.after)
    if query.before is not None:  # at or before, to the millisecond a timestamp shows
        sql += " AND h.time < ?"
        params.append(query.before + 0.001)
    return sql


def search(c: sqlite3.Connection, query: Query) -> list[Found]:
    """The messages (PRIVMSG and NOTICE) of `query.targets` that match, at most
    `query.limit`: the newest, or with `after` the oldest from then on; oldest first."""
    if not query.targets and not query.recent:
        return []
    if not query.words:
        return _without_words(c, query)
    params: list[object] = []
    sql = (
        f"SELECT {_COLUMNS} FROM history_text JOIN history h ON h.id = history_text.rowid"
        " WHERE history_text MATCH ? AND"
    )
    params.append(fts_query(query.words))
    order = "history_text.rowid"
    where = []
    if query.targets:
        where.append(f"h.target IN ({', '.join('?' * len(query.targets))})")
        params.extend(query.targets)
    if query.recent:
        where.append(f"(h.target IN ({', '.join('?' * len(query.recent))}) AND h.time >= ?)")
        params.extend([*query.recent, query.since])
    sql += f" ({' OR '.join(where)}) AND h.kind IN ('PRIVMSG', 'NOTICE')" + _filters(query, params)
    newest = query.after is None
    sql += f" ORDER BY {order} {'DESC' if newest else 'ASC'} LIMIT ?"
    params.append(query.limit)
    found = [Found(Stored(*row[:8]), row[8]) for row in c.execute(sql, params)]
    if newest:
        found.reverse()
    return found


def _without_words(c: sqlite3.Connection, query: Query) -> list[Found]:
    """No words: each target's newest (or oldest from `after`) through its own index,
    then the newest of them all; one query over every target at once would sort them all."""
    newest = query.after is None
    sql = f"SELECT {_COLUMNS} FROM history h WHERE h.target = ? AND h.kind IN ('PRIVMSG', 'NOTICE')"
    common: list[object] = []
    sql += _filters(query, common)
    sql += f" ORDER BY h.id {'DESC' if newest else 'ASC'} LIMIT ?"
    rows: list[Found] = []
    since: list[tuple[str, float | None]] = [(target, None) for target in query.targets]
    since += [(target, query.since) for target in query.recent]
    for target, floor in since:
        params = [target, *common, query.limit]
        each = sql if floor is None else sql.replace(" ORDER BY", " AND h.time >= ? ORDER BY")
        if floor is not None:
            params.insert(-1, floor)
        rows.extend(Found(Stored(*row[:8]), row[8]) for row in c.execute(each, params))
    rows.sort(key=lambda found: found.row.id, reverse=newest)
    rows = rows[: query.limit]
    if newest:
        rows.reverse()
    return rows
