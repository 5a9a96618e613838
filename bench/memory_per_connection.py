"""Where an idle registered connection's bytes go (issue 17, goal 2): a measurement, not a test.

    python bench/memory_per_connection.py                      # 2000 clients, asyncio and uvloop
    python bench/memory_per_connection.py --clients 2000 --rss-clients 10000 --loops uvloop

For each event loop it prints three views of one idle registered connection (a client that
sent NICK and USER and got the welcome, in no channel: what `bench.py idle` holds):

1. RSS per connection measured the bench's way (bench.py run_idle): a real server process
   with bench/unlimited.toml, its VmRSS before and after the clients connect, over N.
   unlimited.toml turns flood control off; `--flood` measures with it as it is by default
   (each connection then has a flood gate).
2. tracemalloc in a server run in a child process of this script (so that the clients'
   allocations are not counted): a snapshot after a warm-up (50 clients that came and left,
   so one-time caches are filled), another with N clients held; the difference over N,
   grouped by file:line (top 25).
3. The objects of one connection: everything reachable from its TcpConnection (and, under
   asyncio, from its selector key) that is not reachable from another connection, each
   sized with sys.getsizeof, by type and by path; and the per-entry cost of each index
   (dict or set) that holds one item per connection.

The clients are bench/loadgen.py's, as bench.py's are.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import linecache
import logging
import os
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

from loadgen import BenchClient, connect_clients
from measured import close_all
from servers import ROOT, UNLIMITED, start_tcpchat

WARM_UP = 50
TOP = 25
FLOOD_SETTINGS = ("flood_burst", "flood_rate", "flood_max_queued")


# ------------------------------------------------------------- the traced server (child)


def reach(roots: list[Any], stop: set[int]) -> dict[int, Any]:
    """Every object reachable from `roots` without passing through `stop` (the hub, core,
    loop and indexes: shared by every connection), types, modules and functions."""
    seen: dict[int, Any] = {}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in seen or key in stop:
            continue
        if isinstance(obj, type | ModuleType | FunctionType | BuiltinFunctionType):
            continue
        if isinstance(obj, asyncio.AbstractEventLoop | asyncio.AbstractServer):
            continue
        if type(obj).__name__ in ("Server", "Loop", "ChatServer", "Settings"):
            continue
        seen[key] = obj
        stack.extend(gc.get_referents(obj))
    return seen


def connection_roots(conn: Any, loop: asyncio.AbstractEventLoop) -> list[Any]:
    """The connection, and what the loop keeps for it apart from it (asyncio: its selector
    key, with the read callback's Handle)."""
    roots: list[Any] = [conn]
    selector = getattr(loop, "_selector", None)
    transport = conn.transport
    if selector is not None and transport is not None:
        fd = getattr(transport, "fd", None)  # ours (socket_transport.py), or asyncio's
        roots.append(selector.get_map()[transport._sock_fd if fd is None else fd])
    return roots


def owned_objects(server: Any, core: Any) -> tuple[list[Any], list[tuple[str, int, int]]]:
    """The objects one connection owns alone, and the indexes (name, size, entries)."""
    conns = [c for c in server.connections if c.session is not None and c.session.registered]
    a, b = conns[len(conns) // 2], conns[len(conns) // 2 + 1]
    state = core.state
    indexes = {
        "server.connections (dict)": server.connections,
        "router.sessions (uid -> Session)": core.router.sessions,
        "state.nicks (folded nick -> User)": state.nicks,
        "state.by_uid (uid -> User)": state.by_uid,
    }
    stop = {id(x) for x in (server, core, server.loop, server.settings, state, core.router)}
    stop |= {id(x) for x in indexes.values()}
    stop |= {id(x) for x in vars(server).values() if isinstance(x, dict | set | list)}
    stop |= {id(c) for c in conns if c is not a and c is not b}
    stop |= {id(c.session) for c in conns if c is not a and c is not b}
    mine = reach(connection_roots(a, server.loop), stop | {id(b), id(b.session)})
    theirs = reach(connection_roots(b, server.loop), stop | {id(a), id(a.session)})
    owned = [obj for key, obj in mine.items() if key not in theirs]
    sized = [(name, sys.getsizeof(x), len(x)) for name, x in indexes.items()]
    return owned, sized


def describe(obj: Any) -> str:
    name = type(obj).__qualname__
    module = type(obj).__module__
    where = "" if module == "builtins" else module.replace("tcpchat.", "") + "."
    slots = "" if hasattr(obj, "__dict__") or module == "builtins" else " (no __dict__)"
    if isinstance(obj, str | bytes | bytearray):
        return f"{name} {bytes(obj[:40]) if not isinstance(obj, str) else obj[:40]!r}"
    if isinstance(obj, tuple | list | dict | set | frozenset):
        return f"{name} len {len(obj)}"
    return f"{where}{name}{slots}"


def shown_path(filename: str) -> str:
    for marker in ("/src/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("site-packages/", 1)[-1]
    return filename


def default_flood() -> dict[str, str]:
    """Flood control's settings as they are by default (unlimited.toml turns it off)."""
    sys.path.insert(0, str(ROOT / "src"))
    from tcpchat.config import Settings

    defaults = Settings()
    return {name: str(getattr(defaults, name)) for name in FLOOD_SETTINGS}


async def traced_server(event_loop: str, data_dir: str, flood: bool) -> None:
    from tcpchat.config import Settings
    from tcpchat.edge.server import ChatServer

    logging.basicConfig(level=logging.ERROR)
    settings = Settings.from_toml(UNLIMITED).updated({
        "host": "127.0.0.1", "port": 0, "console": False, "data_dir": data_dir,
        "web_port": 0, "event_loop": event_loop,
    })  # fmt: skip
    if flood:
        defaults = Settings()
        settings = settings.updated({name: getattr(defaults, name) for name in FLOOD_SETTINGS})
    server = ChatServer(settings)
    await server.start()
    loop = asyncio.get_running_loop()
    print(f"port {server.port} {type(loop).__module__}.{type(loop).__name__}", flush=True)

    async def said() -> str:
        return (await loop.run_in_executor(None, sys.stdin.readline)).strip()

    assert await said() == "baseline"
    while server.connections:  # the warm-up clients are leaving
        await asyncio.sleep(0.05)
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    print("ready", flush=True)
    clients = int(await said())
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(1 for c in server.connections if c.session and c.session.registered)
    stats = after.compare_to(before, "lineno")
    total = sum(s.size_diff for s in stats)
    lines = []
    for stat in stats[:TOP]:
        frame = stat.traceback[0]
        source = linecache.getline(frame.filename, frame.lineno).strip()[:70]
        lines.append([stat.size_diff / clients, stat.count_diff / clients,
                      f"{shown_path(frame.filename)}:{frame.lineno}", source])  # fmt: skip
    owned, indexes = owned_objects(server, server.core)
    by_type: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for obj in owned:
        by_type[describe(obj)] += sys.getsizeof(obj)
        counts[describe(obj)] += 1
    report = {
        "loop": f"{type(loop).__module__}.{type(loop).__name__}",
        "flood": ", flood control on (defaults)" if flood else "",
        "clients": clients,
        "registered": held,
        "traced_per_connection": total / clients,
        "top": lines,
        "objects": [[name, counts[name], size] for name, size in by_type.most_common()],
        "indexes": indexes,
    }
    print("report " + json.dumps(report), flush=True)
    await said()  # the clients have gone
    await server.shutdown("measured")


# ------------------------------------------------------------- the load generator (parent)


async def hold(host: str, port: int, count: int, prefix: str) -> list[BenchClient]:
    clients = await connect_clients(host, port, [f"{prefix}{i}" for i in range(count)], set(), None)
    await asyncio.gather(*(c.sync() for c in clients[-10:]))
    return clients


async def rss_per_connection(event_loop: str, count: int, flood: bool) -> tuple[float, str]:
    """bench.py run_idle's figure: (VmRSS held - VmRSS before) / N, of a real server process."""
    server = start_tcpchat(event_loop=event_loop, settings=default_flood() if flood else None)
    try:
        baseline = server.rss_kib()
        clients = await hold(server.host, server.port, count, "i")
        held = server.rss_kib()
        close_all(clients)
    finally:
        server.stop()
    return (held - baseline) * 1024 / count, f"RSS {baseline / 1024:.1f} -> {held / 1024:.1f} MiB"


async def traced(event_loop: str, count: int, flood: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        child = subprocess.Popen(
            [sys.executable, __file__, "--traced-server", event_loop, "--data-dir", folder,
             *(["--flood"] if flood else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        reader, writer = child.stdout, child.stdin
        loop = asyncio.get_running_loop()

        async def heard() -> str:  # the clients' transports keep running meanwhile
            return await loop.run_in_executor(None, reader.readline)

        def say(text: str) -> None:
            writer.write(text + "\n")
            writer.flush()

        try:
            port = int((await heard()).split()[1])
            close_all(await hold("127.0.0.1", port, WARM_UP, "w"))
            say("baseline")
            assert (await heard()).strip() == "ready"
            clients = await hold("127.0.0.1", port, count, "i")
            say(str(count))
            line = await heard()
            close_all(clients)
            await asyncio.sleep(0.5)
            say("done")
            await loop.run_in_executor(None, child.wait, 30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    return json.loads(line.removeprefix("report "))


def print_report(event_loop: str, rss: list[tuple[int, float, str]], report: dict) -> None:
    n = report["clients"]
    print(f"\n## event_loop = {event_loop} ({report['loop']}){report['flood']}\n")
    for count, per, note in rss:
        print(f"RSS per connection, the bench's way, {count} clients: {per:7.0f} B  ({note})")
    print(f"tracemalloc, all allocations still held over {n} clients "
          f"({report['registered']} registered): {report['traced_per_connection']:.0f} B per "
          f"connection\n")  # fmt: skip
    print(f"top {TOP} allocation sites, per connection:")
    print(f"{'bytes':>8} {'blocks':>6}  site")
    for size, blocks, site, source in report["top"]:
        print(f"{size:8.1f} {blocks:6.2f}  {site}  | {source}")
    print("\nobjects one connection owns alone (sys.getsizeof; strings, tuples shown by value):")
    total = 0
    for name, count, size in report["objects"]:
        total += size
        print(f"{size:8d} B {count:3d} x {name}")
    print(f"{total:8d} B in all (Python objects only: no libuv/kernel memory, no malloc slack)")
    print("\nindexes with an entry per connection (getsizeof of the container / its entries):")
    for name, size, entries in report["indexes"]:
        print(f"{size / max(entries, 1):8.1f} B  {name}  ({entries} entries, {size} B)")


async def main_async(args: argparse.Namespace) -> None:
    for event_loop in args.loops.split(","):
        rss = []
        for count in sorted({args.clients, args.rss_clients or args.clients}):
            per, note = await rss_per_connection(event_loop, count, args.flood)
            rss.append((count, per, note))
        print_report(event_loop, rss, await traced(event_loop, args.clients, args.flood))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000, help="N (default 2000)")
    parser.add_argument("--rss-clients", type=int, help="also the RSS figure at this many")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--flood", action="store_true",
                        help="flood control on, as by default (unlimited.toml turns it off)")
    parser.add_argument("--traced-server", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.traced_server:
        sys.path.insert(0, str(ROOT / "src"))
        factory = None
        if args.traced_server == "uvloop":
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(traced_server(args.traced_server, args.data_dir, args.flood))
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"# python {sys.version.split()[0]}, pid {os.getpid()}", flush=True)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
