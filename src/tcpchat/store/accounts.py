"""Accounts, their certificate fingerprints, and registered channels, in the database.

Each function takes a connection and runs on the database's thread (`Database.run`); none is
called on the event loop. Names are stored folded (the key) and as registered (shown).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..accounts.scram import ScramKeys
from .database import Database

__all__ = [
    "MIGRATIONS",
    "Account",
    "AccountStore",
    "SqliteAccounts",
    "RegisteredChannel",
    "account_by_certfp",
    "account_names",
    "add_certfp",
    "certfps_of",
    "create_account",
    "delete_account",
    "drop_channel",
    "get_account",
    "get_channel",
    "pending_accounts",
    "registered_channels",
    "remove_certfp",
    "save_channel",
    "set_keys",
    "set_suspended",
    "set_verified",
]

MIGRATIONS = [
    (
        1,
        """
        CREATE TABLE accounts (
            folded TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT,
            salt BLOB NOT NULL,
            iterations INTEGER NOT NULL,
            stored_key BLOB NOT NULL,
            server_key BLOB NOT NULL,
            created REAL NOT NULL,
            verify_code TEXT,
            suspended TEXT
        );
        CREATE TABLE certfps (
            fingerprint TEXT PRIMARY KEY,
            account TEXT NOT NULL REFERENCES accounts (folded) ON DELETE CASCADE
        );
        CREATE INDEX certfps_by_account ON certfps (account);
        CREATE TABLE channels (
            folded TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            founder TEXT NOT NULL REFERENCES accounts (folded) ON DELETE CASCADE,
            registered REAL NOT NULL,
            topic TEXT NOT NULL DEFAULT '',
            topic_setter TEXT NOT NULL DEFAULT '',
            topic_time REAL NOT NULL DEFAULT 0,
            modes TEXT NOT NULL DEFAULT 'nt',
            channel_key TEXT,
            user_limit INTEGER
        );
        CREATE TABLE channel_lists (
            channel TEXT NOT NULL REFERENCES channels (folded) ON DELETE CASCADE,
            letter TEXT NOT NULL,
            mask TEXT NOT NULL,
            setter TEXT NOT NULL,
            set_at REAL NOT NULL,
            PRIMARY KEY (channel, letter, mask)
        );
        CREATE TABLE channel_access (
            channel TEXT NOT NULL REFERENCES channels (folded) ON DELETE CASCADE,
            account TEXT NOT NULL REFERENCES accounts (folded) ON DELETE CASCADE,
            status TEXT NOT NULL,
            PRIMARY KEY (channel, account)
        )
        """,
    ),
]


@dataclass(frozen=True, slots=True)
class Account:
    folded: str
    name: str
    email: str | None
    keys: ScramKeys
    created: float
    verify_code: str | None = None  # waiting for VERIFY when set
    suspended: str | None = None  # the reason, when suspended

    @property
    def verified(self) -> bool:
        return self.verify_code is None


@dataclass(frozen=True, slots=True)
class RegisteredChannel:
    """What a registered channel keeps across restarts."""

    folded: str
    name: str
    founder: str  # folded account name
    registered: float
    topic: str = ""
    topic_setter: str = ""
    topic_time: float = 0.0
    modes: str = "nt"  # flag modes
    key: str | None = None
    limit: int | None = None
    lists: tuple[tuple[str, str, str, float], ...] = ()  # (letter, mask, setter, time)
    access: dict[str, str] = field(default_factory=dict)  # folded account -> 'o' or 'v'


# ------------------------------------------------------------------ accounts


def _account(row: tuple) -> Account:
    folded, name, email, salt, iterations, stored, server, created, code, suspended = row
    keys = ScramKeys(bytes(salt), int(iterations), bytes(stored), bytes(server))
    return Account(folded, name, email, keys, float(created), code, suspended)


_NAMES = (
    "folded", "name", "email", "salt", "iterations", "stored_key", "server_key", "created",
    "verify_code", "suspended",
)  # fmt: skip
_COLUMNS = ", ".join(_NAMES)
_JOINED_COLUMNS = ", ".join(f"a.{name}" for name in _NAMES)


def account_names(c: sqlite3.Connection) -> set[str]:
    """Every account's folded name but those still waiting for VERIFY (nobody's nick yet)."""
    return {row[0] for row in c.execute("SELECT folded FROM accounts WHERE verify_code IS NULL")}


def get_account(c: sqlite3.Connection, folded: str) -> Account | None:
    row = c.execute(f"SELECT {_COLUMNS} FROM accounts WHERE folded = ?", (folded,)).fetchone()
    return _account(row) if row else None


def create_account(c: sqlite3.Connection, account: Account) -> bool:
    """Store a new account; False if the name is taken."""
    keys = account.keys
    try:
        c.execute(
            f"INSERT INTO accounts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account.folded, account.name, account.email, keys.salt, keys.iterations,
             keys.stored_key, keys.server_key, account.created, account.verify_code,
             account.suspended),
        )  # fmt: skip
    except sqlite3.IntegrityError:
        return False
    return True


def set_keys(c: sqlite3.Connection, folded: str, keys: ScramKeys) -> bool:
    cursor = c.execute(
        "UPDATE accounts SET salt = ?, iterations = ?, stored_key = ?, server_key = ? "
        "WHERE folded = ?",
        (keys.salt, keys.iterations, keys.stored_key, keys.server_key, folded),
    )
    return cursor.rowcount == 1


def set_verified(c: sqlite3.Connection, folded: str) -> bool:
    cursor = c.execute("UPDATE accounts SET verify_code = NULL WHERE folded = ?", (folded,))
    return cursor.rowcount == 1


def set_suspended(c: sqlite3.Connection, folded: str, reason: str | None) -> bool:
    cursor = c.execute("UPDATE accounts SET suspended = ? WHERE folded = ?", (reason, folded))
    return cursor.rowcount == 1


def delete_account(c: sqlite3.Connection, folded: str) -> bool:
    """Drop an account, with its fingerprints and the channels it founded."""
    return c.execute("DELETE FROM accounts WHERE folded = ?", (folded,)).rowcount == 1


def pending_accounts(c: sqlite3.Connection) -> list[Account]:
    """The accounts waiting for VERIFY, oldest first."""
    rows = c.execute(
        f"SELECT {_COLUMNS} FROM accounts WHERE verify_code IS NOT NULL ORDER BY created"
    )
    return [_account(row) for row in rows]


# ------------------------------------------------------- certificate fingerprints


def add_certfp(c: sqlite3.Connection, folded: str, fingerprint: str) -> bool:
    """Tie a TLS client certificate's SHA-256 fingerprint to an account; False if some
    account already has it."""
    try:
        c.execute("INSERT INTO certfps VALUES (?, ?)", (fingerprint.lower(), folded))
    except sqlite3.IntegrityError:
        return False
    return True


def remove_certfp(c: sqlite3.Connection, folded: str, fingerprint: str) -> bool:
    cursor = c.execute(
        "DELETE FROM certfps WHERE fingerprint = ? AND account = ?", (fingerprint.lower(), folded)
    )
    return cursor.rowcount == 1


def certfps_of(c: sqlite3.Connection, folded: str) -> list[str]:
    rows = c.execute("SELECT fingerprint FROM certfps WHERE account = ? ORDER BY 1", (folded,))
    return [row[0] for row in rows]


def account_by_certfp(c: sqlite3.Connection, fingerprint: str) -> Account | None:
    row = c.execute(
        f"SELECT {_JOINED_COLUMNS} FROM accounts a "
        "JOIN certfps f ON f.account = a.folded WHERE f.fingerprint = ?",
        (fingerprint.lower(),),
    ).fetchone()
    return _account(row) if row else None


# --------------------------------------------------------- registered channels


def save_channel(c: sqlite3.Connection, channel: RegisteredChannel) -> None:
    """Store a registered channel as it is now (replacing what was kept before), all of it
    or nothing (a savepoint: its own transaction, or part of the caller's)."""
    c.execute("SAVEPOINT save_channel")
    try:
        _save_channel(c, channel)
    except BaseException:
        c.execute("ROLLBACK TO save_channel")
        c.execute("RELEASE save_channel")
        raise
    c.execute("RELEASE save_channel")


def _save_channel(c: sqlite3.Connection, channel: RegisteredChannel) -> None:
    c.execute(
        "INSERT OR REPLACE INTO channels (folded, name, founder, registered, topic, "
        "topic_setter, topic_time, modes, channel_key, user_limit) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (channel.folded, channel.name, channel.founder, channel.registered, channel.topic,
         channel.topic_setter, channel.topic_time, channel.modes, channel.key, channel.limit),
    )  # fmt: skip
    c.execute("DELETE FROM channel_lists WHERE channel = ?", (channel.folded,))
    c.executemany(
        "INSERT INTO channel_lists VALUES (?, ?, ?, ?, ?)",
        [(channel.folded, *entry) for entry in channel.lists],
    )
    c.execute("DELETE FROM channel_access WHERE channel = ?", (channel.folded,))
    c.executemany(
        "INSERT INTO channel_access VALUES (?, ?, ?)",
        [(channel.folded, account, status) for account, status in channel.access.items()],
    )


