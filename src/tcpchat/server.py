"""The asyncio edge: sockets in, lines to the core, bytes out.

Each connection is one `Connection` protocol object. It cuts the byte
stream into lines (LF, CRLF or a lone CR end a line), hands them to the
`ChatCore`, and writes what the core sends back, coalescing everything
written in one loop iteration into one `transport.write`. It knows nothing
of IRC beyond telling an IRC client from a person at the first line.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from . import listener, sniff, tls
from .config import DEFAULT_MOTD, Settings
from .core import ChatCore, Session
from .core.chat import decode_line
from .fdlimit import FD_RESERVE, connection_cap, fd_shortfall, raise_fd_limit
from .plaintext import PlainSession, strip_telnet
from .protocol import looks_like_irc

log = logging.getLogger(__name__)


class Connection(asyncio.Protocol):
    """One TCP connection: line framing in, a bounded, coalesced queue out."""

    __slots__ = (
        "server",
        "core",
        "loop",
        "transport",
        "peer",
        "session",
        "buffer",
        "discarding",
        "pending",
        "closing",
        "greet_timer",
        "person",
        "max_buffer",
        "spoke",
        "tokens",
        "token_time",
        "backlog",
        "address_key",
    )

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.core = server.core
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("unknown", 0)
        self.session: Session | None = None  # set once we know IRC client or person
        self.person: PlainSession | None = None
        self.buffer = bytearray()
        self.discarding = False  # skipping the rest of an overlong line
        self.spoke = False  # has the peer sent a line yet?
        self.pending: list[bytes] = []
        self.closing = False
        self.greet_timer: asyncio.TimerHandle | None = None
        settings = server.settings
        self.max_buffer = settings.max_line_bytes + settings.max_tags_bytes
        self.tokens = float(settings.flood_burst)  # flood control: lines we may take now
        self.token_time = self.loop.time()
        self.backlog: deque[tuple[bytes, bool]] | None = None  # lines held back by it
        self.address_key: str | None = None  # counted under this key while connected

    # ------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = (str(peer[0]), int(peer[1]))
        refusal = self.server.admit(self)
        if refusal is not None:
            log.warning("refused %s: %s", self.peer, refusal)
            self._hang_up(self.core.farewell(self.peer[0], refusal))
            return
        settings = self.server.settings
        if settings.tcp_keepalive or settings.socket_send_buffer:
            tune_socket(transport.get_extra_info("socket"), settings)
        log.info("Client connected from: %s", self.peer)
        self.greet_timer = self.loop.call_later(
            self.server.settings.plain_greeting_delay, self._greet_person
        )

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.spoke and not self.buffer:
            # The very first bytes: a TLS ClientHello has no line end to wait for.
            stranger = sniff.identify(data)
            if stranger is not None:
                self._turn_away(stranger)
                return
        if b"\r" in data:  # CRLF, LF and a lone CR all end a line
            data = data.replace(b"\r\n", b"\n")
            if b"\r" in data:
                data = data.replace(b"\r", b"\n")
        buffer = self.buffer
        if buffer:
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        lines = data.split(b"\n")
        rest = lines.pop()  # the unfinished line after the last newline
        offer = self._offer
        for line in lines:
            if self.discarding:
                self.discarding = False  # the end of an overlong line already answered
            elif line:
                offer(line, False)
            if self.closing:
                return
        if rest:
            if len(rest) <= self.max_buffer:
                buffer += rest
            elif not self.discarding:
                offer(rest[: self.max_buffer], True)
                self.discarding = True

    def eof_received(self) -> bool:
        return False  # a half-closed peer is treated as gone; close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.backlog = None
        if self.greet_timer is not None:
            self.greet_timer.cancel()
        self.server.release(self)
        if self.session is not None:
            reason = "Connection closed" if exc is None else f"Connection error: {exc}"
            self.core.disconnect(self.session, reason)
        log.info("Client disconnected: %s", self.peer)

    # --------------------------------------------------------- lines in

    def _offer(self, raw: bytes, truncated: bool) -> None:
        """Handle a line now, or hold it back if the client is over its flood limit."""
        if self.backlog is None and (self.server.unthrottled or self._take_token()):
            client = self.session
            if client is not None and self.person is None and self.spoke:
                self.core.receive(client, raw, truncated)  # the usual case, kept short
            else:
                self._line(raw, truncated)
            return
        if self.backlog is None:
            self.backlog = deque()
            self._schedule_drain()
        self.backlog.append((raw, truncated))
        if len(self.backlog) > self.server.settings.flood_max_queued:
            self._excess_flood()

    def _take_token(self) -> bool:
        settings = self.server.settings
        rate = settings.flood_rate
        if rate <= 0:
            return True
        now = self.loop.time()
        tokens = min(settings.flood_burst, self.tokens + (now - self.token_time) * rate)
        self.token_time = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False

    def _schedule_drain(self) -> None:
        wait = (1.0 - self.tokens) / self.server.settings.flood_rate
        self.loop.call_later(max(wait, 0.001), self._drain)

    def _drain(self) -> None:
        """Handle held-back lines at the rate the flood limit allows."""
        backlog = self.backlog
        while backlog and not self.closing and self._take_token():
            raw, truncated = backlog.popleft()
            self._line(raw, truncated)
        if self.closing or not self.backlog:
            self.backlog = None
        else:
            self._schedule_drain()

    def _excess_flood(self) -> None:
        log.warning("disconnecting %s: Excess Flood", self.peer)
        self.backlog = None
        if self.session is not None:
            self.core.close(self.session, "Excess Flood")
        else:
            self.write(self.core.farewell(self.peer[0], "Excess Flood"))
            self.close()
        self.closing = True

    def _line(self, raw: bytes, truncated: bool) -> None:
        first = not self.spoke
        if first:
            stranger = sniff.identify(raw)  # the first line, should it have come in pieces
            if stranger is not None:
                self._turn_away(stranger)
                return
        self.spoke = True
        if self.session is None:
            if looks_like_irc(raw):
                self._start_irc()
            else:
                self._greet_person()
        elif first and self.person is not None and looks_like_irc(raw):
            self._become_irc()
        client = self.session
        assert client is not None
        person = self.person
        if person is None or truncated:
            self.core.receive(client, raw, truncated)
            return
        for irc_line in person.from_person(decode_line(strip_telnet(raw)).replace("\0", "")):
            self.core.receive(client, irc_line.encode())
        self._write_person_text()

    def _start_irc(self) -> None:
        if self.greet_timer is not None:
            self.greet_timer.cancel()
            self.greet_timer = None
        self.session = self.core.connect(self, self.peer[0])
        self._announce()

    def _greet_person(self) -> None:
        """Nothing said yet (or not IRC): this is a person with nc or telnet."""
        self.greet_timer = None
        if self.session is not None or self.closing:
            return
        settings = self.server.settings
        person = PlainSession(
            settings.default_channel,
            settings.server_name,
            nick_length=settings.nick_length,
            show_motd=settings.motd != DEFAULT_MOTD,
        )
        self.person = person
        self.session = self.core.connect(PersonSink(self, person), self.peer[0])
        self.write(person.greeting())
        self._announce()

    def _announce(self) -> None:
        """The console hears of a chat client or person, never of a stranger."""
        if self.server.on_connect is not None:
            self.server.on_connect(self.peer)

    def _turn_away(self, stranger: sniff.Stranger) -> None:
        """Not a chat client (a browser, TLS or SSH on the wrong port): a word if it
        can read one, a log line, and close. It never becomes a user."""
        server = self.server
        local = self.transport.get_extra_info("sockname") if self.transport else None
        answer = sniff.answer(
            stranger,
            str(local[0]) if local else "HOST",
            server.addresses[0][1] if server.addresses else None,
            server.tls_addresses[0][1] if server.tls_addresses else None,
        )
        log.log(answer.level, "not a chat client at %s: %s", self.peer, answer.note)
        if self.greet_timer is not None:
            self.greet_timer.cancel()
            self.greet_timer = None
        if self.session is not None:  # greeted as a person, but never gave a nickname
            self.core.disconnect(self.session, "Not a chat client")
            self.session = self.person = None
        self._hang_up(answer.reply)

    def _become_irc(self) -> None:
        """A slow IRC client got the greeting before speaking; talk IRC to it after all."""
        assert self.session is not None
        self.person = None
        self.session.attach(self)

    def _write_person_text(self) -> None:
        if self.person is not None:
            text = self.person.take_text()
            if text:
                self.write(text)

    # -------------------------------------------------------- bytes out

    def write(self, data: bytes) -> None:
        """Queue bytes; the server flushes each connection written to once per loop iteration,
        so everything for one client in that iteration leaves in one system call."""
        pending = self.pending
        if not pending:
            if self.closing:
                return
            dirty = self.server.dirty
            if not dirty:
                self.loop.call_soon(self.server.flush_all)
            dirty.append(self)
        pending.append(data)

    def queued_bytes(self) -> int:
        """Output held for this client: ours, plus the transport's buffer."""
        held = sum(map(len, self.pending))
        return held + (self.transport.get_write_buffer_size() if self.transport else 0)

    def flush(self) -> None:
        pending = self.pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.server.settings.sendq_bytes:
            self._drop("SendQ exceeded")

    def close(self) -> None:
        """Send what is queued, then close (the core has said goodbye)."""
        self.flush()
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _hang_up(self, last_words: bytes) -> None:
        """Send `last_words` and close; what the peer still sends is read and dropped."""
        self.closing = True
        self.pending.clear()
        transport = self.transport
        assert transport is not None
        if last_words:
            transport.write(last_words)
        if transport.can_write_eof():
            # Closing with the peer's lines unread would reset the connection and discard
            # our last words before they are read; so half-close, and close a bit later.
            transport.write_eof()
            self.loop.call_later(REFUSAL_LINGER, transport.close)
        else:
            transport.close()

    def _drop(self, reason: str) -> None:
        """Disconnect without flushing: the peer is not reading."""
        log.warning("dropping %s: %s", self.peer, reason)
        self.closing = True
        self.pending.clear()
        if self.session is not None:
            self.core.disconnect(self.session, reason)
        if self.transport is not None:
            self.transport.abort()


