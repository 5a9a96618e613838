"""The embedded database on real SQLite files: opening, migrations, the mistakes a person can
make with a data directory, and the database thread's order and group commits."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tcpchat.errors import StoreError
from tcpchat.store.database import DB_NAME, Database

ROOT = Path(__file__).resolve().parent.parent
V1 = [(1, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")]
V2 = [*V1, (2, "ALTER TABLE notes ADD COLUMN author TEXT; CREATE INDEX by_a ON notes (author)")]


class Loop:
    """Stands in for the event loop's thread: callbacks posted to it run when `drain` runs."""

    def __init__(self) -> None:
        self.callbacks: queue.SimpleQueue = queue.SimpleQueue()

    def post(self, callback) -> None:
        self.callbacks.put(callback)

    def next(self, timeout: float = 10.0) -> None:
        self.callbacks.get(timeout=timeout)()


def notes(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / DB_NAME) as connection:
        return connection.execute("SELECT * FROM notes ORDER BY id").fetchall()


def test_a_new_data_directory_is_made_migrated_and_kept_in_wal_mode(tmp_path):
    folder = tmp_path / "data" / "deeper"
    db = Database(folder, V1)
    db.open()
    assert db.version == 1 and (folder / DB_NAME).exists()
    db.write([("INSERT INTO notes (text) VALUES (?)", ("hello",))])
    db.close()
    with sqlite3.connect(folder / DB_NAME) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db = Database(folder, V2)  # the next version of tcpchat: migrated forward, data kept
    db.open()
    assert db.version == 2
    db.close()
    assert notes(folder) == [(1, "hello", None)]


def test_a_database_from_a_newer_tcpchat_is_refused_and_left_as_it_is(tmp_path):
    db = Database(tmp_path, V2)
    db.open()
    db.close()
    before = (tmp_path / DB_NAME).read_bytes()
    with pytest.raises(StoreError, match=r"newer tcpchat \(schema 2; this one knows up to 1\)"):
        Database(tmp_path, V1).open()
    assert (tmp_path / DB_NAME).read_bytes() == before


def test_a_file_that_is_no_database_is_named_with_what_to_do(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="is not a tcpchat database, or it is damaged.*move it"):
        Database(tmp_path, V1).open()


