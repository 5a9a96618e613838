"""Listening sockets and our own accept loop.

asyncio's accept loop (CPython 3.11) handles EMFILE badly. It keeps calling accept() for
the rest of its batch and schedules a restart for every failure, so running out of file
descriptors turns into thousands of error logs and retries a second. Here, running out
pauses accepting for `retry_delay` seconds, logs once, and resumes on its own. The accepted
sockets without TLS get a transport of our own (socket_transport.py: less memory per
connection); those with TLS are handed to the event loop (asyncio or uvloop) with
`connect_accepted_socket`, which does the TLS.

A TLS listener does the handshake there too, as a task of its own, so a peer that stalls
or botches it holds up no one. It is dropped after `handshake_timeout`, and each address
may have only so many handshakes under way, so stalled ones cannot pile up.

A peer that is a trusted proxy (`ProxyHeaders.trusted`, one check per accept) first has its
PROXY protocol header read off the socket, before any TLS (edge/proxied.py), and the
connection is then made as the client's: its address counts for the handshakes under way, and
the factory is told it. Required on the chat ports: without it, or with a malformed one, the
connection is refused with the reason. Optional on the web port, whose proxies may name the
client with X-Forwarded-For instead.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from .proxied import read_header
from .proxy_protocol import ProxyProtocolError
from .socket_transport import SocketTransport

log = logging.getLogger(__name__)

OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPTS_PER_WAKEUP = 64  # then let the clients already connected have their turn
LINGER = 2.0  # seconds a refused proxy connection stays half-closed, so its reason is read


@dataclass(frozen=True, slots=True)
class ProxyHeaders:
    """Who may send a PROXY protocol header here, and what becomes of the connection (read
    from the settings each time, so a reload changes them at once)."""

    trusted: Callable[[str], bool]  # whether a peer's address is a trusted proxy
    wait: Callable[[], float]  # seconds the header is waited for
    refuse: Callable[[str, str], bytes]  # (proxy, why) -> last words; counts and logs it


class Listener:
    """One listening socket feeding new connections to `factory`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        factory: Callable[..., asyncio.Protocol],
        retry_delay: float = 1.0,
        *,
        tls: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        shutdown_timeout: float = 2.0,
        handshakes_per_address: int = 0,
        address_key: Callable[[str], str] = str,
        proxies: ProxyHeaders | None = None,
        tune: Callable[[socket.socket], None] | None = None,
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
        self.proxies = proxies
        # Socket options for each accepted socket, set here on the socket itself: asked of
        # the transport later, uvloop would make (and keep) a socket-like object for it.
        self.tune = tune
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
            if self.tune is not None:
                self.tune(conn)
            address = str(peer[0]) if peer else ""
            proxies = self.proxies
            if proxies is not None and proxies.trusted(address):
                self.loop.create_task(self._serve_proxied(conn, (address, int(peer[1]))))
            else:
                self._open(conn, address, self.factory)

    def _open(
        self, conn: socket.socket, address: str, factory: Callable[[], asyncio.Protocol]
    ) -> None:
        """Hand the socket to the loop: at once, or after the TLS handshake."""
        if self.tls is None:
            self._serve_plain(conn, factory)
            return
        key = self.address_key(address)
        under_way = self.handshaking.get(key, 0)
        if self.handshakes_per_address and under_way >= self.handshakes_per_address:
            refusal = "too many TLS handshakes under way"
            log.warning("refused %s: %s", address, refusal,
                        extra={"event": "refused", "addr": address, "reason": refusal})
            conn.close()
            return
        self.handshaking[key] = under_way + 1
        self.loop.create_task(self._serve_tls(conn, key, address, factory))

    async def _serve_proxied(self, conn: socket.socket, proxy: tuple[str, int]) -> None:
        """Read the trusted proxy's header, then open the connection as the client's (as
        the proxy's own for a LOCAL one, or none); refuse it when a header begun is bad."""
        proxies = self.proxies
        assert proxies is not None
        try:
            header = await read_header(self.loop, conn, proxies.wait())
        except ProxyProtocolError as exc:
            self._refuse(conn, proxy[0], str(exc))
            return
        except OSError as exc:
            log.debug("could not read a PROXY protocol header: %s", exc)
            conn.close()
            return
        if self.closed:
            conn.close()
            return
        client = header.client if header is not None else None
        factory = functools.partial(self.factory, peer=client or proxy, via=client and proxy[0])
        self._open(conn, (client or proxy)[0], factory)

    def _refuse(self, conn: socket.socket, proxy: str, why: str) -> None:
        """Tell the proxy (and whoever is behind it) why, and close."""
        assert self.proxies is not None
        try:
            conn.send(self.proxies.refuse(proxy, why))
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        self.loop.call_later(LINGER, _close_drained, conn)

    def _serve_plain(self, conn: socket.socket, factory: Callable[[], asyncio.Protocol]) -> None:
        try:
            SocketTransport(self.loop, conn, factory())
        except OSError as exc:
            log.debug("could not set up an accepted connection: %s", exc)
            conn.close()

    async def _serve_tls(
        self,
        conn: socket.socket,
        key: str,
        addr: str,
        factory: Callable[[], asyncio.Protocol],
    ) -> None:
        """The TLS handshake, then the connection as usual; a failed handshake is logged
        and closed, and affects no one else."""
        try:
            await self.loop.connect_accepted_socket(
                factory,
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


def _close_drained(conn: socket.socket) -> None:
    """Close, having read what the peer sent (closing with it unread would reset the
    connection, and the reason sent might be lost)."""
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


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
