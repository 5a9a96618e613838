"""Cluster benchmarks that are not a chat scenario (those are `bench.py --servers
tcpchat:cluster=on[:nodes=2]`): they print figures, they are not tests.

    python bench/cluster.py failover --runs 5 --timeout 10   # (c) a dead node noticed
    python bench/cluster.py redis --seconds 5                # (d) events/s through one Redis

failover: two nodes on a private redis-server, a client on each in one room; node B is
killed (SIGKILL) and the time until the client on node A is told its peer quit
(`*.net *.split`) is measured, and until the peer's nick can be taken again.

redis: what one Redis carries before it is the bottleneck. N writers (as N nodes would)
append batches of B real encoded messages with the APPEND script, and N readers read the
bus as nodes do, as fast as they can; events/s and Redis's CPU are printed for each batch
size. A node batches what it emitted in one loop turn, so B grows with the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from servers import ROOT, start_cluster, start_redis

sys.path.insert(0, str(ROOT / "src"))


def line_client(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #room\r\n".encode())
    return sock


def wait_for(sock: socket.socket, text: bytes, timeout: float = 60) -> float:
    """Read until `text` arrives; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    seen = b""
    while text not in seen:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the connection closed")
        seen = seen[-4096:] + chunk
    return time.monotonic()


def failover(args: argparse.Namespace) -> None:
    noticed, freed = [], []
    for run in range(args.runs):
        cluster = start_cluster(
            "auto", None, ROOT, "tcpchat", {"cluster_node_timeout": str(args.timeout)}, 2
        )
        try:
            a, b = cluster.nodes
            alice, bob = line_client(a.port, "alice"), line_client(b.port, "bob")
            wait_for(alice, b":bob!")  # bob's JOIN reached node A
            assert b.process is not None
            killed = time.monotonic()
            os.kill(b.pid or b.process.pid, signal.SIGKILL)
            noticed.append(wait_for(alice, b"QUIT :*.net *.split") - killed)
            while True:  # the nick is free as soon as the reaper freed it
                carol = socket.create_connection(("127.0.0.1", a.port))
                carol.sendall(b"NICK bob\r\nUSER c 0 * :c\r\n")
                got = b""
                while b" 001 " not in got and b" 433 " not in got:
                    got += carol.recv(65536)
                carol.close()
                if b" 001 " in got:
                    freed.append(time.monotonic() - killed)
                    break
            shown = f"QUIT after {noticed[-1]:.2f} s, nick free after {freed[-1]:.2f} s"
            print(f"run {run + 1}: {shown} (cluster_node_timeout {args.timeout} s)", flush=True)
            alice.close()
            bob.close()
        finally:
            cluster.stop()
    print(f"median over {args.runs}: peers told after {statistics.median(noticed):.2f} s "
          f"(min {min(noticed):.2f}, max {max(noticed):.2f}); nick free after "
          f"{statistics.median(freed):.2f} s; timeout {args.timeout} s")  # fmt: skip


async def append_load(url: str, writers: int, batch: int, seconds: float) -> tuple[int, int]:
    """Events appended and events read in `seconds`, by `writers` nodes and as many readers."""
    from redis.asyncio import Redis

    from tcpchat.cluster import keys, scripts
    from tcpchat.cluster.codec import encode_batch
    from tcpchat.core.events import MessageSent

    redis = Redis.from_url(url, decode_responses=True)
    join, append = redis.register_script(scripts.JOIN), redis.register_script(scripts.APPEND)
    stop = time.monotonic() + seconds
    appended = read = 0

    async def writer(index: int) -> None:
        nonlocal appended
        node, epoch = await join(keys=keys.NODE_KEYS, args=["bench", index, "t"])
        events = [MessageSent(time.time(), "o-", k, "PRIVMSG", "u1", "n!u@h", "#room", "#room",
                              None, "x" * 60, None, False) for k in range(batch)]  # fmt: skip
        payload = encode_batch(events, str(node))  # type: ignore[arg-type]
        number = 0
        while time.monotonic() < stop:
            number += 1
            await append(keys=keys.BUS_KEYS,
                         args=[node, epoch, "t", number, batch, payload, 100_000])  # fmt: skip
            appended += batch

    async def reader() -> None:
        nonlocal read
        last = "0-0"
        while time.monotonic() < stop:
            found: Any = await redis.xread({keys.BUS: last}, count=1000, block=100)
            for _, entries in found:
                for entry_id, fields in entries:
                    last = entry_id
                    read += int(fields["k"])

    await redis.flushdb()
    await asyncio.gather(*(writer(i) for i in range(writers)), *(reader() for _ in range(writers)))
    await redis.aclose()
    return appended, read


def redis_capacity(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        proc, url = start_redis(Path(folder))
        try:
            tick = os.sysconf("SC_CLK_TCK")

            def cpu() -> float:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / tick

            print("| batch (events) | writers | events/s appended | events/s read "
                  "(all readers) | Redis CPU |")  # fmt: skip
            print("|---|---|---|---|---|")
            for batch in args.batches:
                before, started = cpu(), time.monotonic()
                appended, read = asyncio.run(
                    append_load(url, args.writers, batch, args.seconds)
                )
                elapsed = time.monotonic() - started
                used = (cpu() - before) / elapsed
                print(f"| {batch} | {args.writers} | {appended / elapsed:,.0f} | "
                      f"{read / elapsed:,.0f} | {used:.0%} |", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("failover", help="(c) how long a dead node takes to be noticed")
    one.add_argument("--runs", type=int, default=5)
    one.add_argument("--timeout", type=float, default=10.0, help="cluster_node_timeout")
    two = sub.add_parser("redis", help="(d) events per second through one Redis")
    two.add_argument("--seconds", type=float, default=5.0)
    two.add_argument("--writers", type=int, default=2)
    two.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    if args.what == "failover":
        failover(args)
    else:
        redis_capacity(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
