"""Checkpoints of the write-ahead log, on a thread of their own.

SQLite in WAL mode appends each commit to the log and, once the log holds about a thousand
pages, copies them back into the database inside the commit that crossed the mark: that
commit then takes tens of milliseconds, with two syncs to disk, and the loop turn whose
output waits for it (the durability barrier) is late for everyone. Here a thread checkpoints
every `INTERVAL` seconds with its own connection, PASSIVE (never waiting for a reader or
the writer), so commits only append; the writer's own checkpoint stays as a backstop, at
`BACKSTOP_PAGES`, should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["BACKSTOP_PAGES", "INTERVAL", "Checkpointer"]

log = logging.getLogger("tcpchat.store")

INTERVAL = 0.5  # seconds between two checkpoints
BACKSTOP_PAGES = 20_000  # the writer checkpoints in a commit only past this (80 MB of log)


class Checkpointer:
    """A thread checkpointing one database file's log until `stop`."""

    def __init__(self, path: Path, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.ran = threading.Event()  # set after each checkpoint (the tests wait on it)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tcpchat-db-checkpoint",
                                        daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the checkpoint under way, if one is."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _serve(self) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)  # fmt: skip
        except sqlite3.Error:
            log.exception("no checkpoints off the writer's thread: cannot open %s", self.path)
            return
        try:
            while not self._stopping.wait(self.interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.ran.set()
                except sqlite3.Error as exc:  # busy, or the disk: the next one tries again
                    log.warning("a checkpoint of the database's log failed: %s", exc)
        finally:
            connection.close()
