"""A tcpchat server whose history store is changed for a measurement (issue 17, goal 3):
never a way to run the chat.

    python bench/bench.py pairs --servers tcpchat:history=off,tcpchat,tcpchat:store=free
    python bench/bench.py pairs --servers tcpchat:history=off,tcpchat,tcpchat:store=apart

`store=free`: everything history does on the event loop runs (rows built, handed to the
database's thread, the turn's output held until they are "committed"), but the thread skips
the statements that write history rows and index them, so the difference from `tcpchat` is
what SQLite costs, and the difference from `history=off` what history costs the loop.

`store=apart`: the real store, its threads (`tcpchat-db*`: writes, reads, checkpoints) moved
to CPU 1 while the event loop stays on CPU 0: what the store would cost on a core of its
own. CPU 1 is the load generator's on a two-core machine (it uses a tenth of it in `pairs`),
so this is a bound, not a clean split. SQLite's own work runs without the interpreter's lock
there; the rows' handling in Python still takes it, from the loop.

    python bench/store_variant.py free|apart CHECKOUT [server.py's arguments...]
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STORE_CPU = 1  # where `apart` moves the store's threads


def drop_history_rows() -> None:
    """`free`: the database's commits leave out history's rows and their search index."""
    from tcpchat.store.database import Database
    from tcpchat.store.history import INDEX_TEXT, INSERT_ROW

    skipped = (INSERT_ROW, INDEX_TEXT)  # the history's own statements: the rows, their index
    commit = Database._commit

    def commit_without_history(
        self: Database, writes: list[tuple[Sequence[tuple[str, Any]], Any]]
    ) -> None:
        commit(self, [
            ([(sql, params) for sql, params in statements if sql not in skipped], done)
            for statements, done in writes
        ])  # fmt: skip

    Database._commit = commit_without_history  # type: ignore[method-assign]


def store_apart() -> None:
    """`apart`: each of the store's threads moves itself to STORE_CPU as it starts."""
    run = threading.Thread.run

    def run_apart(self: threading.Thread) -> None:
        if self.name.startswith("tcpchat-db"):
            os.sched_setaffinity(0, {STORE_CPU})  # 0: the calling thread, on Linux
        run(self)

    threading.Thread.run = run_apart  # type: ignore[method-assign]


def main() -> int:
    variant, root = sys.argv[1], Path(sys.argv[2]).resolve()
    sys.path.insert(0, str(root / "src"))
    from tcpchat_boot import prefer_compiled

    prefer_compiled(root)  # as server.py does: the store is never compiled, so it is patched
    from tcpchat.cli import script_main

    {"free": drop_history_rows, "apart": store_apart}[variant]()
    sys.argv = [str(root / "server.py"), *sys.argv[3:]]
    return script_main(prog="server.py")


if __name__ == "__main__":
    sys.exit(main())
