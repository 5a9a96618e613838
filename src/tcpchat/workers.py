"""`--workers N`: N server processes on one machine, one network.

The supervisor (this module) runs no chat itself. It fixes the ports (a free one is picked
once, here, and held), starts a private `redis-server` on a Unix socket in the data
directory when no `--cluster` URL is given, and starts N workers: each a whole tcpchat
server with `--cluster` at that Redis and `--reuse-port`, so the kernel spreads new
connections over them (SO_REUSEPORT) and the cluster makes them one network. Each worker
keeps its own data directory (`DATA/worker-K`), as a node on another machine would.

A worker that dies is started again (after a pause that grows if it keeps dying); its users
were told it split, and reconnect to the others. SIGTERM or SIGINT stops the workers
gracefully (each tells the network its users left), then Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import Settings

log = logging.getLogger("tcpchat.workers")

REDIS_READY_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0  # seconds a worker has to shut down before it is killed
NO_REDIS = (
    "--workers needs Redis to join its workers into one network: install redis-server "
    "(Debian/Ubuntu: apt-get install redis-server), or give --cluster redis://HOST:PORT/0"
)
NO_REDIS_PY = "--workers needs the cluster extra: pip install 'tcpchat[cluster]'"


class WorkersError(Exception):
    """Why the workers could not start, in one sentence."""


def hold_port(host: str, port: int) -> tuple[int, socket.socket | None]:
    """The port to give every worker: `port` itself, or for 0 a free one picked now, held
    by a socket bound with SO_REUSEPORT (never listening) so no other program takes it."""
    if port != 0:
        return port, None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
    return sock.getsockname()[1], sock


class PrivateRedis:
    """A redis-server of the supervisor's own, on a Unix socket in `folder`, keeping its data
    in an append-only file there (so a restart of the workers finds the network's log)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()  # redis-server resolves paths after it moves there
        self.socket = self.folder / "redis.sock"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise WorkersError(NO_REDIS)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REDIS_READY_TIMEOUT
        while loop.time() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise WorkersError(f"redis-server exited at start (code {self.proc.returncode})")
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_unix_connection(str(self.socket))
                writer.write(b"PING\r\n")
                answer = await reader.readline()
                writer.close()
                if answer.startswith(b"+PONG"):
                    return
            await asyncio.sleep(0.05)  # polling for it to listen, with a deadline
        raise WorkersError("redis-server did not answer in time")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()  # our own process: it saves and exits
        try:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Supervisor:
    """Starts the workers, starts again one that dies, stops them all on a signal."""

    def __init__(
        self, settings: Settings, argv: Sequence[str], say: Callable[[str], None] = print
    ) -> None:
        self.settings = settings
        self.argv = list(argv)
        self.say = say
        self.workers: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = False
        self.held: list[socket.socket] = []
        self.overrides: list[str] = []

    def worker_args(self, index: int, cluster_url: str) -> list[str]:
        data = self.settings.data_dir
        folder = str(Path(data) / f"worker-{index}") if data else "none"
        return [
            sys.executable, "-m", "tcpchat", "server", *self.argv, *self.overrides,
            "--workers", "1", "--cluster", cluster_url, "--reuse-port", "--no-console",
            "--data-dir", folder,
        ]  # fmt: skip

    def fix_ports(self) -> None:
        s = self.settings
        host = s.host
        port, held = hold_port(host, s.port)
        self.overrides += ["--port", str(port)]
        if s.tls_cert:
            tls, held_tls = hold_port(host, s.tls_port)
            self.overrides += ["--tls-port", str(tls)]
            self.held += [each for each in (held_tls,) if each]
        if s.web_port != 0:
            web_host = host if s.web_host is None else s.web_host
            web, held_web = hold_port(web_host, max(s.web_port, 0))
            self.overrides += ["--web-port", str(web)]
            self.held += [each for each in (held_web,) if each]
        self.held += [each for each in (held,) if each]

    async def start_worker(self, index: int, url: str) -> list[str]:
        """Start worker `index`; the lines it printed up to being ready."""
        proc = await asyncio.create_subprocess_exec(
            *self.worker_args(index, url), stdout=asyncio.subprocess.PIPE, env=worker_env()
        )
        self.workers[index] = proc
        printed: list[str] = []
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode(errors="replace"):
            printed.append(line.rstrip("\n"))
            if line.startswith("Server is waiting for connections"):
                break
        asyncio.get_running_loop().create_task(self._echo(index, proc))
        return printed

    def reload(self) -> None:
        """SIGHUP: each worker reloads the config file (they were started with it)."""
        for proc in self.workers.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGHUP)

    async def _echo(self, index: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode(errors="replace"):
            self.say(f"[worker {index}] {line.rstrip()}")

    async def run(self) -> int:
        s = self.settings
        try:
            import redis  # noqa: F401
        except ImportError:
            raise WorkersError(NO_REDIS_PY) from None
        redis_server = None
        url = s.cluster_url
        scratch = None
        if url is None:  # in the data directory; with none, in a folder of its own for now
            if s.data_dir:
                folder = Path(s.data_dir) / "redis"
            else:
                folder = scratch = Path(tempfile.mkdtemp(prefix="tcpchat-redis-"))
            redis_server = PrivateRedis(folder)
            await redis_server.start()
            url = redis_server.url
            self.say(f"Redis: a private redis-server on {redis_server.socket}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            self.fix_ports()
            for index in range(1, s.workers + 1):
                printed = await self.start_worker(index, url)
                if index == 1:
                    for line in printed:
                        if line.startswith("Listening"):
                            self.say(f"{line} ({s.workers} workers)")
                if not printed or not printed[-1].startswith("Server is waiting"):
                    raise WorkersError(f"worker {index} did not start; see its messages above")
            self.say("Server is waiting for connections...")
            watch = loop.create_task(self._watch(url))
            await stop.wait()
            watch.cancel()
            self.say("Shutting down...")
        finally:
            await self._stop_all()
            if redis_server is not None:
                await redis_server.stop()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            for sock in self.held:
                sock.close()
        return 0

    async def _watch(self, url: str) -> None:
        """Start again any worker that exits, waiting longer each time it keeps dying."""
        pauses: dict[int, float] = {}
        while True:
            waits = {
                asyncio.ensure_future(proc.wait()): index for index, proc in self.workers.items()
            }
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for each in pending:
                each.cancel()
            for each in done:
                index = waits[each]
                code = self.workers[index].returncode
                pause = pauses.get(index, 0.0)
                log.warning(
                    "worker %d (pid %d) exited with code %s; starting it again in %.1f s",
                    index, self.workers[index].pid, code, pause,
                )  # fmt: skip
                await asyncio.sleep(pause)
                pauses[index] = min(10.0, max(0.5, pause * 2))
                await self.start_worker(index, url)

    async def _stop_all(self) -> None:
        self.stopping = True
        running = [proc for proc in self.workers.values() if proc.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                await proc.wait()


def worker_env() -> dict[str, str]:
    """The environment of a worker: ours, with this very tcpchat first on its path, so that
    `-m tcpchat` runs the code the supervisor runs (a clone's src/, a compiled build), not
    whichever is installed, if any is."""
    here = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + os.pathsep + path if path else here}


def run_workers(settings: Settings, argv: Sequence[str]) -> int:
    """The supervisor's main: its exit code."""
    try:
        return asyncio.run(Supervisor(settings, argv, say=_say).run())
    except WorkersError as exc:
        print(f"tcpchat: {exc}", file=sys.stderr)
        return 2


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        print(line, flush=True)

