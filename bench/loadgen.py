"""The load generator's IRC clients: lean asyncio protocols, no line parsing on the hot path.

Every benchmark message is `PRIVMSG <target> :<sender> <seq> <sent_ns>`. Every receiver counts
the message lines it gets, which is exact for loss and duplication in total. A sample of
receivers, the auditors, also parse every line: each sender's messages must arrive exactly
once and in order, and the timestamps give the latency.
"""

from __future__ import annotations

import asyncio
import base64
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
        self.waiting: list[tuple[bytes, asyncio.Future[bytes]]] = []
        self.transcript: list[bytes] | None = None  # while set, every line received
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
        if self.transcript is not None:
            self.transcript.append(chunk)
        if b"PING" in chunk:
            for token in re.findall(rb"^PING (.*?)\r?$", chunk, re.MULTILINE):
                self.write(b"PONG " + token + b"\r\n")
        for pattern, future in list(self.waiting):
            match = re.search(pattern, chunk, re.MULTILINE)
            if match and not future.done():
                future.set_result(match.group(0))
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

    def expect(self, pattern: bytes) -> asyncio.Future[bytes]:
        """The first line matching `pattern` from now on (the match, when it comes)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting.append((pattern, future))
        return future

    async def opened(self) -> None:
        """Ready to speak IRC (over TCP at once; over WebSocket after the upgrade)."""

    async def register(self, channel: str | None) -> None:
        registered = self.expect(rb"^\S+ (376|422) ")
        self.write(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :bench\r\n".encode())
        await registered
        if channel:
            await self.join(channel)

    async def join(self, channel: str) -> None:
        """JOIN `channel`, and wait for the end of its names (366)."""
        joined = self.expect(rb"^\S+ 366 ")
        self.write(f"JOIN {channel}\r\n".encode())
        await joined

    async def register_with_sasl(self, account: str, password: str) -> None:
        """Register logged in to `account`, as IRCv3 SASL 3.2 has a client do it: `CAP LS
        302`, `CAP REQ :sasl`, `AUTHENTICATE PLAIN`, the base64 payload (in 400-byte pieces,
        `+` after an exact multiple) on the server's `AUTHENTICATE +`, 903, then `CAP END`.
        Raises LoginFailed, saying why, when the server can't or won't."""
        self.transcript = []
        listed = self.expect(rb"^\S+ CAP \S+ LS (?!\* ).*$")  # the list's last line
        nick = self.nick
        self.write(f"CAP LS 302\r\nNICK {nick}\r\nUSER {nick} 0 * :bench\r\n".encode())
        await listed
        offered = re.search(rb" CAP \S+ LS (?:\* )?:?(?:.* )?sasl(?:=(\S*))?(?: |\r|$)",
                            b"".join(self.transcript), re.MULTILINE)  # fmt: skip
        self.transcript = None
        if offered is None:
            raise LoginFailed("the server does not offer SASL (no sasl in CAP LS 302)")
        mechanisms = offered.group(1)
        if mechanisms is not None and b"PLAIN" not in mechanisms.split(b","):
            raise LoginFailed(f"the server's SASL has no PLAIN (sasl={mechanisms.decode()})")
        answer = self.expect(rb"^\S+ CAP \S+ (?:ACK|NAK) .*$")
        self.write(b"CAP REQ :sasl\r\n")
        if b" NAK " in await answer:
            raise LoginFailed("the server refused CAP REQ :sasl")
        go_on = self.expect(rb"^(?::\S+ )?AUTHENTICATE :?\+|^\S+ 90[4-8] .*$")
        self.write(b"AUTHENTICATE PLAIN\r\n")
        said = await go_on
        if b"AUTHENTICATE" not in said:
            raise LoginFailed(f"AUTHENTICATE PLAIN was refused: {said.decode().strip()}")
        outcome = self.expect(rb"^\S+ 90[2-8] .*$")
        payload = base64.b64encode(f"{account}\0{account}\0{password}".encode())
        pieces = [payload[i : i + 400] for i in range(0, len(payload), 400)]
        if len(payload) % 400 == 0:
            pieces.append(b"+")
        self.write(b"".join(b"AUTHENTICATE " + piece + b"\r\n" for piece in pieces))
        said = await outcome
        if b" 903 " not in said:
            raise LoginFailed(f"logging in as {account} failed: {said.decode().strip()}")
        registered = self.expect(rb"^\S+ (376|422) ")
        self.write(b"CAP END\r\n")
        await registered

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
    kind: type[BenchClient] = BenchClient,
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
                        functools.partial(kind, wanted, nick in audit), host, port
                    )
                    clients[nick] = client
                    await asyncio.wait_for(client.opened(), 120)
                    await asyncio.wait_for(client.register(channel), 120)
                    return
                except ConnectionError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))

    await asyncio.gather(*(one(nick) for nick in nicks))
    return [clients[nick] for nick in nicks]


class LoginFailed(Exception):
    """A login scenario could not log in; the text says why (no SASL, a refusal)."""


async def connect_logged_in(
    host: str, port: int, accounts: list[str], password: str, concurrency: int
) -> list[BenchClient]:
    """One connection per account, each registered with SASL PLAIN as that account (the
    nick is the account's name), at most `concurrency` registering at once."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: dict[str, BenchClient] = {}

    async def one(account: str) -> None:
        async with gate:
            for attempt in range(5):
                try:  # a reset from an overflowing accept queue is tried again, as above
                    _, client = await loop.create_connection(
                        functools.partial(BenchClient, account), host, port
                    )
                    clients[account] = client
                    try:
                        await asyncio.wait_for(client.register_with_sasl(account, password), 120)
                    except TimeoutError:
                        raise LoginFailed(f"logging in as {account}: no answer in 120 s") from None
                    return
                except ConnectionError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))

    await asyncio.gather(*(one(account) for account in accounts))
    return [clients[account] for account in accounts]


def message(target: str, sender: int, seq: int) -> bytes:
    return f"PRIVMSG {target} :{sender} {seq} {time.monotonic_ns()}\r\n".encode()


def percentile(sorted_values: list[int], fraction: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]
