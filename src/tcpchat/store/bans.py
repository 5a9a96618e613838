"""Server bans (K-lines and D-lines) in the database, so that they outlast a restart.

Each function takes a connection and runs on the database's thread. Every value is a
parameter (the time included), so a cluster can replay a change on another node's file
(replicated_accounts.py) and get the same row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Ban", "delete_ban", "delete_expired", "load_bans", "save_ban"]

MIGRATIONS = [
    (
        5,
        """
        CREATE TABLE bans (
            kind TEXT NOT NULL,
            mask TEXT NOT NULL,
            reason TEXT NOT NULL,
            setter TEXT NOT NULL,
            set_at REAL NOT NULL,
            expires REAL,
            PRIMARY KEY (kind, mask)
        )
        """,
    ),
]


@dataclass(frozen=True, slots=True)
class Ban:
    """A K-line (kind "K", mask user@host) or a D-line (kind "D", mask an address or a
    network); `expires` is a Unix time, or None for a ban that lasts until lifted."""

    kind: str
    mask: str
    reason: str
    setter: str
    set_at: float
    expires: float | None = None

    def active(self, now: float) -> bool:
        return self.expires is None or self.expires > now


def load_bans(c: sqlite3.Connection) -> list[Ban]:
    """Every ban stored (the core skips any that expired while the server was down)."""
    rows = c.execute("SELECT kind, mask, reason, setter, set_at, expires FROM bans")
    return [Ban(*row) for row in rows]


def save_ban(c: sqlite3.Connection, ban: Ban) -> bool:
    """Store a ban, in place of any earlier one on the same mask."""
    c.execute(
        "INSERT OR REPLACE INTO bans (kind, mask, reason, setter, set_at, expires) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (ban.kind, ban.mask, ban.reason, ban.setter, ban.set_at, ban.expires),
    )
    return True


def delete_ban(c: sqlite3.Connection, kind: str, mask: str) -> bool:
    return c.execute("DELETE FROM bans WHERE kind = ? AND mask = ?", (kind, mask)).rowcount > 0


def delete_expired(c: sqlite3.Connection, now: float) -> int:
    return c.execute("DELETE FROM bans WHERE expires IS NOT NULL AND expires <= ?", (now,)).rowcount