def get_channel(c: sqlite3.Connection, folded: str) -> RegisteredChannel | None:
    row = c.execute(
        "SELECT folded, name, founder, registered, topic, topic_setter, topic_time, modes, "
        "channel_key, user_limit FROM channels WHERE folded = ?",
        (folded,),
    ).fetchone()
    if row is None:
        return None
    lists = tuple(
        (letter, mask, setter, float(when))
        for letter, mask, setter, when in c.execute(
            "SELECT letter, mask, setter, set_at FROM channel_lists WHERE channel = ? "
            "ORDER BY set_at, mask",
            (folded,),
        )
    )
    access = dict(
        c.execute("SELECT account, status FROM channel_access WHERE channel = ?", (folded,))
    )
    folded, name, founder, registered, topic, setter, topic_time, modes, key, limit = row
    return RegisteredChannel(
        folded, name, founder, float(registered), topic, setter, float(topic_time), modes,
        key, limit, lists, access,
    )  # fmt: skip


def registered_channels(c: sqlite3.Connection) -> list[RegisteredChannel]:
    rows = c.execute("SELECT folded FROM channels ORDER BY folded").fetchall()
    found = [get_channel(c, row[0]) for row in rows]
    return [channel for channel in found if channel is not None]


def drop_channel(c: sqlite3.Connection, folded: str) -> bool:
    return c.execute("DELETE FROM channels WHERE folded = ?", (folded,)).rowcount == 1


