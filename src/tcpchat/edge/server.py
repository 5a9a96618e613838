"""The server: listening sockets, the connections they accept, and the core they share.

`ChatServer.start` binds the plain port and, with a certificate, the TLS port, on every
interface unless told one; each accepted socket becomes a `TcpConnection`. The server
counts connections (in all, and per address), flushes what was written to them once per
loop iteration, runs the core's timeouts, runs its slow work on worker threads, and on
`shutdown` tells every client why before closing.

The durability barrier: a turn that stored history (core/history.py) has its rows written
off the loop, and the output of that turn waits until they are committed, so whatever anyone
received is on disk first. Barriers are released in the order the writes were asked, each
sending what waited for it (Connection.hold/release); a turn that stored nothing flushes at
once, unless that connection has older output still held. The turn then waits for its commit
(at most `COMMIT_WAIT`, Database.settle), so the output usually leaves in the same turn.

History expires in the background: a pass at start and every `EXPIRY_INTERVAL` seconds, in
short database jobs with rests between them (core/retention.py), so the chat's writes are
never stuck behind a long delete.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..addresses import address_key, in_networks
from ..config import DEFAULT_WEB_PORT, Settings
from ..core import ChatCore
from ..core.bans import ban_text
from ..core.retention import EXPIRY_INTERVAL
from ..errors import ListenError, StoreError
from ..farewells import SHUTDOWN_REASON
from ..store.accounts import account_names, registered_channels
from ..store.bans import load_bans
from ..store.database import Database
from ..store.schema import MIGRATIONS
from . import listener, systemd, tls
from .connection import Connection
from .fdlimit import FD_RESERVE, connection_cap, fd_shortfall, raise_fd_limit
from .metrics import Metrics
from .tcp import TcpConnection, tune_socket
from .throttle import Throttle

__all__ = ["SHUTDOWN_REASON", "ChatServer", "address_key", "connection_cap"]

COMMIT_WAIT = 0.005  # seconds a turn waits for its history's commit; see Database.settle
HEADER_WAIT = 1.0  # seconds a trusted proxy has for its PROXY header, at least
MUST_SEND = "from an address in trusted_proxies, a PROXY protocol header begun must be whole"

log = logging.getLogger("tcpchat.edge")


class ChatServer:
    """Listening sockets plus the core: `start`, later `shutdown`."""

    def __init__(self, settings: Settings, core: ChatCore | None = None) -> None:
        self.settings = settings
        self.core = core or ChatCore(settings)
        self.loop = asyncio.get_running_loop()
        # The open connections, as a dict's keys: a set costs about 52 bytes an entry at
        # 10,000 of them (its table is kept at most 60 % full), a dict about 30.
        self.connections: dict[Connection, None] = {}
        self.listeners: list[listener.Listener] = []
        self.web_addresses: list[tuple[str, int]] = []  # the web port's, when it listens
        self.metrics = Metrics(self.loop)
        self.addresses: list[tuple[str, int]] = []
        self.max_connections = settings.max_connections  # lowered to fit the fd limit
        self.all_closed: asyncio.Event | None = None  # set when the last one closes
        # Listening sockets systemd passed (socket activation), by kind: used, not bound.
        self.activated = systemd.activated_sockets()
        # Told of each new connection's (host, port); the operator console shows them.
        self.on_connect: Callable[[tuple[str, int]], None] | None = None
        self.dirty: list[Connection] = []  # written to in this loop iteration
        # History rows covered by a barrier so far, and the barriers waiting for a write:
        # (rows that must be committed, the connections whose output waits).
        self.covered = 0
        self.barriers: deque[tuple[int, list[Connection]]] = deque()
        # How long a turn that stored history waits for its commit (Database.settle): a
        # commit that syncs to disk (sqlite_synchronous = full) is not waited for.
        self.commit_wait = COMMIT_WAIT if settings.sqlite_synchronous == "normal" else 0.0
        self.per_address: dict[str, int] = {}
        self.throttle = Throttle()  # new connections per address a minute
        self.sweeper: asyncio.TimerHandle | None = None
        self.expirer: asyncio.Handle | None = None  # the next expiry pass of history
        self.tls_addresses: list[tuple[str, int]] = []
        self.core.run_blocking = self._run_blocking
        self.database: Database | None = None

    def admit(self, connection: Connection) -> str | None:
        """Count a new connection in, or say why it is refused."""
        settings = self.settings
        if len(self.connections) >= self.max_connections:
            self.metrics.refused["full"] += 1
            return "Server is full"
        key = address_key(connection.host)
        count = self.per_address.get(key, 0)
        if settings.max_connections_per_address and count >= settings.max_connections_per_address:
            self.metrics.refused["per_address"] += 1
            return "Too many connections from your address"
        refusal = self.screen(connection.host) if connection.screened_at_open else None
        if refusal is not None:
            return refusal
        self.per_address[key] = count + 1
        connection.address_key = key
        self.connections[connection] = None
        return None

    def screen(self, address: str) -> str | None:
        """A D-line on the address, or too many connections from it in the last minute:
        why a new connection is refused (counted as a refusal), or None to let it in."""
        core = self.core
        ban = core.bans.dline_for(address, core.clock()) if core.bans else None
        if ban is not None:
            self.metrics.refused["dline"] += 1
            return ban_text(ban, core.clock())
        s = self.settings
        refusal = self.throttle.refusal(address, self.loop.time(),
                                        s.connections_per_minute_per_address, s.throttle_exempt)
        if refusal is not None:
            self.metrics.refused["throttled"] += 1
        return refusal

    def flush_all(self) -> None:
        """Once per loop iteration: send what each connection was given in it, or, when
        the turn stored history, write that first and hold the output until it is done.
        With no older write waiting, the turn waits for its own (Database.settle): the
        output then usually goes at once, with nothing held."""
        history = self.core.history
        stored = history.appended != self.covered
        if stored:
            self.covered = history.appended
            history.write()
            if self.commit_wait and not self.barriers and self.database is not None:
                self.database.settle(self.commit_wait)
                if history.appended != self.covered:  # the answers it ran stored more
                    self.covered = history.appended
                    history.write()
        dirty, self.dirty = self.dirty, []
        for connection in dirty:
            connection.dirty = False
        if stored and history.committed < self.covered:
            if dirty:
                for connection in dirty:
                    connection.hold()
                self.barriers.append((self.covered, dirty))
            self._history_committed()  # the rows may be in already (read() wrote them)
            return
        for connection in dirty:
            if not connection.holds:
                connection.flush()
                if connection.close_when_sent:
                    connection.close()

    def _history_waiting(self) -> None:
        """History rows wait to be written: make sure this turn's flush comes."""
        if not self.dirty:
            self.loop.call_soon(self.flush_all)

    def _history_committed(self) -> None:
        """A history write is done: release the barriers it covers, oldest first."""
        barriers, committed = self.barriers, self.core.history.committed
        if not barriers or barriers[0][0] > committed:
            return
        released: dict[Connection, int] = {}  # connection -> writes it waited on, now done
        get = released.get
        while barriers and barriers[0][0] <= committed:
            for connection in barriers.popleft()[1]:
                released[connection] = get(connection, 0) + 1
        for connection, writes in released.items():
            connection.release(writes)

    def release(self, connection: Connection) -> None:
        self.connections.pop(connection, None)
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
        self.throttle.forget_old(self.loop.time())
        self.sweeper = self.loop.call_later(self.sweep_interval, self._sweep)

    def _expire(self) -> None:
        """An expiry pass of history (unless one is still under way), and the next one."""
        self.core.history.retention.expire()
        self.expirer = self.loop.call_later(EXPIRY_INTERVAL, self._expire)

    @property
    def sweep_interval(self) -> float:
        s = self.settings
        shortest = min(s.registration_timeout, s.ping_interval, s.ping_timeout)
        if s.nick_grace > 0:  # renaming whoever holds an account's nick past its grace
            shortest = min(shortest, s.nick_grace)
        return min(max(shortest / 4, 0.05), 5.0)

    @property
    def port(self) -> int:
        """The plain-text port (the TLS one when there is no plain listener)."""
        return (self.addresses or self.tls_addresses)[0][1]

    @property
    def tls_port(self) -> int:
        return self.tls_addresses[0][1]

    def ports(self) -> tuple[int | None, int | None]:
        """The plain and the TLS port, where there is one."""
        plain = self.addresses[0][1] if self.addresses else None
        return plain, self.tls_addresses[0][1] if self.tls_addresses else None

    def _run_blocking(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Slow work for the core (password hashing) on a worker thread; `done` runs on
        the loop with the result, so no one waits while it is worked out."""
        future = self.loop.run_in_executor(None, work)
        future.add_done_callback(lambda finished: done(finished.result()))

    async def start(self) -> None:
        """Bind every listening socket: the plain port, and the TLS port when a certificate
        is configured. With port 0, the sockets of one listener share one free port.

        Raises ConfigError for an unusable certificate, StoreError for a data directory or
        database that can't be used, ListenError if a port is taken.
        """
        settings = self.settings
        settings.check()
        context = None
        if settings.tls_cert:
            context = tls.server_context(settings.tls_cert, settings.tls_key)
        self._open_database()
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
                self.core.tls_port = self.tls_addresses[0][1]
            if settings.web_port and web_available(settings.web_port != DEFAULT_WEB_PORT):
                self._listen_web(context)
        except OSError:
            for each in self.listeners:
                each.close()
            self.listeners.clear()
            self._close_database()
            raise
        self.sweeper = self.loop.call_later(self.sweep_interval, self._sweep)
        self.expirer = self.loop.call_soon(self._expire)
        self.metrics.start()

    def _open_database(self) -> None:
        """The data directory's database, on a thread of its own (see store/database.py)."""
        settings = self.settings
        folder = Path(settings.data_dir) if settings.data_dir else None
        self.database = Database(
            folder,
            MIGRATIONS,
            synchronous=settings.sqlite_synchronous.upper(),
            post=self.loop.call_soon_threadsafe,
        )
        self.database.open()
        # Known before anyone connects: an account's nick is owned from the first NICK, a
        # registered channel is never made as a new one, and the bans are in force.
        try:
            names = self.database.run_now(account_names)
            self.core.attach_database(self.database, names)
            self.core.channel_registry.load(self.database.run_now(registered_channels))
            self.core.bans.load(self.database.run_now(load_bans))
        except StoreError:
            self._close_database()
            raise
        history = self.core.history
        history.wake, history.on_commit = self._history_waiting, self._history_committed
        history.retention.pause = self.loop.call_later
        if folder is not None:
            log.info("data in %s", folder.resolve())

    def _close_database(self) -> None:
        if self.database is not None:
            self.database.close()
            self.database = None

    def _listen_web(self, context: ssl.SSLContext | None) -> None:
        """The web port; taken by another program, the chat runs without it (and says so):
        a busy 8080 must not keep `python server.py` from starting."""
        port = self.settings.web_port
        try:
            self.web_addresses = self._listen(port if port > 0 else 0, context, web=True)
        except ListenError as exc:
            log.warning("no web client: %s; choose another port with --web-port", exc)

    def _listen(
        self, port: int, context: ssl.SSLContext | None, web: bool = False
    ) -> list[tuple[str, int]]:
        settings = self.settings
        factory: Callable[[], asyncio.Protocol]
        tune: Callable[[socket.socket], None] | None = None
        if web:
            from .websocket import WebConnection  # the `web` extra: websockets

            factory = functools.partial(WebConnection, self)
        else:
            factory = functools.partial(TcpConnection, self)
            tune = self._tune
        host = settings.host if not web or settings.web_host is None else settings.web_host
        hosts = [host] if host else ["0.0.0.0", "::"]
        addresses: list[tuple[str, int]] = []
        kind = "web" if web else "irc" if context is None else "tls"
        passed = self.activated.pop(kind, None)  # systemd's sockets (socket activation)
        proxies = listener.ProxyHeaders(
            self._trusted_proxy, self._header_wait, self._refuse_proxied
        )
        for host in hosts if passed is None else [""]:
            try:
                sockets = passed or listener.bind(
                    host, port, settings.listen_backlog, settings.reuse_port
                )
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
                    proxies=proxies,
                    tune=tune,
                )
                self.listeners.append(each)
                addresses.append(each.address)
                port = addresses[-1][1]
        return addresses

    def _tune(self, sock: socket.socket) -> None:
        """A chat port's new socket: keepalive and send buffer, as the settings are now."""
        settings = self.settings
        if settings.tcp_keepalive or settings.socket_send_buffer:
            tune_socket(sock, settings)

    def _trusted_proxy(self, address: str) -> bool:
        """Whether a peer may name the client with a PROXY protocol header (trusted_proxies,
        the setting X-Forwarded-For on the web port is believed by too)."""
        trusted = self.settings.trusted_proxies
        return bool(trusted) and in_networks(address, trusted)

    def _header_wait(self) -> float:
        """A trusted proxy sends its header at once: it has the greeting time to do so."""
        return max(self.settings.plain_greeting_delay, HEADER_WAIT)

    def _refuse_proxied(self, proxy: str, why: str) -> bytes:
        """A trusted proxy's connection without a usable PROXY header: counted, logged, and
        told why (the operator has a proxy to configure)."""
        self.metrics.refused["proxy_header"] += 1
        reason = f"{why} ({MUST_SEND})"
        log.warning("refused %s: %s", proxy, reason,
                    extra={"event": "refused", "addr": proxy, "reason": reason})  # fmt: skip
        return self.core.farewell(proxy, reason)

    async def shutdown(self, reason: str = SHUTDOWN_REASON) -> None:
        """Tell every client why, close them cleanly, stop listening."""
        if self.sweeper is not None:
            self.sweeper.cancel()
        if self.expirer is not None:
            self.expirer.cancel()
        self.core.history.retention.stop()
        self.metrics.stop()
        for each in self.listeners:
            each.close()
        self.core.shutdown(reason)
        for connection in list(self.connections):
            connection.reason = connection.reason or reason  # the log's, if it had no session
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
        # What was asked of the database is written before it closes (off the loop).
        self.core.history.write()
        await asyncio.get_running_loop().run_in_executor(None, self._close_database)


def web_available(asked: bool) -> bool:
    """Whether the web port can be served (the `web` extra, websockets, is installed); if
    not, the server says how to get it and runs without it: a warning when the web port was
    `asked` for (someone chose one, and would otherwise wonder why nothing listens there), a
    note in the log when it is only the default (a fresh clone runs the chat alone)."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        log.log(
            logging.WARNING if asked else logging.INFO,
            "no web client: it needs the web extra (pip install '.[web]': websockets and "
            "prometheus_client)",
        )
        return False
    return True
