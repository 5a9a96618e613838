"""Reading a trusted proxy's PROXY header off a socket just accepted, before anything else.

The header comes before the client's own bytes, before a TLS ClientHello too, so it is read
here, from the bare socket, and the socket is handed to the event loop (and its TLS) only
after it: the listener (edge/listener.py) does so for peers in `trusted_proxies`. Nothing
past the header is taken: the bytes are peeked at first, and only the header's are read.

The parsing is proxy_protocol.py's; this is the I/O around it.
"""

from __future__ import annotations

import asyncio
import socket

from .proxy_protocol import V2_FIXED, NoHeader, ProxyHeader, ProxyProtocolError, certain, parse

__all__ = ["read_header"]

LONGEST = V2_FIXED + 0xFFFF  # a version 2 header with the most extensions it can have
UNSURE_WAIT = 0.01  # seconds between looks while the first bytes may be a header or not


async def read_header(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, wait: float
) -> ProxyHeader | None:
    """The header the proxy sent first, taken off `sock` (non-blocking) within `wait`
    seconds; None, with nothing taken, when the connection opens with something else or
    with nothing in time (the proxy host's own connection).

    Raises ProxyProtocolError for a malformed header, or one cut short (closed, or not
    finished in time)."""
    taken = bytearray()  # the header's bytes read so far (all of them surely the header's)
    try:
        return await asyncio.wait_for(_read(loop, sock, taken), wait)
    except TimeoutError:
        if taken:
            raise ProxyProtocolError("PROXY protocol header not finished in time") from None
        return None


async def _read(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, taken: bytearray
) -> ProxyHeader | None:
    while True:
        await _readable(loop, sock)
        try:
            peeked = sock.recv(LONGEST, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            continue
        if not peeked:
            raise ProxyProtocolError("the connection closed before its PROXY protocol header")
        data = bytes(taken) + peeked
        try:
            header = parse(data)
        except NoHeader:
            return None  # nothing was taken: only a certain start is
        if header is not None:
            _take(sock, header.length - len(taken))
            return header
        if certain(data):
            taken += _take(sock, len(peeked))
        else:  # "P" or a CR LF: wait for the bytes that tell (they are not ours to take yet)
            await asyncio.sleep(UNSURE_WAIT)


def _take(sock: socket.socket, count: int) -> bytes:
    """Read `count` bytes that a peek showed are there."""
    parts = []
    while count > 0:
        part = sock.recv(count)
        if not part:
            raise ProxyProtocolError("the connection closed in its PROXY protocol header")
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Wait until `sock` has something to read (or was closed)."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    fd = sock.fileno()
    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
