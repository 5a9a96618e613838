"""What SQLite charges for history written a row per message against a row per conversation
per commit (a "block" of its lines as JSON): the question behind issue 17's goal 3b.

Under load, the server's commits are large: in `bench.py pairs` with history on, a commit
holds about 2,400 rows, 20 per conversation (500 of them). This writes commits of that
shape into two new database files: the server's own (its schema, settings and statements,
from tcpchat.store) against a table of blocks with the same kinds of index, and prints the
cost a message, with and without the search index.

python bench/history_blocks.py [--commits 60] [--per 20] [--conversations 120]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tcpchat.store.database import Database  # noqa: E402
from tcpchat.store.history import INDEX_TEXT, INSERT_ROW  # noqa: E402
from tcpchat.store.schema import MIGRATIONS  # noqa: E402

# A block: one conversation's lines of one commit (the JSON `body`), the serials of its
# msgids from `low` to `high`, and its text for the search index. Not the server's: the idea.
BLOCKS = """
CREATE TABLE blocks (id INTEGER PRIMARY KEY, target TEXT NOT NULL, first REAL NOT NULL,
    last REAL NOT NULL, origin TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL,
    body TEXT NOT NULL, text TEXT);
CREATE INDEX blocks_in_order ON blocks (target, id, last);
CREATE INDEX blocks_by_serial ON blocks (origin, low);
CREATE VIRTUAL TABLE blocks_text USING fts5 (text, content='blocks', content_rowid='id');
"""
INSERT_BLOCK = (
    "INSERT INTO blocks (target, first, last, origin, low, high, body, text)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def words(count: int) -> str:
    return " ".join(
        "".join(random.choices(string.ascii_lowercase, k=random.randint(2, 8)))
        for _ in range(count)
    )


def open_blocks(path: Path) -> sqlite3.Connection:
    """The blocks' database, with the settings the server gives its own."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(BLOCKS)
    return connection


def write_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]], search: bool) -> None:
    """A commit as the server writes it (History.write): the rows, then their text indexed."""
    db.execute("BEGIN")
    db.executemany(INSERT_ROW, rows)
    if search:
        db.execute(INDEX_TEXT)
    db.execute("COMMIT")


def write_blocks(db: sqlite3.Connection, rows: list[tuple[Any, ...]], search: bool) -> None:
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    blocks = []
    for target, lines in groups.items():
        body = json.dumps([list(row[1:9]) for row in lines], separators=(",", ":"))
        text = "\n".join(row[9] for row in lines if row[9])
        low, high = int(lines[0][1][3:]), int(lines[-1][1][3:])
        blocks.append((target, lines[0][2], lines[-1][2], "abc", low, high, body, text))
    db.execute("BEGIN")
    first = db.execute("SELECT coalesce(max(id), 0) FROM blocks").fetchone()[0]
    db.executemany(INSERT_BLOCK, blocks)
    if search:
        db.execute(
            "INSERT INTO blocks_text (rowid, text) SELECT id, text FROM blocks WHERE id > ?",
            (first,),
        )
    db.execute("COMMIT")


def measure(commits: int, conversations: int, per: int, search: bool) -> tuple[float, float]:
    """µs a message: a row each, and a block per conversation per commit."""
    folder = Path(tempfile.mkdtemp(prefix="history-blocks-"))
    database = Database(folder / "rows", MIGRATIONS)
    database.open()
    blocks_db = open_blocks(folder / "blocks.db")
    serial, spent_rows, spent_blocks, messages = 0, 0.0, 0.0, 0
    for _ in range(commits):
        commit = []
        for k in range(conversations):
            for _ in range(per):
                serial += 1
                text = words(8)
                line = f":u{k}!u@h PRIVMSG v{k} :{text}"
                commit.append((f"conv{k}", f"abc{serial}", time.time(), "PRIVMSG", f"u{k}",
                               None, line, None, None, text))  # fmt: skip
        random.shuffle(commit)  # conversations interleave, ids follow the serials
        commit.sort(key=lambda row: int(row[1][3:]))
        messages += len(commit)
        started = time.perf_counter()
        database.run_now(functools.partial(write_rows, rows=commit, search=search))
        spent_rows += time.perf_counter() - started
        started = time.perf_counter()
        write_blocks(blocks_db, commit, search)
        spent_blocks += time.perf_counter() - started
    database.close()
    blocks_db.close()
    return spent_rows / messages * 1e6, spent_blocks / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--per", type=int, default=20, help="lines per conversation a commit")
    parser.add_argument("--conversations", type=int, default=120)
    args = parser.parse_args()
    for search in (True, False):
        rows, blocks = measure(args.commits, args.conversations, args.per, search)
        said = "with" if search else "without"
        print(f"{said} the search index: a row each {rows:.1f} µs a message, "
              f"a block per conversation {blocks:.1f} ({rows / blocks:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