# ------------------------------------------------------------- the interface


Done = Callable[[Any], None]


class AccountStore(Protocol):
    """Where accounts and registered channels are kept. Every call returns at once and
    hands its answer to `done` later, on the event loop (so a cluster can put a shared store
    behind the same calls); the core reaches it through `core.later`."""

    def names(self, done: Callable[[set[str]], None]) -> None:
        """Every account's folded name (the server keeps them, to know a nick is owned),
        but those still waiting for VERIFY: their nicks are nobody's yet."""

    def get(self, folded: str, done: Callable[[Account | None], None]) -> None: ...

    def by_certfp(self, fingerprint: str, done: Callable[[Account | None], None]) -> None: ...

    def create(self, account: Account, done: Callable[[bool], None]) -> None: ...

    def update(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        """Run one of this module's functions that changes an account (set_keys,
        set_verified, set_suspended, delete_account, add_certfp, remove_certfp, ...)."""

    def read(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        """Run one of this module's functions that reads (certfps_of, get_channel, ...)."""

    def save_channel(self, channel: RegisteredChannel) -> None:
        """Keep a registered channel as it is now; nobody waits for it."""


class SqliteAccounts:
    """AccountStore over the embedded database (store/database.py)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def names(self, done: Callable[[set[str]], None]) -> None:
        self.database.run(account_names, done)

    def get(self, folded: str, done: Callable[[Account | None], None]) -> None:
        self.database.run(lambda c: get_account(c, folded), done)

    def by_certfp(self, fingerprint: str, done: Callable[[Account | None], None]) -> None:
        self.database.run(lambda c: account_by_certfp(c, fingerprint), done)

    def create(self, account: Account, done: Callable[[bool], None]) -> None:
        self.database.run(lambda c: create_account(c, account), done)

    def update(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        self.database.run(work, done)

    def read(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        self.database.run(work, done)

    def save_channel(self, channel: RegisteredChannel) -> None:
        self.database.run(lambda c: save_channel(c, channel), lambda result: None)
