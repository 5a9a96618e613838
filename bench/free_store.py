"""A tcpchat server whose database discards history rows: what a store costing nothing
would reach (issue 17, goal 3). Measurement only, never a way to run the chat.

    python bench/bench.py pairs --servers tcpchat:history=off,tcpchat,tcpchat:store=free

The variant `store=free` starts a checkout's server through this file: everything history
does on the event loop runs (rows built, handed to the database's thread, the turn's output
held until they are "committed"), but the thread skips the statements that write history
rows and index them, so the difference from `tcpchat` is what SQLite costs, and the
difference from `history=off` what history costs the loop.

    python bench/free_store.py CHECKOUT [server.py's arguments...]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(root / "src"))
    from tcpchat_boot import prefer_compiled

    prefer_compiled(root)  # as server.py does: the store is never compiled, so it is patched
    from tcpchat.cli import script_main
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
    sys.argv = [str(root / "server.py"), *sys.argv[2:]]
    return script_main(prog="server.py")


if __name__ == "__main__":
    sys.exit(main())
