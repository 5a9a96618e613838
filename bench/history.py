"""History at scale: a database of a million lines, its size, and how fast it is read.

    python bench/history.py                   # 1,000,000 rows; size; page() and CHATHISTORY
    python bench/history.py --rows 200000 --runs 3
    python bench/history.py --quick           # tiny numbers: a smoke run

1. Builds a data directory whose database holds --rows lines of history, written as the
   server writes them (store/history.py's INSERT_ROW, then INDEX_TEXT for the FTS index), in
   large transactions: messages of realistic length (most 20-120 characters) from a few hundred
   nicks, in --channels channels and as many private conversations, over the last day.
   The busiest channel, #room, holds a tenth of them.
2. Prints the file's size per million lines, and how much of it is the FTS index (SQLite's
   dbstat), the table, and its other indexes.
3. Times `page(c, "#room", 100, newest=True)` (CHATHISTORY LATEST's query) on one thread:
   queries per second, the median of --runs.
4. Starts this checkout's server on that data directory and, when it offers CHATHISTORY
   (ISUPPORT), times `CHATHISTORY LATEST #room * 100` over the wire: requests per second,
   one client asking one at a time, and --clients clients at once. A server without it is
   skipped, saying so.

The machine should be otherwise idle; run variants in the same invocation to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from servers import ROOT, Server, start_tcpchat

sys.path.insert(0, str(ROOT / "src"))

from tcpchat.store.database import DB_NAME, Database  # noqa: E402
from tcpchat.store.history import (  # noqa: E402
    INDEX_TEXT,
    INSERT_CONVERSATION,
    INSERT_ROW,
    Row,
    conversation_key,
    page,
)
from tcpchat.store.schema import MIGRATIONS  # noqa: E402

ROOM = "#room"
WORDS = (  # noqa: SIM905 (a sentence of words reads better than 85 quoted strings)
    "the a to and of is it you that in i for on this was be with have are not but so what "
    "just can do if at we my about all like get they from or your one when there out how "
    "would know think up no time good now then yes well see will some people here thanks "
    "server client build release patch channel message history test bug fix merge branch "
    "commit review deploy config database query index search log error crash restart"
).split()


# ------------------------------------------------------------------ building


def message_text(rng: random.Random) -> str:
    """A chat line: mostly 20-120 characters, now and then a long one (a paste, a link)."""
    length = min(int(rng.lognormvariate(3.9, 0.6)), 400)
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def build(data_dir: Path, rows: int, channels: int, seed: int = 13) -> float:
    """A data directory whose database holds `rows` lines of history; returns seconds."""
    rng = random.Random(seed)
    nicks = [f"user{i}" for i in range(max(channels * 4, 8))]
    names = [ROOM] + [f"#chan{i}" for i in range(1, channels)]
    pairs = [(rng.choice(nicks), rng.choice(nicks)) for _ in range(channels)]
    conversations = [conversation_key(a, b) for a, b in pairs if a != b]
    now = time.time()
    started = now - 86400  # a day of history, so no retention by age takes it
    origin = f"{int(started):x}{rng.getrandbits(40):010x}-"
    database = Database(data_dir, MIGRATIONS)
    database.open()
    began = time.perf_counter()

    def write(c: sqlite3.Connection) -> None:
        batch: list[Row] = []
        for i in range(rows):
            nick = rng.choice(nicks)
            source = f"{nick}!~{nick}@{nick}.example.net"
            text = message_text(rng)
            when = started + 86400 * i / rows
            draw = rng.random()
            if draw < 0.1:
                target = shown = ROOM
            elif draw < 0.85 or not conversations:
                target = shown = rng.choice(names)
            else:
                key, one, other = rng.choice(conversations)
                target, shown = key, other
            line = f":{source} PRIVMSG {shown} :{text}"
            batch.append(
                Row(target, f"{origin}{i}", when, "PRIVMSG", nick, None, line, None, None, text)
            )
            if len(batch) == 20000 or i == rows - 1:
                c.execute("BEGIN")
                c.executemany(INSERT_ROW, batch)
                c.execute(INDEX_TEXT)
                c.execute("COMMIT")
                batch = []
        c.execute("BEGIN")
        talks = [(key, one, other, one, other, now) for key, one, other in conversations]
        c.executemany(INSERT_CONVERSATION, talks)
        c.execute("COMMIT")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    try:
        database.run_now(write)
    finally:
        database.close()
    return time.perf_counter() - began


def sizes(path: Path) -> dict[str, int]:
    """Bytes on disk by part: the FTS index, the history table, its indexes, the rest."""
    import sqlite3

    c = sqlite3.connect(path)
    try:
        parts = {"fts": 0, "table": 0, "indexes": 0, "other": 0}
        for name, size in c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            if name.startswith("history_text"):
                parts["fts"] += size
            elif name == "history":
                parts["table"] += size
            elif name.startswith("history_by"):
                parts["indexes"] += size
            else:
                parts["other"] += size
        return parts
    finally:
        c.close()


# ------------------------------------------------------------------- reading


def time_pages(path: Path, queries: int, runs: int) -> list[float]:
    """page(#room, 100, newest=True) per second, one thread, one figure per run."""
    import sqlite3

    c = sqlite3.connect(path, isolation_level=None)
    try:
        assert len(page(c, ROOM, 100, newest=True)) == 100, "the room has too few lines"
        rates = []
        for _ in range(runs):
            began = time.perf_counter()
            for _ in range(queries):
                page(c, ROOM, 100, newest=True)
            rates.append(queries / (time.perf_counter() - began))
        return rates
    finally:
        c.close()


class Client:
    """A registered IRC connection that asks CHATHISTORY and reads each reply's batch."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.isupport: dict[str, str] = {}

    @classmethod
    async def connect(cls, server: Server, nick: str) -> Client:
        reader, writer = await asyncio.open_connection(server.host, server.port, limit=1 << 22)
        client = cls(reader, writer)
        writer.write(b"CAP LS 302\r\n")
        offered: set[str] = set()
        while True:
            line = await client.line()
            if " CAP " in line and " LS " in line:
                offered |= {cap.partition("=")[0] for cap in line.rpartition(":")[2].split()}
                if " LS * " not in line:
                    break
        wanted = {"batch", "draft/chathistory", "server-time", "message-tags"} & offered
        if wanted:
            writer.write(f"CAP REQ :{' '.join(sorted(wanted))}\r\n".encode())
        writer.write(f"CAP END\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        while True:
            parts = (await client.line()).split()
            if len(parts) > 1 and parts[1] == "005":
                for token in parts[3:]:
                    if token.startswith(":"):
                        break
                    key, _, value = token.partition("=")
                    client.isupport[key] = value
            if len(parts) > 1 and parts[1] in ("376", "422"):
                return client

    async def line(self) -> str:
        raw = await self.reader.readline()
        if not raw:
            raise ConnectionError("the server closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def join(self, channel: str) -> None:
        self.writer.write(f"JOIN {channel}\r\n".encode())
        while True:
            parts = (await self.line()).split()
            if len(parts) > 2 and parts[1] in ("366", "403", "405", "471", "473", "474"):
                return

    async def latest(self, target: str, limit: int) -> int:
        """One CHATHISTORY LATEST; the lines of history its batch held."""
        self.writer.write(f"CHATHISTORY LATEST {target} * {limit}\r\n".encode())
        count = 0
        while True:
            line = await self.line()
            body = line.split(" ", 1)[1] if line.startswith("@") else line
            parts = body.split(" ", 3)
            if len(parts) > 1 and parts[1] == "FAIL" or parts[0] == "FAIL":
                raise RuntimeError(f"CHATHISTORY failed: {line}")
            if len(parts) > 1 and parts[1] == "BATCH" and parts[2].startswith("-"):
                return count
            if len(parts) > 1 and parts[1] in ("PRIVMSG", "NOTICE"):
                count += 1

    def close(self) -> None:
        self.writer.close()


async def time_chathistory(server: Server, requests: int, clients: int) -> list[float]:
    """[one client, one request at a time; `clients` at once]: requests per second, or []
    when the server offers no CHATHISTORY."""
    first = await Client.connect(server, "reader0")
    if "CHATHISTORY" not in first.isupport:
        first.close()
        return []
    await first.join(ROOM)
    got = await first.latest(ROOM, 100)
    if got != 100:
        raise RuntimeError(f"CHATHISTORY LATEST {ROOM} * 100 returned {got} lines")
    began = time.perf_counter()
    for _ in range(requests):
        await first.latest(ROOM, 100)
    single = requests / (time.perf_counter() - began)
    readers = [first]
    for i in range(1, clients):
        reader = await Client.connect(server, f"reader{i}")
        await reader.join(ROOM)
        readers.append(reader)
    each = max(requests // clients, 1)

    async def ask(reader: Client) -> None:
        for _ in range(each):
            await reader.latest(ROOM, 100)

    began = time.perf_counter()
    await asyncio.gather(*(ask(reader) for reader in readers))
    together = each * clients / (time.perf_counter() - began)
    for reader in readers:
        reader.close()
    return [single, together]


# -------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=100, help="channels (and conversations)")
    parser.add_argument("--queries", type=int, default=2000, help="page() calls per run")
    parser.add_argument("--requests", type=int, default=1000, help="CHATHISTORY requests per run")
    parser.add_argument("--clients", type=int, default=4, help="CHATHISTORY clients at once")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="build the data directory here and keep it")
    parser.add_argument("--no-server", action="store_true", help="skip the CHATHISTORY part")
    parser.add_argument(
        "--server-root",
        metavar="DIR",
        type=Path,
        default=ROOT,
        help="the checkout whose server answers CHATHISTORY (default this one; its schema must "
        "know this one's)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.channels, args.queries, args.requests = 3000, 5, 50, 20
        args.runs, args.clients = 1, 2
    if args.keep:
        data_dir = Path(args.keep)
        if (data_dir / DB_NAME).exists():
            raise SystemExit(f"{data_dir / DB_NAME} exists: give --keep a new directory")
        cleanup = None
    else:
        cleanup = tempfile.mkdtemp(prefix="bench-history-")
        data_dir = Path(cleanup)
    try:
        return measure(data_dir, args)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def measure(data_dir: Path, args: argparse.Namespace) -> int:
    seconds = build(data_dir, args.rows, args.channels)
    path = data_dir / DB_NAME
    print(f"# built {args.rows:,} rows in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s)")
    total = path.stat().st_size
    parts = sizes(path)
    per_million = 1e6 / args.rows / 2**20
    print(
        f"database size: {total * per_million:,.0f} MiB per million messages "
        f"(FTS index {parts['fts'] * per_million:,.0f}, table {parts['table'] * per_million:,.0f}, "
        f"indexes {parts['indexes'] * per_million:,.0f}, other {parts['other'] * per_million:,.0f}"
        f"); {total / args.rows:,.0f} bytes per message, "
        f"{(total - parts['fts']) / args.rows:,.0f} without FTS"
    )
    rates = time_pages(path, args.queries, args.runs)
    room = args.rows // 10
    print(
        f"page({ROOM}, 100, newest=True): {statistics.median(rates):,.0f} queries/s "
        f"(median of {len(rates)}; one thread; {ROOM} holds ~{room:,} rows)"
    )
    if args.no_server:
        return 0
    # No retention while measuring: the lines must all be there to be read.
    server = start_tcpchat(
        root=args.server_root.resolve(),
        settings={
            "data_dir": str(data_dir),
            "history_days": "0",
            "history_max_per_target": str(max(args.rows, 1)),
        },
    )
    try:
        runs = [asyncio.run(time_chathistory(server, args.requests, args.clients))]
        while runs[0] and len(runs) < args.runs:
            runs.append(asyncio.run(time_chathistory(server, args.requests, args.clients)))
    finally:
        server.stop()
    if not runs[0]:
        print("CHATHISTORY LATEST: skipped (the server offers no CHATHISTORY in ISUPPORT)")
        return 0
    single = statistics.median(run[0] for run in runs)
    together = statistics.median(run[1] for run in runs)
    print(
        f"CHATHISTORY LATEST {ROOM} * 100: {single:,.0f} requests/s one at a time, "
        f"{together:,.0f} requests/s with {args.clients} clients (median of {len(runs)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
