"""A plain TCP connection's transport: the socket itself, watched by the event loop.

Why not the loop's own (`connect_accepted_socket`): memory. Under uvloop a transport is a
C object of about 680 bytes, libuv's handle of about 250 more, a copy of the context, the
protocol's `data_received` bound, a write-buffer list, and the loop's weak reference to it:
about 1,330 bytes for every connection, most of an idle connection's cost. Here a connection
is this object (a few slots), the socket, and the loop's watch on its descriptor
(`add_reader`): about 550 bytes less (see the README's "What an idle connection costs").
TLS connections keep the loop's transport, which does the TLS.

It does what a chat connection needs and no more: bytes in to `data_received` (one `recv`
each time the socket is readable), bytes out at once with `send`, what the kernel would not
take yet kept and sent when the socket is writable; `close` once that is sent, `abort` at
once, `write_eof` after it. A failed `send` or `recv` (the peer reset, the network gone)
ends the connection: `connection_lost(exc)`, once, on the next turn of the loop.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

__all__ = ["SocketTransport"]

READ_SIZE = 65536  # bytes asked of the kernel per readable event
_AGAIN = (BlockingIOError, InterruptedError)


class SocketTransport(asyncio.Transport):
    """One accepted, non-blocking TCP socket, read and written through the loop."""

    __slots__ = ("loop", "sock", "fd", "protocol", "unsent", "closing", "eof_asked", "reading")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: asyncio.Protocol
    ) -> None:
        # No super().__init__(): asyncio's keeps an extra-info dict per transport, and
        # everything get_extra_info answers is asked of the socket instead.
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # As the loop's transports do: a reply leaves at once, not held by Nagle's
            # algorithm until the peer's (delayed) acknowledgement of the last one.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol = protocol
        self.unsent: bytearray | None = None  # what the kernel has not taken yet
        self.closing = False
        self.eof_asked = False
        self.reading = False
        protocol.connection_made(self)
        if not self.closing:  # (a connection refused closes in connection_made)
            self.reading = True
            loop.add_reader(self.fd, self._readable)

    # ------------------------------------------------------------------ reading

    def _readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except _AGAIN:
            return
        except OSError as exc:
            self._end(exc)
            return
        if data:
            self.protocol.data_received(data)
        elif not self.protocol.eof_received():
            self.close()
        else:
            self._stop_reading()

    def _stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)

    def is_reading(self) -> bool:
        return self.reading and not self.closing

    def pause_reading(self) -> None:
        if not self.closing:
            self._stop_reading()

    def resume_reading(self) -> None:
        if not self.closing and not self.reading:
            self.reading = True
            self.loop.add_reader(self.fd, self._readable)

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing or self.eof_asked:
            return  # as asyncio's: nothing goes out after close or write_eof
        unsent = self.unsent
        if unsent is not None:
            unsent += data
            return
        try:
            sent = self.sock.send(data)
        except _AGAIN:
            sent = 0
        except OSError as exc:
            self._end(exc)
            return
        if sent < len(data):
            self.unsent = bytearray(memoryview(data)[sent:])
            self.loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        unsent = self.unsent
        if unsent is None:
            return
        try:
            sent = self.sock.send(unsent)
        except _AGAIN:
            return
        except OSError as exc:
            self._end(exc)
            return
        del unsent[:sent]
        if unsent:
            return
        self.unsent = None
        self.loop.remove_writer(self.fd)
        if self.closing:
            self._end(None)
        elif self.eof_asked:
            self._shut_write()

    def get_write_buffer_size(self) -> int:
        return len(self.unsent) if self.unsent is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)  # never pauses writing: the connection drops a peer over its sendq

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Half-close once what is unsent is sent; reading goes on."""
        if self.closing or self.eof_asked:
            return
        self.eof_asked = True
        if self.unsent is None:
            self._shut_write()

    def _shut_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._end(exc)

    # ------------------------------------------------------------------ closing

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        """Stop reading; close once what is unsent is sent."""
        if self.closing:
            return
        if self.unsent is None:
            self._end(None)
        else:  # `_writable` ends it once the rest is sent
            self.closing = True
            self._stop_reading()

    def abort(self) -> None:
        """Close now; what is unsent is dropped."""
        self._end(None)

    def _end(self, exc: Exception | None) -> None:
        """Stop watching the socket; the protocol is told on the next turn."""
        if self.unsent is not None:
            self.unsent = None
            self.loop.remove_writer(self.fd)
        self.closing = True
        self._stop_reading()
        self.loop.call_soon(self._lost, exc)

    def _lost(self, exc: Exception | None) -> None:
        if self.fd < 0:  # told already (a close and a failure can both ask)
            return
        self.fd = -1
        try:
            self.protocol.connection_lost(exc)
        finally:
            self.sock.close()

    # ------------------------------------------------------------------ the rest

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
        except OSError:
            return default
        if name == "socket":
            return self.sock
        return default

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self.protocol = protocol
