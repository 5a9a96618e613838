"""The load generator's IRC client over WebSocket (IRCv3 `text.ircv3.net`): a BenchClient
whose bytes travel in WebSocket frames, to measure fan-out to browsers against TCP clients.

Frames are made and read here by hand rather than with the `websockets` library, for the
same reason BenchClient counts newlines instead of parsing lines: the load generator must
stay far cheaper per delivery than the server it measures. A counting receiver counts frame
headers, `0x81` (a final text frame), which is exact because everything the benchmark sends
is ASCII in messages under 126 bytes, so no other byte of a frame can be 0x81. Auditors, and
every client before the measured stretch, take frames apart properly.
"""

from __future__ import annotations

import asyncio
import base64
import os

from loadgen import BenchClient

TEXT_FRAME = 0x81  # FIN + text
SUBPROTOCOL = b"text.ircv3.net"


def client_frame(line: bytes) -> bytes:
    """One line as a client's text frame: masked, as RFC 6455 requires of clients, with an
    all-zero key (allowed; it leaves the payload as it is, which costs nothing to make)."""
    size = len(line)
    if size < 126:
        return bytes((TEXT_FRAME, 0x80 | size, 0, 0, 0, 0)) + line
    return bytes((TEXT_FRAME, 0x80 | 126)) + size.to_bytes(2, "big") + b"\0\0\0\0" + line


class WebSocketBenchClient(BenchClient):
    """A BenchClient that upgrades to WebSocket first; `ready` resolves once it has."""

    def __init__(self, nick: str, audit: bool = False) -> None:
        super().__init__(nick, audit)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.frames = b""  # received bytes not yet taken apart into frames
        self.upgraded = False

    async def opened(self) -> None:
        await self.ready

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        host, port = transport.get_extra_info("peername")[:2]
        key = base64.b64encode(os.urandom(16))
        transport.write(  # type: ignore[attr-defined]
            b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: %s\r\n\r\n" % (host.encode(), port, key, SUBPROTOCOL)
        )

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            data = self.frames + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.frames = data
                return
            status = data.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.frames = b""
                self.ready.set_exception(ConnectionError(f"{self.nick}: {status.decode()}"))
                return
            self.upgraded = True
            self.ready.set_result(None)
            self.frames = b""
            data = data[end + 4 :]
            if not data:
                return
        if self.counting and not self.audit and not self.waiting:
            self._counted(data.count(b"\x81"))  # one per message: see the module's docstring
            return
        lines = self._take_frames(data)
        if lines:
            super().data_received(lines)

    def _take_frames(self, data: bytes) -> bytes:
        """The complete text frames' payloads, each ended by CR LF as on TCP; the rest waits.
        Server frames are unmasked; a ping is answered; other control frames are ignored."""
        data = self.frames + data
        lines: list[bytes] = []
        at, end = 0, len(data)
        while end - at >= 2:
            opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
            start = at + 2
            if size == 126:
                size, start = int.from_bytes(data[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(data[start : start + 8], "big"), start + 8
            if start + size > end:
                break
            payload = data[start : start + size]
            if opcode in (1, 2):
                lines.append(payload)
            elif opcode == 9:  # ping: pong with the same payload
                BenchClient.write(self, bytes((0x8A, 0x80 | len(payload), 0, 0, 0, 0)) + payload)
            at = start + size
        self.frames = data[at:]
        return b"".join(line + b"\r\n" for line in lines)

    def write(self, data: bytes) -> None:
        """IRC lines (CR LF ended) out, one frame each."""
        BenchClient.write(
            self, b"".join(client_frame(line) for line in data.split(b"\r\n") if line)
        )
