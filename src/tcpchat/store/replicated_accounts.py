"""Accounts, registered channels and server bans (K-lines, D-lines) shared by a cluster's
nodes: each node keeps them in its own SQLite file, and every change one node makes is made
on the others too.

A change is whatever the store's functions (accounts.py) write: `ReplicatedAccounts` runs
them on a connection that notes each statement that changed a row, with its parameters, and
hands the list to `publish` (the core puts it on the bus as a `StoreWritten` event); the
other nodes `replay` the statements on their own files, in the bus's order. The functions
take every value as a parameter (times and keys are computed before), so a statement
replayed does what it did where it was first run. A node that joins takes every row of
these tables from the node that answers its hello (`dump`, `load`).

Account names can't clash between nodes: REGISTER registers the sender's own nick, which the
cluster has already made unique network-wide.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from .accounts import Account, AccountStore, Done, RegisteredChannel, create_account, save_channel
from .database import Database

log = logging.getLogger("tcpchat.store")

Statement = tuple[str, list[Any]]
# What a node holds of accounts and registered channels (the tables accounts.py makes),
# and the server's bans (bans.py), which are written through the same store.
TABLES = ("accounts", "certfps", "channels", "channel_lists", "channel_access", "bans")


class Recorder:
    """A connection that notes the statements that changed something."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.statements: list[Statement] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        cursor = self.connection.execute(sql, params)
        if cursor.rowcount > 0:  # an INSERT, UPDATE or DELETE that touched rows
            self.statements.append((sql, list(params)))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        cursor = self.connection.cursor()
        for row in rows:
            cursor = self.execute(sql, row)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def recorded(work: Callable[[Any], Any]) -> Callable[[sqlite3.Connection], tuple[Any, list]]:
    def run(connection: sqlite3.Connection) -> tuple[Any, list[Statement]]:
        recorder = Recorder(connection)
        return work(recorder), recorder.statements

    return run


def replay(connection: sqlite3.Connection, statements: Sequence[Statement]) -> int:
    """Make another node's changes here; a statement that fails (this node has a row the
    other had not) is logged and the rest go on. Returns how many failed."""
    failed = 0
    for sql, params in statements:
        try:
            connection.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            failed += 1
            log.warning("a change from another node could not be made here: %s", exc)
    return failed


def dump(connection: sqlite3.Connection) -> list[Statement]:
    """Every row of the shared tables, as the statements that make them again."""
    statements: list[Statement] = []
    for table in TABLES:
        cursor = connection.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own names
        columns = [each[0] for each in cursor.description]
        insert = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES " + (
            "(" + ", ".join("?" * len(columns)) + ")"
        )
        statements.extend((insert, list(row)) for row in cursor.fetchall())
    return statements


def load(connection: sqlite3.Connection, statements: Sequence[Statement]) -> int:
    """Take the network's accounts and channels instead of this file's own, in one step."""
    connection.execute("SAVEPOINT load_network")
    for table in reversed(TABLES):
        connection.execute(f"DELETE FROM {table}")  # noqa: S608 - our own names
    failed = replay(connection, statements)
    connection.execute("RELEASE load_network")
    return failed


class ReplicatedAccounts:
    """An AccountStore whose changes reach every node (see the module docstring)."""

    def __init__(
        self,
        inner: AccountStore,
        database: Database,
        publish: Callable[[list[Statement]], None],
        changed: Callable[[], None],
    ) -> None:
        self.inner = inner
        self.database = database
        self.publish = publish  # hands this node's changes to the bus
        self.changed = changed  # another node's changes were made here (names may differ)

    def names(self, done: Callable[[set[str]], None]) -> None:
        self.inner.names(done)

    def get(self, folded: str, done: Callable[[Account | None], None]) -> None:
        self.inner.get(folded, done)

    def by_certfp(self, fingerprint: str, done: Callable[[Account | None], None]) -> None:
        self.inner.by_certfp(fingerprint, done)

    def read(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        self.inner.read(work, done)

    def create(self, account: Account, done: Callable[[bool], None]) -> None:
        self.update(lambda c: create_account(c, account), done)

    def update(self, work: Callable[[sqlite3.Connection], Any], done: Done) -> None:
        def finished(outcome: tuple[Any, list[Statement]] | None) -> None:
            if outcome is None:  # the database failed; the caller is told as ever
                done(None)
                return
            result, statements = outcome
            if statements:
                self.publish(statements)
            done(result)

        self.database.run(recorded(work), finished)

    def save_channel(self, channel: RegisteredChannel) -> None:
        self.update(lambda c: save_channel(c, channel), lambda result: None)

    def replay(self, statements: Sequence[Statement]) -> None:
        """Another node's changes, in the bus's order."""
        self.database.run(lambda c: replay(c, statements), lambda failed: self.changed())

    def dump(self, done: Callable[[list[Statement] | None], None]) -> None:
        self.database.run(dump, done)

    def load(self, statements: Sequence[Statement]) -> None:
        """A joining node takes the network's accounts and registered channels."""
        self.database.run(lambda c: load(c, statements), lambda failed: self.changed())
