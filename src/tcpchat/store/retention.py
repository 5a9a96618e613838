"""Deleting history in small steps: expiry by age and count, and a user's "forget me".

Every function here is one step, run as one job on the database's thread in one transaction,
and does a bounded amount of work (at most `budget` rows deleted, a bounded scan), then says
where the next step goes on. Live messages are written on the same thread, and their
recipients wait for that write (the durability barrier), so a long delete would stall the
chat: many short steps, with writes in between, never do.

The FTS index (`history_text`) follows through the delete trigger of store/history.py.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "FORGET_WINDOW",
    "MESSAGE_KINDS_SQL",
    "ExpiryCursor",
    "drop_empty_conversations",
    "expire_oldest",
    "expire_step",
    "forget_account_step",
    "forget_msgids",
    "last_id",
]

# The kinds of rows that are someone's words (what "forget my messages" deletes).
MESSAGE_KINDS_SQL = "('PRIVMSG', 'NOTICE', 'TAGMSG')"
# Rows of history scanned per step when looking for an account's messages (no index
# has the account: one would cost every write, to speed up a rare command).
FORGET_WINDOW = 20_000


class ExpiryCursor(NamedTuple):
    """Where an expiry pass stands: the target it is at (targets go in name order), and,
    once known, the id at or below which that target's rows are beyond its count."""

    target: str
    boundary: int | None = None
    counted: bool = False  # the boundary was looked for (None then means: none)


def _in_transaction(c: sqlite3.Connection) -> None:
    c.execute("BEGIN IMMEDIATE")


def _finish(c: sqlite3.Connection, ok: bool) -> None:
    c.execute("COMMIT" if ok else "ROLLBACK")


def expire_oldest(
    c: sqlite3.Connection, after: int, cutoff: float, budget: int
) -> tuple[int | None, int]:
    """Delete the rows older than `cutoff` among the `budget` rows after id `after`, in id
    order: the first phase of a pass, cheap since rows are stored in time order (next to
    each other on disk). Returns where the next step starts (None: these rows were all
    newer, the old ones are gone) and how many rows were deleted. An old row after a newer
    one (a clock set back) is left to `expire_step`."""
    row = c.execute(
        "SELECT id FROM history WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?", (after, budget - 1)
    ).fetchone()
    upto = int(row[0]) if row is not None else None
    _in_transaction(c)
    ok = False
    try:
        if upto is None:
            deleted = c.execute(
                "DELETE FROM history WHERE id > ? AND time < ?", (after, cutoff)
            ).rowcount
        else:
            deleted = c.execute(
                "DELETE FROM history WHERE id > ? AND id <= ? AND time < ?",
                (after, upto, cutoff),
            ).rowcount
        ok = True
    finally:
        _finish(c, ok)
    return (upto if deleted and upto is not None else None), deleted


def expire_step(
    c: sqlite3.Connection,
    cursor: ExpiryCursor,
    cutoff: float | None,
    keep: int,
    budget: int,
    targets: int = 50,
    seconds: float = 0.02,
) -> tuple[ExpiryCursor | None, int]:
    """One step of an expiry pass: from `cursor`, delete rows older than `cutoff` (None:
    none are too old) and rows beyond the newest `keep` of each target, at most `budget`
    rows, looking at no more than `targets` targets, and at no more after `seconds` (finding
    a target's count walks up to `keep` entries of an index). Returns where the next step
    starts (None: the pass is over) and how many rows were deleted."""
    deleted = 0
    at = cursor
    deadline = time.perf_counter() + seconds
    _in_transaction(c)
    ok = False
    try:
        for _ in range(targets):
            row = c.execute(
                "SELECT target FROM history WHERE target >= ? ORDER BY target LIMIT 1",
                (at.target,),
            ).fetchone()
            if row is None:
                ok = True
                return None, deleted
            target = row[0]
            if target != at.target:
                at = ExpiryCursor(target)
            if cutoff is not None:
                deleted += c.execute(
                    # the oldest rows, then which are old enough (times follow ids):
                    # a bounded walk, however many rows the target keeps
                    "DELETE FROM history WHERE id IN (SELECT id FROM (SELECT id, time"
                    " FROM history WHERE target = ? ORDER BY id LIMIT ?) WHERE time < ?)",
                    (target, budget - deleted, cutoff),
                ).rowcount
                if deleted >= budget:
                    ok = True
                    return at, deleted
            if not at.counted:
                found = c.execute(
                    "SELECT id FROM history WHERE target = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                    (target, keep),
                ).fetchone()
                at = ExpiryCursor(target, int(found[0]) if found else None, True)
            if at.boundary is not None:
                deleted += c.execute(
                    "DELETE FROM history WHERE id IN (SELECT id FROM history"
                    " WHERE target = ? AND id <= ? ORDER BY id LIMIT ?)",
                    (target, at.boundary, budget - deleted),
                ).rowcount
                if deleted >= budget:
                    ok = True
                    return at, deleted
            at = ExpiryCursor(target + "\0")  # the least name after this target's
            if time.perf_counter() > deadline:
                break
        ok = True
        return at, deleted
    finally:
        _finish(c, ok)


def drop_empty_conversations(c: sqlite3.Connection, after: str, limit: int = 500) -> str | None:
    """Forget conversations with no line of history left, `limit` of them looked at from
    key `after` on; returns the last key looked at (None: all were)."""
    keys = [
        row[0]
        for row in c.execute(
            "SELECT key FROM conversations WHERE key > ? ORDER BY key LIMIT ?", (after, limit)
        )
    ]
    if not keys:
        return None
    _in_transaction(c)
    ok = False
    try:
        c.executemany(
            "DELETE FROM conversations WHERE key = ?"
            " AND NOT EXISTS (SELECT 1 FROM history WHERE target = ?)",
            [(key, key) for key in keys],
        )
        ok = True
    finally:
        _finish(c, ok)
    return keys[-1] if len(keys) == limit else None


def last_id(c: sqlite3.Connection) -> int:
    """The newest row's id (0 with none): where forgetting by account stops scanning."""
    return int(c.execute("SELECT coalesce(max(id), 0) FROM history").fetchone()[0])


def forget_account_step(
    c: sqlite3.Connection, account: str, after: int, last: int, window: int = FORGET_WINDOW
) -> tuple[int | None, int]:
    """Delete the messages sent by `account` among rows `after < id <= min(after + window,
    last)`. Returns where the next step starts (None: done) and how many were deleted."""
    upto = min(after + window, last)
    _in_transaction(c)
    ok = False
    try:
        deleted = c.execute(
            "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE id > ? AND id <= ?"
            f" AND account = ? AND kind IN {MESSAGE_KINDS_SQL})",
            (after, upto, account),
        ).rowcount
        ok = True
    finally:
        _finish(c, ok)
    return (upto if upto < last else None), deleted


def forget_msgids(c: sqlite3.Connection, msgids: Sequence[str]) -> int:
    """Delete the messages with these msgids sent while not logged in (a few hundred at
    most per call); returns how many there were."""
    if not msgids:
        return 0
    marks = ", ".join("?" * len(msgids))
    _in_transaction(c)
    ok = False
    try:
        deleted = c.execute(
            f"DELETE FROM history WHERE msgid IN ({marks}) AND account IS NULL"
            f" AND kind IN {MESSAGE_KINDS_SQL}",
            list(msgids),
        ).rowcount
        ok = True
    finally:
        _finish(c, ok)
    return deleted
