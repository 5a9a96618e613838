"""Listening sockets and our own accept loop.

asyncio's accept loop (CPython 3.11) handles EMFILE badly. It keeps calling accept() for
the rest of its batch and schedules a restart for every failure, so running out of file
descriptors turns into thousands of error logs and retries a second. Here, running out
pauses accepting for `retry_delay` seconds, logs once, and resumes on its own. The accepted
sockets are handed to the event loop (asyncio or uvloop) with `connect_accepted_socket`.

A TLS listener does the handshake there too, as a task of its own, so a peer that stalls
or botches it holds up no one. It is dropped after `handshake_timeout`, and each address
may have only so many handshakes under way, so stalled ones cannot pile up.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

log = logging.getLogger(__name__)

OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPTS_PER_WAKEUP = 64  # then let the clients already connected have their turn


class Listener:
    """One listening socket feeding new connections to `factory`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        factory: Callable[[], asyncio.Protocol],
        retry_delay: float = 1.0,
        *,
        tls: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        shutdown_timeout: float = 2.0,
        handshakes_per_address: int = 0,
        address_key: Callable[[str], str] = str,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        self.retry_delay = retry_delay
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.shutdown_timeout = shutdown_timeout  # waiting for the peer's close_notify
        self.handshakes_per_address = handshakes_per_address  # 0: no limit
        self.address_key = address_key
        self.handshaking: dict[str, int] = {}  # address key -> TLS handshakes under way
        self.paused = False
        self.warned = False  # the error is logged once per episode, not once a second
        self.closed = False
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in OUT_OF_RESOURCES:
                    self._pause(exc)
                    return
                raise
            conn.setblocking(False)
            if self.tls is None:
                self.loop.create_task(self._serve(conn))
                continue
            key = self.address_key(str(peer[0])) if peer else ""
            under_way = self.handshaking.get(key, 0)
            if self.handshakes_per_address and under_way >= self.handshakes_per_address:
                refusal = "too many TLS handshakes under way"
                log.warning("refused %s: %s", peer, refusal,
                            extra={"event": "refused", "addr": peer[0], "reason": refusal})
                conn.close()
                continue
            self.handshaking[key] = under_way + 1
            self.loop.create_task(self._serve_tls(conn, key, str(peer[0]) if peer else ""))

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.factory, conn)
        except OSError as exc:
            log.debug("could not set up an accepted connection: %s", exc)
            conn.close()

    async def _serve_tls(self, conn: socket.socket, key: str, addr: str) -> None:
        """The TLS handshake, then the connection as usual; a failed handshake is logged
        and closed, and affects no one else."""
        try:
            await self.loop.connect_accepted_socket(
                self.factory,
                conn,
                ssl=self.tls,
                ssl_handshake_timeout=self.handshake_timeout,
                ssl_shutdown_timeout=self.shutdown_timeout,
            )
        except OSError as exc:  # ssl.SSLError and the handshake timeout among them
            log.info("TLS handshake with %s failed: %s", addr or "a peer", exc,
                     extra={"event": "tls_failed", "addr": addr, "reason": str(exc)})
            conn.close()
        finally:
            left = self.handshaking.get(key, 1) - 1
            if left > 0:
                self.handshaking[key] = left
            else:
                self.handshaking.pop(key, None)

    def _pause(self, exc: OSError) -> None:
        if not self.warned:
            log.error(
                "out of resources accepting connections (%s); retrying every %.1f s",
                exc.strerror,
                self.retry_delay,
            )
            self.warned = True
        self.paused = True
        self.loop.remove_reader(self.sock.fileno())
        self.loop.call_later(self.retry_delay, self._resume)

    def _resume(self) -> None:
        if self.closed:
            return
        self.paused = False
        self.loop.add_reader(self.sock.fileno(), self._accept)
        self._accept()
        if not self.paused and self.warned:
            log.warning("accepting connections again")
            self.warned = False

    def close(self) -> None:
        self.closed = True
        if not self.paused:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


def bind(host: str, port: int, backlog: int, reuse_port: bool = False) -> list[socket.socket]:
    """Listening sockets for `host` (every address it resolves to) on `port`; with
    `reuse_port`, shared with the other processes that bind it so (--workers)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets
