"""One peer's connection, whatever carries it: lines in, bytes out, and who it is.

`Connection` is transport-neutral. Lines arrive through `take` (the TCP edge frames them
from a byte stream; a WebSocket edge would hand over one per message); it applies flood
control, tells an IRC client from a person (or a stranger speaking another protocol) at
the first line, and hands lines to the core. Output is queued and coalesced: everything
written in one loop iteration leaves in one `transport.write`, and a peer that stops
reading is dropped once its send queue passes `sendq_bytes`. It knows nothing of IRC
beyond that first line.

When history is on, output may contain messages not yet on disk. The server holds it back
until they are (edge/server.py): each hold marks how much of `pending` waits for one write,
and `release` sends that much when the write is done. Output from a turn with nothing new to
store follows what is held before it, never overtakes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import Protocol

from ..config import DEFAULT_MOTD, Settings
from ..core import ChatCore, Session
from ..core.chat import decode_line
from ..core.log_fields import shown_reason
from ..plaintext import PlainSession, strip_telnet
from ..protocol import looks_like_irc
from . import sniff
from .flood import FloodGate
from .metrics import Metrics

log = logging.getLogger("tcpchat.edge")

# Seconds a refused or turned-away connection stays half-closed, so its peer can read why.
REFUSAL_LINGER = 2.0
UNKNOWN_PEER = ("unknown", 0)  # a connection's peer until its transport says
# The history writes an idle connection waits on: none, in a list shared by all of them (an
# empty list costs 56 bytes a connection). Never appended to: `hold` makes one of its own
# first. (Its output list is its own from the start: see `flush`.)
NO_HOLDS: list[int] = []


class Hub(Protocol):
    """What a connection needs of the server that accepted it."""

    settings: Settings
    core: ChatCore
    loop: asyncio.AbstractEventLoop
    dirty: list[Connection]  # connections written to in this loop iteration
    metrics: Metrics
    on_connect: Callable[[tuple[str, int]], None] | None

    def flush_all(self) -> None: ...

    def admit(self, connection: Connection) -> str | None: ...

    def screen(self, address: str) -> str | None:
        """Why a connection from `address` is refused (a D-line, throttling), or None."""

    def release(self, connection: Connection) -> None: ...

    def ports(self) -> tuple[int | None, int | None]:
        """The plain and the TLS port, where there is one."""


class Connection:
    """A peer: lines in through `take`, output through `write`; see the module docstring."""

    __slots__ = (
        "hub", "core", "loop", "transport", "host", "port", "session", "person", "spoke",
        "pending", "dirty", "holds", "close_when_sent", "closing", "timer", "gate",
        "address_key", "uid", "reason", "via",
    )  # fmt: skip

    # Whether the hub screens it (D-lines, throttling) as it opens; the web port's wait
    # for their WebSocket upgrade, since loading the page takes connections of its own.
    screened_at_open = True
    # A TCP connection is followed in the log from the start; a web one only once it is a
    # WebSocket (not every page or health check it serves).
    LOGGED_AT_OPEN = True

    def __init__(
        self, hub: Hub, peer: tuple[str, int] | None = None, via: str | None = None
    ) -> None:
        """`peer`: the address to know it by when the listener knows better than the socket
        (a trusted proxy's PROXY header named the client: `via` is that proxy)."""
        self.hub = hub
        self.core = hub.core
        self.loop = hub.loop
        self.transport: asyncio.Transport | None = None
        # The peer's address, kept as its two parts (a tuple of them would cost 56 bytes).
        self.host, self.port = peer or UNKNOWN_PEER
        self.via = via
        self.session: Session | None = None  # set once we know IRC client or person
        self.person: PlainSession | None = None
        self.spoke = False  # has the peer sent a line yet?
        self.pending: list[bytes] = []
        self.dirty = False  # written to in this loop turn (it is in the hub's dirty list)
        self.holds = NO_HOLDS  # how much of `pending` waits on each history write
        self.close_when_sent = False  # close() came while output was held
        self.closing = False
        # Until the first line, the wait before greeting a person (on nc, who says nothing
        # first); once closing, how long its last lines may take to leave (`_close_transport`).
        self.timer: asyncio.TimerHandle | None = None
        settings = hub.settings
        self.gate: FloodGate | None = None
        if settings.flood_rate > 0:
            self.gate = FloodGate(settings, self.loop.time())
        self.address_key: str | None = None  # counted under this key while connected
        self.uid: str | None = None  # its id in the log (and its user's), once it is logged
        self.reason: str | None = None  # why the edge ended it, if it did

    # ----------------------------------------------------------- lifecycle

    def opened(self, transport: asyncio.Transport, peer: tuple[str, int]) -> bool:
        """The transport is up: count the connection in, or refuse it (False)."""
        self.transport = transport
        self.peer = peer
        refusal = self.hub.admit(self)
        if refusal is not None:
            log.warning("refused %s: %s", shown(peer), refusal,
                        extra=self.fields("refused", reason=refusal))  # fmt: skip
            self._hang_up(self.core.farewell(self.host, refusal))
            return False
        if self.LOGGED_AT_OPEN:
            self.log_connect()
        self.timer = self.loop.call_later(
            self.hub.settings.plain_greeting_delay, self._greet_person
        )
        return True

    @property
    def peer(self) -> tuple[str, int]:
        """Whom the connection is from: (address, port)."""
        return self.host, self.port

    @peer.setter
    def peer(self, peer: tuple[str, int]) -> None:
        self.host, self.port = peer

    def peer_of(self, transport: asyncio.BaseTransport) -> tuple[str, int]:
        """Whom the connection is from: the socket's peer, unless the listener said."""
        if self.host != UNKNOWN_PEER[0]:  # not `is`: compiled (mypyc) copies some values
            return self.peer
        peer = transport.get_extra_info("peername")
        return (str(peer[0]), int(peer[1])) if peer else UNKNOWN_PEER

    def lost(self, exc: Exception | None) -> None:
        """The transport is gone: the peer closed, the network failed, or we hung up."""
        self.closing = True
        if self.gate is not None:
            self.gate.clear()
        self.set_timer(None)
        self.hub.release(self)
        reason = "Connection closed" if exc is None else f"Connection error: {exc}"
        session = self.session
        if session is not None:
            self.core.disconnect(session, reason)
        if self.uid is None:  # refused, or a web request: never logged as a connection
            return
        reason = (session.reason if session is not None else None) or self.reason or reason
        reason = shown_reason(reason, self.hub.settings.log_messages)
        log.info("Client disconnected: %s (conn %s): %s", shown(self.peer), self.uid, reason,
                 extra=self.fields("disconnect", reason=reason))  # fmt: skip

    def log_connect(self) -> None:
        """From now on the log follows it: an id (its user's uid, when it becomes one), and
        a line saying it came."""
        self.uid = self.core.new_uid()
        via = f" via proxy {self.via}" if self.via is not None else ""
        log.info("Client connected from: %s (conn %s)%s", shown(self.peer), self.uid, via,
                 extra=self.fields("connect", tls=self.secure))  # fmt: skip

    def fields(self, event: str, **more: object) -> dict[str, object]:
        """What a log line about this connection carries besides its sentence (logs.py)."""
        found: dict[str, object] = {"event": event}
        if self.uid is not None:
            found["conn"] = self.uid
        found["addr"], found["port"] = self.host, self.port
        if self.via is not None:
            found["proxy"] = self.via
        session = self.session
        if session is not None and session.user.nick != "*":
            found["nick"] = session.user.nick
        found.update(more)
        return found

    # ------------------------------------------------------------ lines in

    def take(self, raw: bytes, truncated: bool) -> None:
        """One line from the peer: handled now, or held back while it floods."""
        gate = self.gate
        if gate is None or gate.admit(self.loop.time()):
            self._line(raw, truncated)
            return
        if not gate.waiting():
            self.loop.call_later(gate.wait(), self._release)
        if not gate.hold(raw, truncated):
            self._excess_flood()

    def _release(self) -> None:
        """Handle held-back lines at the rate the flood limit allows."""
        gate = self.gate
        if gate is None or self.closing:
            return
        for raw, truncated in gate.release(self.loop.time()):
            if self.closing:
                return
            self._line(raw, truncated)
        if gate.waiting() and not self.closing:
            self.loop.call_later(gate.wait(), self._release)

    def _excess_flood(self) -> None:
        self.reason = "Excess Flood"
        log.warning("disconnecting %s (conn %s): Excess Flood", shown(self.peer), self.uid,
                    extra=self.fields("excess_flood"))  # fmt: skip
        self.hub.metrics.flood_disconnects += 1
        if self.gate is not None:
            self.gate.clear()
        if self.session is not None:
            self.core.close(self.session, "Excess Flood")
        else:
            self.write(self.core.farewell(self.host, "Excess Flood"))
            self.close()
        self.closing = True

    def _line(self, raw: bytes, truncated: bool) -> None:
        session = self.session
        if session is not None and self.person is None and self.spoke:
            self.core.receive(session, raw, truncated)  # the usual case, kept short
            return
        first = not self.spoke
        if first:
            stranger = sniff.identify(raw)  # the first line, should it have come in pieces
            if stranger is not None:
                self.turn_away(stranger)
                return
        self.spoke = True
        if session is None:
            session = self._start_irc() if looks_like_irc(raw) else self._greet_person()
            if session is None:
                return
        elif first and self.person is not None and looks_like_irc(raw):
            self._become_irc()
        person = self.person
        if person is None or truncated:
            self.core.receive(session, raw, truncated)
            return
        for irc_line in person.from_person(decode_line(strip_telnet(raw)).replace("\0", "")):
            self.core.receive(session, irc_line.encode())
        self.write_person_text()

    def _start_irc(self) -> Session:
        self.set_timer(None)
        self.session = self.core.connect(self, self.host, self.secure, self.certfp, self.uid)
        self._announce()
        return self.session

    def _greet_person(self) -> Session | None:
        """Nothing said yet (or not IRC): this is a person with nc or telnet."""
        self.timer = None
        if self.session is not None or self.closing:
            return self.session
        settings = self.hub.settings
        person = PlainSession(
            settings.default_channel,
            settings.server_name,
            nick_length=settings.nick_length,
            show_motd=settings.motd != DEFAULT_MOTD,
        )
        self.person = person
        sink = PersonSink(self, person)
        self.session = self.core.connect(sink, self.host, self.secure, self.certfp, self.uid)
        self.write(person.greeting())
        self._announce()
        return self.session

    def _announce(self) -> None:
        """The console hears of a chat client or person, never of a stranger."""
        if self.hub.on_connect is not None:
            self.hub.on_connect(self.peer)

    def turn_away(self, stranger: sniff.Stranger) -> None:
        """Not a chat client (a browser, TLS or SSH on the wrong port): a word if it
        can read one, a log line, and close. It never becomes a user."""
        local = self.transport.get_extra_info("sockname") if self.transport else None
        answer = sniff.answer(stranger, str(local[0]) if local else "HOST", *self.hub.ports())
        self.reason = f"Not a chat client: {answer.note}"
        log.log(answer.level, "not a chat client at %s: %s", shown(self.peer), answer.note,
                extra=self.fields("not_a_client", reason=answer.note))  # fmt: skip
        self.set_timer(None)
        if self.session is not None:  # greeted as a person, but never gave a nickname
            self.core.disconnect(self.session, "Not a chat client")
            self.session = self.person = None
        self._hang_up(answer.reply)

    def _become_irc(self) -> None:
        """A slow IRC client got the greeting before speaking; talk IRC to it after all."""
        assert self.session is not None
        self.person = None
        self.session.attach(self)

    @property
    def secure(self) -> bool:
        """Whether the peer came over TLS."""
        transport = self.transport
        return transport is not None and transport.get_extra_info("sslcontext") is not None

    @property
    def certfp(self) -> str | None:
        """The SHA-256 (hex) of the TLS client certificate the peer gave, if it gave one."""
        transport = self.transport
        tls = transport.get_extra_info("ssl_object") if transport is not None else None
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        return hashlib.sha256(der).hexdigest() if der else None

    def write_person_text(self) -> None:
        if self.person is not None:
            text = self.person.take_text()
            if text:
                self.write(text)

    # ----------------------------------------------------------- bytes out

    def write(self, data: bytes) -> None:
        """Queue bytes; the server flushes each connection written to once per loop
        iteration, so everything for one peer in that iteration leaves in one system call."""
        if not self.dirty:
            if self.closing and not self.close_when_sent:
                return
            self.dirty = True
            dirty = self.hub.dirty
            if not dirty:
                self.loop.call_soon(self.hub.flush_all)
            dirty.append(self)
        self.pending.append(data)

    def queued_bytes(self) -> int:
        """Output held for this peer: ours, plus the transport's buffer."""
        held = sum(map(len, self.pending))
        return held + (self.transport.get_write_buffer_size() if self.transport else 0)

    def flush(self, count: int | None = None) -> None:
        """Send what is queued: all of it, or its first `count` pieces."""
        pending = self.pending
        if not pending:
            return
        if count is None or count >= len(pending):
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            # Emptied and kept, never swapped for a shared empty one: a new list per
            # connection per turn fed the garbage collector enough to run full collections
            # mid-fanout (p99 latency at 50,000 deliveries/s went from 3 ms to 8).
            pending.clear()
        else:
            data = b"".join(pending[:count])
            del pending[:count]
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        hub = self.hub
        hub.metrics.bytes_out += len(data)
        if transport.get_write_buffer_size() > hub.settings.sendq_bytes:
            self._drop("SendQ exceeded")

    def hold(self) -> None:
        """What is queued now waits for the history write just asked for."""
        if self.holds is NO_HOLDS:
            self.holds = [len(self.pending)]
        else:
            self.holds.append(len(self.pending))

    def release(self, writes: int = 1) -> None:
        """The oldest `writes` history writes this connection waited on are done: send what
        waited for them (and, when nothing waits any more, what later turns queued with
        nothing new to store), in one system call however many writes one commit covered."""
        holds = self.holds
        if not holds:
            return
        count = holds[min(writes, len(holds)) - 1]
        del holds[:writes]
        if holds:
            holds[:] = [each - count for each in holds]
            self.flush(count)
        elif self.dirty:  # this turn's output waits for this turn's end
            self.flush(count)
        else:  # what is left waits for no write
            self.flush()
            if self.close_when_sent:
                self._close_now()

    def close(self) -> None:
        """Send what is queued, then close (the core has said goodbye). Output held for a
        history write, or queued in this turn, goes first: the close waits for it."""
        self.closing = True
        if self.holds or self.dirty:
            self.close_when_sent = True
            return
        self._close_now()

    def _close_now(self) -> None:
        self.flush()
        self.close_when_sent = False
        if self.transport is not None:
            self._close_transport()

    def _close_transport(self) -> None:
        """Close once the last lines are sent. A peer that has not taken them within the
        ping timeout is not reading at all (it quit, then stopped reading): its connection
        is aborted then, or it would hold its socket and its address's slot for ever (`lost`
        cancels that once the close is done)."""
        transport = self.transport
        assert transport is not None
        if transport.is_closing():  # closed already (TLS's can't say what is unsent then)
            return
        unsent = transport.get_write_buffer_size()
        transport.close()
        patience = self.hub.settings.ping_timeout
        self.set_timer(self.loop.call_later(patience, transport.abort) if unsent else None)

    def set_timer(self, timer: asyncio.TimerHandle | None) -> None:
        """The connection's one timer from now on (see `timer`); the one before is off."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = timer

    def _hang_up(self, last_words: bytes) -> None:
        """Send `last_words` and close; what the peer still sends is read and dropped."""
        self.closing = True
        self.pending.clear()
        self.holds.clear()
        transport = self.transport
        assert transport is not None
        if last_words:
            transport.write(last_words)
        if transport.can_write_eof():
            # Closing with the peer's lines unread would reset the connection and discard
            # our last words before they are read; so half-close, and close a bit later.
            transport.write_eof()
            self.set_timer(self.loop.call_later(REFUSAL_LINGER, self._close_transport))
        else:
            self._close_transport()

    def _drop(self, reason: str) -> None:
        """Disconnect without flushing: the peer is not reading."""
        self.reason = reason
        log.warning("dropping %s (conn %s): %s", shown(self.peer), self.uid, reason,
                    extra=self.fields("dropped", reason=reason))  # fmt: skip
        self.hub.metrics.dropped[reason] += 1
        self.closing = True
        self.close_when_sent = False
        self.pending.clear()
        self.holds.clear()
        if self.session is not None:
            self.core.disconnect(self.session, reason)
        if self.transport is not None:
            self.transport.abort()


def shown(peer: tuple[str, int]) -> str:
    """A peer as people write it: `192.0.2.1:6667`, `[2001:db8::1]:6667`."""
    host, port = peer
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class PersonSink:
    """The core's sink for a person: IRC lines in, plain text out."""

    __slots__ = ("connection", "person")

    def __init__(self, connection: Connection, person: PlainSession) -> None:
        self.connection = connection
        self.person = person

    def write(self, data: bytes) -> None:
        replies = self.person.from_server(data)
        self.connection.write_person_text()
        if replies:
            # Later, not now: the core is in the middle of a command.
            self.connection.loop.call_soon(self._to_core, replies)

    def _to_core(self, lines: list[str]) -> None:
        connection = self.connection
        if connection.session is None or connection.closing:
            return
        for line in lines:
            connection.core.receive(connection.session, line.encode())
        connection.write_person_text()

    def close(self) -> None:
        self.connection.close()