def test_a_second_server_on_the_same_directory_is_told_so(tmp_path):
    first = Database(tmp_path, V1)
    first.open()
    try:
        with pytest.raises(StoreError, match="another tcpchat server is using the data directory"):
            Database(tmp_path, V1).open()
        # and from another process, as a second `python server.py` would be
        code = textwrap.dedent(f"""
            import sys; sys.path.insert(0, {str(ROOT / "src")!r})
            from tcpchat.store.database import Database
            from tcpchat.errors import StoreError
            try:
                Database(__import__("pathlib").Path({str(tmp_path)!r}), []).open()
            except StoreError as exc:
                print(exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert "another tcpchat server is using the data directory" in out.stdout
    finally:
        first.close()
    Database(tmp_path, V1).open()  # released at close


def test_a_directory_that_cannot_be_written_is_named(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: drop the capability
            code = textwrap.dedent(f"""
                import sys; sys.path.insert(0, {str(ROOT / "src")!r})
                from pathlib import Path
                from tcpchat.store.database import Database
                from tcpchat.errors import StoreError
                try:
                    Database(Path({str(folder)!r}), []).open()
                except StoreError as exc:
                    print(exc)
            """)
            out = subprocess.run(
                ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
                 sys.executable, "-c", code],
                capture_output=True, text=True,
            )  # fmt: skip
            message = out.stdout
        else:
            with pytest.raises(StoreError) as caught:
                Database(folder, []).open()
            message = str(caught.value)
        assert f"the data directory {folder} is not writable" in message
    finally:
        folder.chmod(0o700)


def test_in_memory_for_throwaway_servers(tmp_path):
    db = Database(None, V1)
    db.open()
    results: list = []
    db.write([("INSERT INTO notes (text) VALUES (?)", ("x",))])
    db.run(lambda c: c.execute("SELECT text FROM notes").fetchall(), results.append)
    assert results == [[("x",)]]
    db.close()
    assert list(tmp_path.iterdir()) == []


def test_jobs_run_in_order_on_the_database_thread_and_waiting_writes_commit_together(tmp_path):
    loop = Loop()
    db = Database(tmp_path, V1, post=loop.post)
    db.open()
    seen: list = []
    committed: list = []
    for n in range(50):
        db.write([("INSERT INTO notes (text) VALUES (?)", (f"line {n}",))], committed.append)
    db.run(lambda c: c.execute("SELECT count(*) FROM notes").fetchone()[0], seen.append)
    db.write([("INSERT INTO notes (text) VALUES (?)", (None,))], committed.append)  # fails
    db.run(lambda c: 1 / 0, seen.append)  # a failing read: logged, answered with None
    for _ in range(53):
        loop.next()
    assert seen == [50, None]
    assert committed == [True] * 50 + [False]
    db.close()
    assert [text for _, text in notes(tmp_path)] == [f"line {n}" for n in range(50)]


def test_a_read_runs_beside_a_write_that_waits_and_sees_what_was_committed(tmp_path):
    """History's reads have their own connection: a write stuck behind another process's
    lock does not hold them up (nor they a write)."""
    loop = Loop()
    database = Database(tmp_path, V1, post=loop.post)
    database.open()
    answers: list = []
    database.write([("INSERT INTO notes (text) VALUES (?)", ("one",))], answers.append)
    loop.next()
    assert answers == [True]
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        database.write([("INSERT INTO notes (text) VALUES (?)", ("two",))], answers.append)
        database.read(lambda c: c.execute("SELECT text FROM notes").fetchall(), answers.append)
        loop.next()  # the read's answer comes first: the write is still waiting
        assert answers == [True, [("one",)]]
    finally:
        other.execute("ROLLBACK")
        other.close()
    loop.next()
    assert answers == [True, [("one",)], True]
    database.read(lambda c: c.execute("SELECT count(*) FROM notes").fetchone()[0], answers.append)
    loop.next()
    assert answers[-1] == 2
    database.close()


def test_settle_waits_for_the_writes_asked_for_and_runs_their_answers_in_order(tmp_path):
    """The loop may wait for its commit (`settle`): it gets the answers then, in the
    writer's order, each once; a write held up (here by another process's lock) is waited
    for no longer than the timeout, and is answered when it is done."""
    loop = Loop()
    database = Database(tmp_path, V1, post=loop.post)
    database.open()
    answers: list = []
    database.run(lambda c: "a read first", answers.append)
    database.write([("INSERT INTO notes (text) VALUES (?)", ("one",))], answers.append)
    assert database.settle(10.0) is True
    assert answers == ["a read first", True]
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        database.write([("INSERT INTO notes (text) VALUES (?)", ("two",))], answers.append)
        assert database.settle(0.05) is False
        assert answers == ["a read first", True]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert database.settle(10.0) is True
    assert answers == ["a read first", True, True]
    while not loop.callbacks.empty():  # the posted deliveries find nothing left to run
        loop.next()
    assert answers == ["a read first", True, True]
    database.close()
    assert [text for _, text in notes(tmp_path)] == ["one", "two"]


def test_the_log_is_checkpointed_into_the_file_off_the_writers_thread(tmp_path):
    """Commits only append to the write-ahead log; a thread of its own copies the log into
    the database file (checkpoints.py), so no commit, and no turn's output waiting for it,
    pays for a checkpoint. The file itself, read without the log, has every row."""
    loop = Loop()
    database = Database(tmp_path, V1, post=loop.post)
    database.open()
    try:
        answers: list = []
        for n in range(200):  # far fewer pages than the writer's own checkpoint waits for
            database.write([("INSERT INTO notes (text) VALUES (?)", (f"line {n}",))],
                           answers.append)  # fmt: skip
        assert database.settle(10.0) and answers == [True] * 200
        checkpointer = database.checkpointer
        assert checkpointer is not None
        checkpointer.ran.clear()
        assert checkpointer.ran.wait(10.0)  # a checkpoint that began after the commits
        uri = f"file:{tmp_path / DB_NAME}?immutable=1"  # the file alone, without the log
        with sqlite3.connect(uri, uri=True) as alone:
            assert alone.execute("SELECT count(*) FROM notes").fetchone()[0] == 200
    finally:
        database.close()
