"""The embedded database: one SQLite file in the data directory, owned by one thread.

The event loop never waits on the disk. Every read and write runs on the database's own
thread, in the order asked; `run(work, done)` hands `work` a connection there and `done` its
result back on the loop, which is how the core's operations that finish later (`core.later`)
reach the database. Writes asked for in one loop turn go in one transaction. The loop may
wait a few milliseconds for the writes it asked for (`settle`): see there why.

Opening checks what a person starting the server can get wrong, each with one clear line: a
directory that can't be made or written, a file that is no database (or a damaged one), a
database written by a newer tcpchat (never silently rewritten), and another server using the
same directory (a lock file). The schema is versioned; `MIGRATIONS` bring an older file up to
date at start, inside a transaction.

With no path (`data_dir = ""`, `--data-dir none`), the database lives in memory and is gone
at exit: for tests and throwaway servers.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from .checkpoints import BACKSTOP_PAGES, Checkpointer

__all__ = ["DB_NAME", "Database", "Many", "Migration", "StoreError"]

log = logging.getLogger("tcpchat.store")

DB_NAME = "tcpchat.sqlite3"
LOCK_NAME = "tcpchat.lock"
T = TypeVar("T")
Migration = tuple[int, str]  # (the version it brings the schema to, the SQL script)


class Many(list[Sequence[Any]]):
    """A write's parameters for one statement run once per row (`executemany`): how a
    loop turn's history goes in, at a fraction of the cost of one statement per row."""


