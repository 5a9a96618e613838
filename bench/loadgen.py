"""The load generator's IRC clients: lean asyncio protocols, no line parsing on the hot path.

Every benchmark message is `PRIVMSG <target> :<sender> <seq> <sent_ns>`. Every receiver counts
the message lines it gets, which is exact for loss and duplication in total. A sample of
receivers, the auditors, also parse every line: each sender's messages must arrive exactly
once and in order, and the timestamps give the latency.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable

MESSAGE = re.compile(rb"PRIVMSG \S+ :(\d+) (\d+) (\d+)\r?$", re.MULTILINE)
REGISTERED = re.compile(rb"^\S+ (376|422) ", re.MULTILINE)


class BenchClient(asyncio.Protocol):
    """One connection: registers, answers PING, counts (and maybe audits) messages."""

    def __init__(self, nick: str, audit: bool = False) -> None:
        self.nick = nick
        self.audit = audit
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.counting = False
        self.received = 0
        self.expected = 0
        self.done: asyncio.Future[None] | None = None
        self.waiting: list[tuple[bytes, asyncio.Future[None]]] = []
        self.next_seq: dict[int, int] = {}  # auditors: sender -> next sequence number
        self.errors: list[str] = []
        self.latencies_ns: list[int] = []
        self.on_message: Callable[[int], None] | None = None  # window control

    # -- asyncio -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self.counting and not self.audit and not self.waiting:
            count = data.count(b"\n")  # nothing but benchmark messages arrives now
            self._counted(count)
            return
        data = self.buffer + data
        cut = data.rfind(b"\n") + 1
        self.buffer = data[cut:]
        chunk = data[:cut]
        if b"PING" in chunk:
            for token in re.findall(rb"^PING (.*?)\r?$", chunk, re.MULTILINE):
                self.write(b"PONG " + token + b"\r\n")
        for pattern, future in list(self.waiting):
            if re.search(pattern, chunk, re.MULTILINE) and not future.done():
                future.set_result(None)
                self.waiting.remove((pattern, future))
        if self.counting:
            if self.audit:
                self._audit(chunk)
            else:
                self._counted(chunk.count(b" PRIVMSG "))

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError(f"{self.nick} lost its connection: {exc}")
        for _, future in self.waiting:
            if not future.done():
                future.set_exception(error)
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)

    # -- helpers ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def expect(self, pattern: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((pattern, future))
        return future

    async def register(self, channel: str | None) -> None:
        registered = self.expect(rb"^\S+ (376|422) ")
        self.write(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :bench\r\n".encode())
        await registered
        if channel:
            joined = self.expect(rb"^\S+ 366 ")
            self.write(f"JOIN {channel}\r\n".encode())
            await joined

    async def sync(self) -> None:
        """Everything sent to us before now has arrived once the PONG is back."""
        pong = self.expect(rb"PONG .*:sync\r?$")
        self.write(b"PING :sync\r\n")
        await pong

    def start_counting(self, expected: int) -> asyncio.Future[None]:
        self.counting = True
        self.expected = expected
        self.done = asyncio.get_running_loop().create_future()
        if expected == 0:
            self.done.set_result(None)
        return self.done

    def _counted(self, count: int) -> None:
        self.received += count
        if self.on_message is not None:
            self.on_message(count)
        if self.received >= self.expected and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def _audit(self, chunk: bytes) -> None:
        now = time.monotonic_ns()
        found = MESSAGE.findall(chunk)
        next_seq = self.next_seq
        for sender_raw, seq_raw, sent_raw in found:
            sender, seq = int(sender_raw), int(seq_raw)
            want = next_seq.get(sender, 0)
            if seq != want and len(self.errors) < 10:
                self.errors.append(
                    f"{self.nick}: from sender {sender} got #{seq}, expected #{want}"
                )
            next_seq[sender] = seq + 1
            self.latencies_ns.append(now - int(sent_raw))
        self._counted(len(found))


async def connect_clients(
    host: str,
    port: int,
    nicks: list[str],
    audit: set[str],
    channel: str | None,
    concurrency: int = 50,
) -> list[BenchClient]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: dict[str, BenchClient] = {}

    async def one(nick: str) -> None:
        async with gate:
            for attempt in range(5):
                # A server whose accept queue overflows resets some of a burst of new
                # connections; setting up is not what is measured, so try such a one again.
                wanted = nick if attempt == 0 else f"{nick}x{attempt}"
                try:
                    _, client = await loop.create_connection(
                        functools.partial(BenchClient, wanted, nick in audit), host, port
                    )
                    clients[nick] = client
                    await asyncio.wait_for(client.register(channel), 120)
                    return
                except ConnectionError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))

    await asyncio.gather(*(one(nick) for nick in nicks))
    return [clients[nick] for nick in nicks]


def message(target: str, sender: int, seq: int) -> bytes:
    return f"PRIVMSG {target} :{sender} {seq} {time.monotonic_ns()}\r\n".encode()


def percentile(sorted_values: list[int], fraction: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]