class PersonSink:
    """The core's sink for a person: IRC lines in, plain text out."""

    __slots__ = ("connection", "person")

    def __init__(self, connection: Connection, person: PlainSession) -> None:
        self.connection = connection
        self.person = person

    def write(self, data: bytes) -> None:
        replies = self.person.from_server(data)
        self.connection._write_person_text()
        if replies:
            # Later, not now: the core is in the middle of a command.
            self.connection.loop.call_soon(self._to_core, replies)

    def _to_core(self, lines: list[str]) -> None:
        connection = self.connection
        if connection.session is None or connection.closing:
            return
        for line in lines:
            connection.core.receive(connection.session, line.encode())
        connection._write_person_text()

    def close(self) -> None:
        self.connection.close()


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


def address_key(host: str) -> str:
    """Connections are counted per IPv4 address and per IPv6 /64 (one subscriber's share)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


# What every client is told when the server stops, however it was told to.
SHUTDOWN_REASON = "Server shutting down"

# Seconds a refused or turned-away connection stays half-closed, so its peer can read why.
REFUSAL_LINGER = 2.0

class ListenError(OSError):
    """A listening socket could not be opened; says which port, and why."""

    def __init__(self, cause: OSError, port: int, tls: bool) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.port = port
        self.tls = tls

    def __str__(self) -> str:
        kind = "TLS port" if self.tls else "port"
        return f"cannot listen on {kind} {self.port}: {self.strerror}"


class ChatServer:
    """Listening sockets plus the core: `start`, later `shutdown`."""

    def __init__(self, settings: Settings, core: ChatCore | None = None) -> None:
        self.settings = settings
        self.core = core or ChatCore(settings)
        self.loop = asyncio.get_running_loop()
        self.connections: set[Connection] = set()
        self.listeners: list[listener.Listener] = []
        self.addresses: list[tuple[str, int]] = []
        self.max_connections = settings.max_connections  # lowered to fit the fd limit
        self.all_closed: asyncio.Event | None = None  # set when the last one closes
        # Told of each new connection's (host, port); the operator console shows them.
        self.on_connect: Callable[[tuple[str, int]], None] | None = None
        self.dirty: list[Connection] = []  # written to in this loop iteration
        self.unthrottled = settings.flood_rate <= 0  # flood control is off
        self.per_address: dict[str, int] = {}
        self.sweeper: asyncio.TimerHandle | None = None
        self.tls_addresses: list[tuple[str, int]] = []
        self.core.run_blocking = self._run_blocking

    def admit(self, connection: Connection) -> str | None:
        """Count a new connection in, or say why it is refused."""
        settings = self.settings
        if len(self.connections) >= self.max_connections:
            return "Server is full"
        key = address_key(connection.peer[0])
        count = self.per_address.get(key, 0)
        if settings.max_connections_per_address and count >= settings.max_connections_per_address:
            return "Too many connections from your address"
        self.per_address[key] = count + 1
        connection.address_key = key
        self.connections.add(connection)
        return None

    def flush_all(self) -> None:
        """Once per loop iteration: send what each connection was given in it."""
        dirty, self.dirty = self.dirty, []
        for connection in dirty:
            connection.flush()

    def release(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if not self.connections and self.all_closed is not None:
            self.all_closed.set()
        key = connection.address_key
        if key is not None:
            connection.address_key = None
            left = self.per_address[key] - 1
            if left:
                self.per_address[key] = left
            else:
                del self.per_address[key]

    def _sweep(self) -> None:
        """Timeouts, checked a few times per shortest timeout."""
        self.core.sweep()
        self.sweeper = self.loop.call_later(self.sweep_interval, self._sweep)

    @property
    def sweep_interval(self) -> float:
        s = self.settings
        shortest = min(s.registration_timeout, s.ping_interval, s.ping_timeout)
        return min(max(shortest / 4, 0.05), 5.0)

    @property
    def port(self) -> int:
        """The plain-text port (the TLS one when there is no plain listener)."""
        return (self.addresses or self.tls_addresses)[0][1]

    @property
    def tls_port(self) -> int:
        return self.tls_addresses[0][1]

    def _run_blocking(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Slow work for the core (password hashing) on a worker thread; `done` runs on
        the loop with the result, so no one waits while it is worked out."""
        future = self.loop.run_in_executor(None, work)
        future.add_done_callback(lambda finished: done(finished.result()))

    async def start(self) -> None:
        """Bind every listening socket: the plain port, and the TLS port when a certificate
        is configured. With port 0, the sockets of one listener share one free port.

        Raises ConfigError for an unusable certificate, ListenError if a port is taken.
        """
        settings = self.settings
        settings.check()
        context = None
        if settings.tls_cert:
            context = tls.server_context(settings.tls_cert, settings.tls_key)
        limit = raise_fd_limit(settings.max_connections + FD_RESERVE)
        self.max_connections = connection_cap(settings.max_connections, limit)
        shortfall = fd_shortfall(settings.max_connections, limit)
        if shortfall:
            log.warning("%s", shortfall)
        try:
            if settings.plain_listener:
                self.addresses = self._listen(settings.port, None)
            if context is not None:
                self.tls_addresses = self._listen(settings.tls_port, context)
        except OSError:
            for each in self.listeners:
                each.close()
            self.listeners.clear()
            raise
        self.sweeper = self.loop.call_later(self.sweep_interval, self._sweep)

    def _listen(self, port: int, context: ssl.SSLContext | None) -> list[tuple[str, int]]:
        settings = self.settings
        factory = functools.partial(Connection, self)
        hosts = [settings.host] if settings.host else ["0.0.0.0", "::"]
        addresses: list[tuple[str, int]] = []
        for host in hosts:
            try:
                sockets = listener.bind(host, port, settings.listen_backlog)
            except OSError as exc:
                if host == "::" and addresses:
                    log.info("IPv6 not available (%s); listening on IPv4 only", exc.strerror)
                    continue
                raise ListenError(exc, port, context is not None) from exc
            for sock in sockets:
                each = listener.Listener(
                    self.loop,
                    sock,
                    factory,
                    tls=context,
                    handshake_timeout=settings.tls_handshake_timeout,
                    shutdown_timeout=settings.tls_shutdown_timeout,
                    handshakes_per_address=settings.max_connections_per_address,
                    address_key=address_key,
                )
                self.listeners.append(each)
                addresses.append(each.address)
                port = addresses[-1][1]
        return addresses

    async def shutdown(self, reason: str = SHUTDOWN_REASON) -> None:
        """Tell every client why, close them cleanly, stop listening."""
        if self.sweeper is not None:
            self.sweeper.cancel()
        for each in self.listeners:
            each.close()
        self.core.shutdown(reason)
        for connection in list(self.connections):
            connection.close()
        if self.connections:
            self.all_closed = asyncio.Event()
            try:
                await asyncio.wait_for(self.all_closed.wait(), timeout=5)
            except TimeoutError:
                log.warning("some connections did not close in time")
                for connection in list(self.connections):
                    if connection.transport is not None:
                        connection.transport.abort()