class Database:
    """One SQLite database and the thread that owns it; see the module docstring."""

    def __init__(
        self,
        data_dir: Path | None,
        migrations: Sequence[Migration],
        *,
        synchronous: str = "NORMAL",
        post: Callable[[Callable[[], None]], Any] | None = None,
    ) -> None:
        """`post` runs a callback on the event loop's thread (loop.call_soon_threadsafe);
        without one the database runs inline, in the caller's thread (the sans-IO core's
        tests, and tools)."""
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME if data_dir is not None else None
        self.migrations = sorted(migrations)
        self.synchronous = synchronous
        self.post = post
        self.version = 0
        self._lock_file: int | None = None
        self.checkpointer: Checkpointer | None = None  # a file's, with a writer thread
        self._connection: sqlite3.Connection | None = None
        # (work, done) to run, or (statements, done) to write; None stops the thread.
        self._jobs: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Reads that may run beside the writes (`read`): their own connection and thread,
        # started at the first such read (a file database only: WAL lets readers in).
        self._reads: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        # The writer thread's answers, in its order, for the loop to run (`_deliver`).
        self._answers: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._settled = threading.Condition()
        self._writes_asked = 0  # writes handed to the thread (the loop counts)
        self._writes_done = 0  # of which committed or failed (the thread counts)

    # ----------------------------------------------------------- opening

    def open(self) -> None:
        """Open (creating if needed) and bring the schema up to date. Raises StoreError."""
        if self.data_dir is not None:
            self._prepare_directory(self.data_dir)
        if self.post is None:
            self._connection = self._connect()
            return
        ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

        def serve() -> None:
            try:
                self._connection = self._connect()
            except BaseException as exc:  # reported to the opener, in its thread
                ready.put(exc)
                return
            ready.put(None)
            self._serve()

        self._thread = threading.Thread(target=serve, name="tcpchat-db", daemon=True)
        self._thread.start()
        failure = ready.get()
        if failure is not None:
            self._thread.join()
            self._thread = None
            raise failure
        if self.path is not None:
            self.checkpointer = Checkpointer(self.path)
            self.checkpointer.start()

    def _prepare_directory(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot make the data directory {folder}: {exc.strerror}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"the data directory {folder} is not writable by this user; "
                "fix its permissions or choose another with --data-dir"
            )
        try:
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open {folder / LOCK_NAME}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"another tcpchat server is using the data directory {folder}; stop it, "
                "or give this one its own with --data-dir"
            ) from None
        self._lock_file = fd

    def _connect(self) -> sqlite3.Connection:
        where = str(self.path) if self.path is not None else ":memory:"
        try:
            connection = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA foreign_keys = ON")
            if self.path is not None:
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: SQLite would not use WAL mode ({mode})")
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            if self.path is not None and self.post is not None:  # see checkpoints.py
                connection.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            self._migrate(connection)
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        return connection

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc)
        where = self.path or "the in-memory database"
        if "not a database" in text or "malformed" in text:
            return (
                f"{where} is not a tcpchat database, or it is damaged ({text}); move it "
                "aside (a backup may restore it) and start again for a new one"
            )
        if "readonly" in text or "read-only" in text:
            return f"{where} is read-only; fix its permissions or choose another --data-dir"
        if "locked" in text:
            return f"{where} is locked by another program ({text}); stop it and start again"
        return f"{where}: {text}"

    def _migrate(self, connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] or 0
        newest = self.migrations[-1][0] if self.migrations else 0
        if version > newest:
            raise StoreError(
                f"{self.path} was written by a newer tcpchat (schema {version}; this one knows "
                f"up to {newest}); run the newer tcpchat, or give this one another --data-dir"
            )
        for target, script in self.migrations:
            if target <= version:
                continue
            # A file's migration is news for the operator; a fresh in-memory one is not.
            log.log(logging.INFO if self.path else logging.DEBUG,
                    "database schema %d -> %d", version, target)  # fmt: skip
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version VALUES (?)", (target,))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            version = target
        self.version = version

    # ------------------------------------------------------------ working

    def run(self, work: Callable[[sqlite3.Connection], T], done: Callable[[T], None]) -> None:
        """Run `work(connection)` on the database's thread, in order with every other job,
        and then `done(result)` on the loop. A failure is logged and `done` gets None, so
        a client's pending command always finishes."""
        if self._thread is None:
            self._run(work, done)
        else:
            self._jobs.put((work, done))

    def read(self, work: Callable[[sqlite3.Connection], T], done: Callable[[T], None]) -> None:
        """`run`, for a query that may take a while (history): on a reader thread with its
        own connection, so the writes (every loop turn's history, which output waits for)
        never queue behind it. It sees what was committed before it started, nothing
        written later; in memory, or without threads, it is `run`."""
        if self._thread is None or self.path is None:
            self.run(work, done)
            return
        if self._reader is None:
            self._reader = threading.Thread(target=self._serve_reads, name="tcpchat-db-read",
                                            daemon=True)  # fmt: skip
            self._reader.start()
        self._reads.put((work, done))

    def _serve_reads(self) -> None:
        assert self.path is not None
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA query_only = ON")
            while (job := self._reads.get()) is not None:
                self._run(*job, connection)
        finally:
            connection.close()

    def run_now(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on the database's thread and wait for its result: only
        while the server starts, before it listens (what it must know before anyone joins).
        A failure raises StoreError."""
        if self._thread is None:
            connection = self._connection
            assert connection is not None, "the database is not open"
            return work(connection)
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

        def attempt(connection: sqlite3.Connection) -> None:
            try:
                answer.put((True, work(connection)))
            except Exception as exc:  # told to the waiting caller
                answer.put((False, exc))

        self._jobs.put((attempt, lambda _: None))
        ok, result = answer.get()
        if not ok:
            raise StoreError(f"{self.path or 'the in-memory database'}: {result}")
        return result

    def write(
        self,
        statements: Sequence[tuple[str, Sequence[Any]]],
        done: Callable[[bool], None] | None = None,
    ) -> None:
        """Run statements in a transaction on the database's thread, then `done(ok)` on the
        loop once they are committed (or failed: logged, and ok is False). Writes that wait
        together are committed together: one transaction, one sync to disk."""
        if self._thread is None:
            self._commit([(statements, done)])
        else:
            self._writes_asked += 1
            self._jobs.put((statements, done))

    def settle(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until every write asked for so far is done, then
        run the answers that are in, on the loop, in order; whether they all were.

        Why the loop would wait: where it shares a core with the database's thread (one
        core, or a busy machine), that thread only runs when the loop blocks, and otherwise
        gets the interpreter's lock back from it one statement at a time; a turn's output,
        which waits for its commit, then leaves a turn or two later, while memory fills
        with what waits. Blocking here hands the thread the core at once: the commit (no
        sync to disk with synchronous=NORMAL) takes about a millisecond, and the output
        leaves in the same turn. A disk that stalls holds the loop no longer than
        `timeout`; the output then waits for the commit as it would have."""
        if self._thread is None:
            return True
        with self._settled:
            settled = self._settled.wait_for(
                lambda: self._writes_done >= self._writes_asked, timeout
            )
        self._deliver()
        return settled

    def _run(
        self,
        work: Callable[[sqlite3.Connection], Any],
        done: Callable[[Any], None],
        connection: sqlite3.Connection | None = None,
    ) -> None:
        """`work` on `connection` (the writer's when not given), `done(result)` after: None
        if it failed (logged)."""
        reader = connection is not None
        connection = connection or self._connection
        assert connection is not None, "the database is not open"
        try:
            result: Any = work(connection)
        except Exception:
            log.exception("a database operation failed")
            result = None
        if reader and self.post is not None:  # not in order with the writer's answers
            self.post(lambda: done(result))
        else:
            self._answer(done, result)

    def _commit(self, writes: list[tuple[Sequence[tuple[str, Sequence[Any]]], Any]]) -> None:
        connection = self._connection
        assert connection is not None, "the database is not open"
        ok = True
        try:
            connection.execute("BEGIN")
            for statements, _ in writes:
                for sql, params in statements:
                    if type(params) is Many:
                        connection.executemany(sql, params)
                    else:
                        connection.execute(sql, params)
            connection.execute("COMMIT")
        except sqlite3.Error:
            log.exception("a database write failed; %d statements were not stored", len(writes))
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            ok = False
        for _, done in writes:
            if done is not None:
                self._answer(done, ok)
        if self.post is not None:
            with self._settled:
                self._writes_done += len(writes)
                self._settled.notify()

    def _answer(self, done: Callable[[Any], None], result: Any) -> None:
        """`done(result)` on the loop, after the writer thread's earlier answers: posted,
        unless `settle` runs it first."""
        if self.post is None:
            done(result)
        else:
            self._answers.append((done, result))
            self.post(self._deliver)

    def _deliver(self) -> None:
        """On the loop: run the writer thread's answers that are in, oldest first."""
        answers = self._answers
        while answers:
            done, result = answers.popleft()
            done(result)

    def _serve(self) -> None:
        """The database's thread: jobs in order; writes that wait together, in one commit."""
        jobs = self._jobs
        held: tuple[Any, Any] | None = None  # a job taken while gathering writes, run next
        while True:
            job = held if held is not None else jobs.get()
            held = None
            if job is None:
                return
            first, done = job
            if callable(first):
                self._run(first, done)
                continue
            writes = [job]
            stop = False
            while not jobs.empty():
                following = jobs.get()
                if following is None:
                    stop = True
                    break
                if callable(following[0]):
                    held = following
                    break
                writes.append(following)
            self._commit(writes)
            if stop:
                return

    def close(self) -> None:
        """Finish the jobs asked for, then close the file and release the directory."""
        if self._reader is not None:
            self._reads.put(None)
            self._reader.join()
            self._reader = None
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None


def _statements(script: str) -> list[str]:
    """A migration script's statements: split at semicolons, but a trigger's body (whose
    statements end in semicolons too) stays whole until SQLite says it is complete."""
    statements: list[str] = []
    current = ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current.strip())
            current = ""
    return statements
