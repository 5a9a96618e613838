"""tcpchat benchmarks: commands that print figures (not tests).

    python bench/bench.py idle --clients 10000      # memory per idle registered connection

Each run starts its own server on 127.0.0.1 with bench/unlimited.toml (flood, send-queue
and connection limits lifted), pinned to CPU 0 with the load generator on CPU 1 when the
machine has two cores, and stops it afterwards. `--target HOST:PORT` measures a server that
is already running instead (then memory figures need `--server-pid`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNLIMITED = ROOT / "bench" / "unlimited.toml"


# ------------------------------------------------------------------ servers


@dataclass
class ServerProcess:
    host: str
    port: int
    process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pinned(command: list[str], cpu: int) -> list[str]:
    """Pin to one CPU with taskset when there are at least two cores to split."""
    if (os.cpu_count() or 1) >= 2 and subprocess.run(
        ["which", "taskset"], capture_output=True
    ).returncode == 0:
        return ["taskset", "-c", str(cpu), *command]
    return command


def start_tcpchat(extra: list[str] | None = None) -> ServerProcess:
    command = [
        sys.executable,
        str(ROOT / "server.py"),
        "--config",
        str(UNLIMITED),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-console",
        "--log-level",
        "error",
        *(extra or []),
    ]
    proc = subprocess.Popen(pinned(command, 0), stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"Listening on (\S+):(\d+)", line)
        if match:
            return ServerProcess("127.0.0.1", int(match.group(2)), proc)
    raise SystemExit("the server did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_own_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------------------ clients


class IdleClient(asyncio.Protocol):
    """Registers, then only answers PING: the cheapest possible connected user."""

    def __init__(self, nick: str, registered: asyncio.Future[None]) -> None:
        self.nick = nick
        self.registered = registered
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :bench\r\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"PING") and self.transport is not None:
                self.transport.write(b"PONG" + line[4:].rstrip(b"\r") + b"\r\n")
            elif not self.registered.done() and re.search(rb" (376|422) ", line):
                self.registered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.registered.done():
            self.registered.set_exception(ConnectionError(f"{self.nick} lost: {exc}"))


async def hold_idle(host: str, port: int, count: int, concurrency: int = 256) -> list[IdleClient]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: list[IdleClient] = []

    async def one(i: int) -> None:
        async with gate:
            registered: asyncio.Future[None] = loop.create_future()
            _, client = await loop.create_connection(
                lambda: IdleClient(f"idle{i}", registered), host, port
            )
            clients.append(client)
            await asyncio.wait_for(registered, 60)

    await asyncio.gather(*(one(i) for i in range(count)))
    return clients


# ---------------------------------------------------------------- scenarios


def scenario_idle(args: argparse.Namespace) -> None:
    """Memory per idle registered connection, from the server's RSS."""
    raise_own_fd_limit()
    per_conn: list[float] = []
    for run in range(args.runs):
        server = start_tcpchat() if args.target is None else external(args)
        try:
            pid = server.pid or args.server_pid
            baseline = rss_kib(pid) if pid else 0

            async def go() -> tuple[int, float, float]:
                started, cpu = time.perf_counter(), own_cpu_seconds()
                clients = await hold_idle(server.host, server.port, args.clients)
                elapsed, cpu = time.perf_counter() - started, own_cpu_seconds() - cpu
                held = rss_kib(pid) if pid else 0
                for client in clients:
                    if client.transport is not None:
                        client.transport.close()
                return held, elapsed, cpu

            held, elapsed, cpu = asyncio.run(go())
            if pid:
                per_conn.append((held - baseline) * 1024 / args.clients)
                print(
                    f"run {run + 1}: {args.clients} registered in {elapsed:.1f} s "
                    f"({args.clients / elapsed:,.0f}/s; load generator CPU {cpu:.1f} s); "
                    f"server RSS {baseline / 1024:.1f} -> {held / 1024:.1f} MiB, "
                    f"{per_conn[-1]:,.0f} bytes per connection",
                    flush=True,
                )
        finally:
            server.stop()
    if per_conn:
        print(
            f"idle, {args.clients} connections: median {statistics.median(per_conn):,.0f} "
            f"bytes per connection over {len(per_conn)} runs"
        )


def external(args: argparse.Namespace) -> ServerProcess:
    host, _, port = args.target.rpartition(":")
    return ServerProcess(host.strip("[]") or "127.0.0.1", int(port))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    idle = sub.add_parser("idle", help="hold C registered connections; memory per connection")
    idle.add_argument("--clients", type=int, default=10000)
    for p in (idle,):
        p.add_argument("--runs", type=int, default=3)
        p.add_argument("--target", help="HOST:PORT of a running server instead of our own")
        p.add_argument("--server-pid", type=int, help="its pid, for memory figures")
    args = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})  # the load generator keeps off the server's core
    {"idle": scenario_idle}[args.scenario](args)


if __name__ == "__main__":
    main()
