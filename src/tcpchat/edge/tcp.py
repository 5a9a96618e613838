"""TCP (and TLS over it): the asyncio protocol that frames a byte stream into lines.

The transport-neutral parts are `Connection`'s; this adds what only a stream has: socket
options, line framing, and a stranger told apart by its very first bytes (a TLS ClientHello
has no line end to wait for).
"""

from __future__ import annotations

import asyncio
import socket

from ..config import Settings
from . import framing, sniff
from .connection import Connection, Hub

__all__ = ["TcpConnection", "tune_socket"]


class TcpConnection(Connection, asyncio.Protocol):
    """One TCP or TLS connection."""

    # The line framing's state (framing.py): the start of a line whose end has not arrived
    # yet, whether the rest of an overlong line is being skipped, and the longest line.
    __slots__ = ("rest", "discarding", "limit")

    def __init__(
        self, hub: Hub, peer: tuple[str, int] | None = None, via: str | None = None
    ) -> None:
        super().__init__(hub, peer, via)
        self.rest = b""
        self.discarding = False
        self.limit = framing.shared_limit(hub.settings)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The socket options were set by the listener (tune_socket), before the loop had it.
        self.opened(transport, self.peer_of(transport))  # type: ignore[arg-type]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.hub.metrics.bytes_in += len(data)
        if not self.spoke and not self.rest:
            stranger = sniff.identify(data)  # the very first bytes
            if stranger is not None:
                self.turn_away(stranger)
                return
        lines, cut = framing.feed(self, data)
        session = self.session
        if session is not None and self.gate is None and self.person is None and self.spoke:
            # The usual case, kept short: a session gone midway ignores the lines after.
            self.core.receive_lines(session, lines)
        else:
            for line in lines:
                self.take(line, False)
                if self.closing:
                    return
        if cut is not None:
            self.take(cut, True)

    def eof_received(self) -> bool:
        return False  # a half-closed peer is treated as gone; close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost(exc)


def tune_socket(sock: socket.socket | None, settings: Settings) -> None:
    """TCP keepalive finds half-open connections of peers that never send (people on nc);
    a bounded kernel send buffer makes the send-queue limit bite sooner."""
    if sock is None:
        return
    try:
        if settings.socket_send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer)
        if not settings.tcp_keepalive:
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except OSError:
        pass  # not every socket type or platform allows it; the ping timeout still works
