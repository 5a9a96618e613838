"""Real servers on 127.0.0.1 and blocking socket clients that wait on what they read."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tcpchat.config import Settings
from tcpchat.edge.server import ChatServer

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parent.parent


class RunningServer:
    """A ChatServer on its own event loop in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.server: ChatServer | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.server = ChatServer(self.settings)
        await self.server.start()

    def start(self) -> RunningServer:
        self.thread.start()
        assert self.ready.wait(TIMEOUT), "server did not start"
        if self.error:
            raise self.error
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def call(self, func, *args):
        """Run `func` on the server's loop and return its result (for inspecting state)."""
        result: list = []
        done = threading.Event()

        def run() -> None:
            result.append(func(*args))
            done.set()

        self.loop.call_soon_threadsafe(run)
        assert done.wait(TIMEOUT)
        return result[0]

    def stop(self, reason: str = "Server shutting down") -> None:
        if self.loop.is_closed():
            return
        if self.server is not None:
            future = asyncio.run_coroutine_threadsafe(self.server.shutdown(reason), self.loop)
            future.result(TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@contextmanager
def running_server(**settings: object) -> Iterator[RunningServer]:
    base = {
        "host": "127.0.0.1",
        "port": 0,
        "console": False,
        "plain_greeting_delay": 0.3,
        "data_dir": "",  # in memory, unless a test gives a directory
        "web_port": 0,  # off, unless a test asks for it (-1: a free port)
    }
    server = RunningServer(Settings().updated({**base, **settings})).start()
    try:
        yield server
    finally:
        server.stop()


class LineClient:
    """A blocking TCP client that reads until what it expects shows up (or times out)."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        *,
        source: str | None = None,
        first: bytes = b"",
    ) -> None:
        """With `ssl_context`, TLS to the server (the handshake done before returning);
        `source`: the local address to connect from (another loopback one, 127.0.0.2 and
        up); `first`: bytes sent before anything else, TLS included (a PROXY header)."""
        where = (source, 0) if source is not None else None
        sock = socket.create_connection((host, port), timeout=TIMEOUT, source_address=where)
        if first:
            sock.sendall(first)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buffer = b""
        self.seen: list[str] = []

    def send(self, *lines: str | bytes, end: bytes = b"\r\n") -> None:
        for line in lines:
            data = line.encode() if isinstance(line, str) else line
            self.sock.sendall(data + end)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recent(self) -> list[str]:
        """The last lines read, shortened, for failure messages."""
        return [line if len(line) < 120 else line[:117] + "..." for line in self.seen[-15:]]

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; last lines seen: {self.recent()}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"timed out; last lines seen: {self.recent()}") from None
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def readline(self, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if not self._fill(deadline):
                raise AssertionError(f"connection closed; last lines seen: {self.recent()}")
        raw, _, self.buffer = self.buffer.partition(b"\n")
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        self.seen.append(line)
        return line

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Read lines until one matches `pattern` (re.search); return the match."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0.001))
            match = re.search(pattern, line)
            if match:
                return match

    def expect_text(self, text: str, timeout: float = TIMEOUT) -> None:
        """Wait until `text` has arrived, even without a line ending (prompts)."""
        deadline = time.monotonic() + timeout
        data = text.encode()
        while data not in self.buffer:
            lines = self.buffer.split(b"\n")
            self.buffer = lines[-1]
            self.seen.extend(line.rstrip(b"\r").decode("utf-8", "replace") for line in lines[:-1])
            if data in self.buffer:
                break
            if not self._fill(deadline):
                raise AssertionError(f"connection closed before {text!r}; seen {self.recent()}")
        index = self.buffer.index(data) + len(data)
        self.seen.append(self.buffer[:index].decode("utf-8", "replace"))
        self.buffer = self.buffer[index:]

    def expect_closed(self, timeout: float = TIMEOUT) -> list[str]:
        """Read until the server closes the connection; return the lines read."""
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while True:
            while b"\n" in self.buffer:
                self.readline()
            try:
                if not self._fill(deadline):
                    break
            except ConnectionResetError:
                break
        return self.seen[start:]

    def register(self, nick: str, caps: tuple[str, ...] = ()) -> LineClient:
        if caps:
            self.send("CAP LS 302", "CAP REQ :" + " ".join(caps))
        self.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick}")
        if caps:
            self.send("CAP END")
        self.expect(r" 001 ")
        self.expect(r" (376|422) ")
        return self

    def join(self, *rooms: str) -> LineClient:
        """JOIN each room, waiting for the end of its names (366)."""
        for room in rooms:
            self.send(f"JOIN {room}")
            self.expect(rf" 366 \S+ {re.escape(room)} ")
        return self

    def close(self) -> None:
        self.sock.close()


def start_server_process(*args: str) -> tuple[subprocess.Popen, int]:
    """`python server.py --port 0 --no-console ARGS` as a process of its own, and the port
    it printed; the web port is off unless ARGS give one (two such servers at once would
    want the same 8080)."""
    proc, port, _ = start_server_printing(*args)
    return proc, port


SERVER = (str(ROOT / "server.py"),)


def launch_server(*args: str, launcher: Sequence[str] = SERVER) -> subprocess.Popen:
    """The server process start_server_printing starts, returned at once (not yet ready);
    `launcher` is what Python runs (server.py, or a script that starts it its own way)."""
    web = () if "--web-port" in args else ("--web-port", "0")
    return subprocess.Popen(
        [sys.executable, *launcher, "--port", "0", "--no-console", *web, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def start_server_printing(
    *args: str, launcher: Sequence[str] = SERVER
) -> tuple[subprocess.Popen, int, list[str]]:
    """start_server_process, and the lines the server printed up to being ready."""
    proc = launch_server(*args, launcher=launcher)
    assert proc.stdout is not None
    port = 0
    printed: list[str] = []
    for line in proc.stdout:  # blocks until the server prints; the test timeout bounds it
        printed.append(line.rstrip("\n"))
        match = re.match(r"Listening on \S+:(\d+)", line)
        if match:
            port = int(match.group(1))
        if line.startswith("Server is waiting for connections"):
            return proc, port, printed
    raise AssertionError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")


def sees_in(client: LineClient, nick: str, room: str) -> None:
    """`client` joins `room` and finds `nick` there: in the names, or joining after it (a
    reconnecting client may come back before or after)."""
    client.send(f"JOIN {room}")
    room = re.escape(room)
    client.expect(rf" 353 \S+ [=*@] {room} :(.* )?[@+]?{nick}( |$)|^:{nick}!\S+ JOIN {room}$")


@contextmanager
def server_process(
    *args: str, launcher: Sequence[str] = SERVER
) -> Iterator[tuple[subprocess.Popen, int, list[str]]]:
    """start_server_printing on 127.0.0.1: the process, its port and what it printed; killed
    at the end if still running (a test stops it itself to see how it ends)."""
    proc, port, printed = start_server_printing("--host", "127.0.0.1", *args, launcher=launcher)
    try:
        yield proc, port, printed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def web_port_printed(printed: list[str]) -> int:
    """The web port a server process said it listens on."""
    for line in printed:
        match = re.match(r"Listening \(web: https?\) on \S+:(\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no web port in {printed}")


# A server where a client that stops reading is let go within 3 s of its close, and one
# connection per address shows whether it still holds its slot (`quits_without_reading`).
STUCK_SETTINGS: dict[str, object] = {
    "ping_timeout": 3.0, "max_connections_per_address": 1, "flood_rate": 0.0,
    "socket_send_buffer": 4096,
}  # fmt: skip


def quits_without_reading(stuck: socket.socket, server: RunningServer) -> None:
    """`stuck` (connected, a small receive buffer) registers, asks for some 100 KB it never
    reads, under the sendq, and quits: the server closes it and waits for the output to
    leave, holding the address's one slot meanwhile, but only until its ping timeout."""
    stuck.sendall(b"NICK stuck\r\nUSER s 0 * :s\r\n" + b"MOTD\r\n" * 300 + b"QUIT\r\n")
    first = LineClient(server.port)
    first.send("NICK early", "USER e 0 * :e")
    assert any("Too many connections from your address" in line
               for line in first.expect_closed())  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    while server.call(lambda: len(server.server.connections)):  # let go in 3 s
        assert time.monotonic() < deadline, "the closing connection was never let go"
    LineClient(server.port).register("later")  # the slot is free again
    stuck.close()
