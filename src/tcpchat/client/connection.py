"""The client's network side: connect, talk IRC, reconnect. No terminal here.

`ChatClient` owns the socket and a `PlainSession` in client mode, which does
the IRC: it turns typed lines into commands and server lines into sentences.
Sentences go to a `display` callback, so a prompt_toolkit screen, a plain
pipe and the tests all drive the same object.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ..farewells import says_restart
from ..plaintext import (
    CONNECTED_TEXT,
    PlainSession,
    confirms_itself,
    displayable,
    typed_lines,
)
from ..protocol import irc_lower, parse
from .clock import local_hh_mm, now_hh_mm
from .failures import ConnectError, closed_before_welcome, connect_failure, describe_error
from .roster import Roster

__all__ = ["ChatClient", "ClientOptions", "ConnectError", "format_address"]

RECONNECTED_TEXT = "Reconnected to the server."
# Lines longer than this (tags included) are skipped rather than buffered without end.
MAX_LINE_BYTES = 64 * 1024


def _seconds(delay: float) -> str:
    """A wait as shown: 0.05, 1.3, 30, 120."""
    return f"{delay:.2g}" if delay < 10 else f"{delay:.0f}"


def format_address(host: str, port: int) -> str:
    """host:port, with brackets around an IPv6 address as in URLs."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(slots=True)
class ClientOptions:
    """Where to connect and as whom, plus every timing the client uses."""

    host: str = "127.0.0.1"
    port: int = 6667
    nick: str = "guest"
    channels: Sequence[str] = ("#lobby",)
    tls: bool = False
    # None with tls: the system's trusted CAs, with hostname checking.
    ssl_context: ssl.SSLContext | None = None
    # With tls and no ssl_context: encrypt, but check no certificate (--insecure).
    insecure: bool = False
    username: str | None = None
    realname: str = "tcpchat client"
    connect_timeout: float = 10.0
    # How long leaving waits for the server to close after QUIT (or after ERROR).
    quit_timeout: float = 3.0
    # Reconnect delays: first, doubled after each failure, up to the maximum.
    backoff_first: float = 1.0
    backoff_max: float = 30.0
    # Silence before we PING the server, then how long its answer may take.
    ping_after: float = 120.0
    ping_timeout: float = 60.0
    # Typed lines wait this long at most for the welcome and the first rooms.
    ready_timeout: float = 15.0
    # Messages the server timed (IRCv3 server-time) start with the local HH:MM.
    show_time: bool = False
    # (account, password): log in with SASL on every connection (--sasl); a failure ends it.
    login: tuple[str, str] | None = None

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


class _End(Enum):
    LEFT = "left"  # we sent QUIT
    ENDED = "ended"  # the server sent ERROR, then closed
    RESTARTING = "restarting"  # the server sent ERROR saying it comes back (farewells.py)
    LOST = "lost"  # the connection broke without a word


@dataclass(slots=True)
class _Outcome:
    end: _End
    registered: bool
    reason: str = ""
    login_failed: bool = False  # the login asked for (--sasl) failed: the session left


def is_leaving(text: str) -> bool:
    """`quit`, `over` or `/quit ...`: the lines that end the chat, connected or not.

    True for a pasted block with such a line in it.
    """
    return any(_leaves(line) for line in typed_lines(text))


def is_login(line: str) -> bool:
    """`/login name password`: SASL from the client itself (login.py), never echoed."""
    return line.strip().lower().split(" ")[0] == "/login"


def _leaves(line: str) -> bool:
    stripped = line.strip()
    return stripped.lower() in ("quit", "over") or stripped.lower().split(" ")[0] == "/quit"


class ChatClient:
    """One person's chat: `connect`, then `run` until they leave; `send_typed` talks."""

    def __init__(
        self,
        options: ClientOptions,
        display: Callable[[str], None],
        style_nick: Callable[[str], str] | None = None,
        style_history: Callable[[str], str] | None = None,
    ) -> None:
        """`style_nick` decorates nicks, `style_history` the lines of earlier messages."""
        self.options = options
        self.roster = Roster()
        self._display = display
        self._style_nick = style_nick
        self._style_history = style_history
        self._nick = options.nick
        self._rooms = list(options.channels)
        self._login = options.login  # and then the last login that worked (a /login's too)
        self._rejoining: list[str] | None = None  # the rooms a reconnect is rejoining
        self._current: str | None = None
        self._notify: list[str] = []  # /notify's nicks, asked about again after a reconnect
        self._seen: dict[str, str] = {}  # each room's last msgid: its history resumes there
        self._session: PlainSession | None = None
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._writer: asyncio.StreamWriter | None = None
        # Clear while a connection is being set up; set once typed lines can go out
        # (welcomed, first rooms joined) or can't (the connection ended).
        self._settled = asyncio.Event()
        self._leaving = asyncio.Event()
        self._close_timer: asyncio.TimerHandle | None = None
        # Whether messages are shown with their times: the server sent some, and we show them.
        self._server_times = False

    # -- what the UI uses ---------------------------------------------------

    @property
    def nick(self) -> str:
        """Our nick as the server knows it (or the one we will ask for)."""
        session = self._session
        return session.nick if session is not None and session.nick else self._nick

    @property
    def current_channel(self) -> str | None:
        session = self._session
        return session.current_channel if session is not None else self._current

    async def connect(self) -> None:
        """The first connection; raises ConnectError with a line for the user."""
        self._settled.clear()
        try:
            self._streams = await self._open()
        except OSError as exc:
            self._settled.set()
            options = self.options
            raise ConnectError(
                connect_failure(options.address, options.port, options.tls, exc)
            ) from None

    async def run(self) -> int:
        """Chat until the person leaves or the server ends it; reconnect when cut off.

        Returns the exit code: 0 for a chat that ended normally, 1 when the first
        connection failed (the reason has been displayed).
        """
        if self._streams is None:
            try:
                await self.connect()
            except ConnectError as exc:
                self._display(str(exc))
                return 1
        assert self._streams is not None
        streams, self._streams = self._streams, None
        delay = self.options.backoff_first
        welcome, ever_registered = CONNECTED_TEXT, False
        while True:
            if self._leaving.is_set():  # quit typed while the connection was opening
                streams[1].transport.abort()
                return 0
            outcome = await self._converse(*streams, welcome)
            if outcome.login_failed:
                return 1
            if outcome.end is _End.LEFT or (outcome.end is _End.ENDED and outcome.registered):
                return 0
            if outcome.end is _End.RESTARTING:
                # Everyone was told at once: a little jitter spreads their coming back.
                delay = self.options.backoff_first * random.uniform(1.0, 1.5)
                why = "Server restarting"
            elif not ever_registered and not outcome.registered:
                if outcome.end is _End.LOST:
                    self._display(f"Cannot connect to {self.options.address}: {outcome.reason}")
                return 1
            else:
                if outcome.registered:
                    delay = self.options.backoff_first
                why = f"Lost the connection to the server ({outcome.reason})"
            ever_registered = True
            opened = await self._reconnect(delay, why)
            if opened is None:
                return 0
            streams, delay = opened
            welcome = RECONNECTED_TEXT

    async def send_typed(self, text: str, *, echo: bool = False) -> None:
        """What the person typed: a message, a /command, or quit; or a pasted block.

        Each line of a pasted block goes as if typed alone, in order, up to one
        that leaves. With `echo`, each line is displayed as "You (nick): text"
        first, once the server has welcomed us, so it appears after the
        connection's own news.
        """
        for line in typed_lines(text):
            await self._send_line(line, echo=echo)
            if is_leaving(line):
                return

    async def _send_line(self, line: str, *, echo: bool) -> None:
        if not self._settled.is_set() and not is_leaving(line):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), self.options.ready_timeout)
        welcomed = self._session is not None and self._session.nick is not None
        login = is_login(line)
        confirmed = welcomed and confirms_itself(line)
        if echo and not confirmed and not login:  # a password is never shown
            self._display(self._stamp_now(f"You ({self.nick}): {displayable(line)}"))
        if self._session is None or self._writer is None:
            if is_leaving(line):
                self._leaving.set()
            elif line.strip():
                self._display("Not connected to the server right now; that was not sent.")
            return
        session, writer = self._session, self._writer
        if login:
            words = line.strip().split(None, 2)  # the password may hold spaces
            name, password = (words[1], words[2]) if len(words) == 3 else ("", "")
            self._send(session.login(name, password))
        else:
            self._send(session.from_person(line))
        shown = session.take_lines()
        self._show([self._stamp_now(text) for text in shown] if confirmed else shown)
        if session.quitting:
            self._leaving.set()
            self._close_after(self.options.quit_timeout)
        with contextlib.suppress(OSError):
            await writer.drain()

    async def leave(self, reason: str = "Leaving") -> None:
        """As if the person typed /quit: for Ctrl-C, Ctrl-D and the end of piped input."""
        await self.send_typed(f"/quit {reason}")

    # -- connecting ---------------------------------------------------------

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Try each address the host resolves to; raise the first failure if all fail."""
        options = self.options
        context = options.ssl_context
        if options.tls and context is None:
            context = ssl.create_default_context()
            if options.insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        loop = asyncio.get_running_loop()
        infos = await asyncio.wait_for(
            loop.getaddrinfo(options.host, options.port, type=socket.SOCK_STREAM),
            options.connect_timeout,
        )
        first_error: OSError | None = None
        for family, _, _, _, address in infos:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(
                        str(address[0]),
                        int(address[1]),
                        family=family,
                        ssl=context if options.tls else None,
                        server_hostname=options.host if options.tls else None,
                        limit=MAX_LINE_BYTES,
                    ),
                    options.connect_timeout,
                )
            except OSError as exc:
                first_error = first_error or exc
        raise first_error or OSError(errno.EHOSTUNREACH, "no address to connect to")

    async def _reconnect(
        self, delay: float, why: str
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], float] | None:
        """Back off and retry until connected (or the person leaves: None)."""
        self._display(f"{why}; reconnecting in {_seconds(delay)} s...")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leaving.wait(), delay)
            if self._leaving.is_set():
                return None
            delay = min(delay * 2, self.options.backoff_max)
            opening = asyncio.ensure_future(self._open())
            leaving = asyncio.ensure_future(self._leaving.wait())
            await asyncio.wait({opening, leaving}, return_when=asyncio.FIRST_COMPLETED)
            leaving.cancel()
            if self._leaving.is_set():
                opening.cancel()
                if opening.done() and not opening.cancelled() and not opening.exception():
                    opening.result()[1].transport.abort()
                return None
            try:
                return opening.result(), delay
            except OSError as exc:
                reason = describe_error(exc)
                self._display(
                    f"Cannot reconnect ({reason}); trying again in {_seconds(delay)} s..."
                )

    # -- one connection -----------------------------------------------------

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, welcome: str
    ) -> _Outcome:
        """Register, then relay lines both ways until this connection ends."""
        session = PlainSession(style_nick=self._style_nick, style_history=self._style_history)
        self._session, self._writer = session, writer
        self._settled.clear()
        self.roster.reset()
        self._rejoining = list(self._rooms) if welcome == RECONNECTED_TEXT else None
        options = self.options
        self._send(
            session.start(
                self._nick,
                self._rooms,
                self._current,
                username=options.username,
                realname=options.realname,
                welcome_text=welcome,
                notify=self._notify,
                login=self._login,
                seen=self._seen,
            )
        )
        outcome = _Outcome(_End.LOST, registered=False, reason="the server closed the connection")
        farewell: str | None = None  # the ERROR's text, when the server said goodbye
        pinged = False
        heard = b""  # the first bytes, to tell why a server hung up before its welcome
        try:
            while True:
                timeout = options.ping_timeout if pinged else options.ping_after
                try:
                    raw = await asyncio.wait_for(reader.readline(), timeout)
                except TimeoutError:
                    if pinged:
                        outcome.reason = "the server stopped answering"
                        break
                    self._send(["PING :tcpchat"])
                    pinged = True
                    continue
                except ValueError:
                    continue  # an overlong line was dropped; carry on with the next
                except OSError as exc:
                    outcome.reason = describe_error(exc)
                    break
                if not raw:
                    if not outcome.registered:
                        outcome.reason = closed_before_welcome(options.port, options.tls, heard)
                    break
                heard = heard or raw[:2]
                pinged = False
                farewell = self._receive(session, raw) or farewell
                outcome.registered = session.nick is not None
        finally:
            self._end_connection(session, writer)
        outcome.login_failed = session.login_failed
        if session.quitting:
            outcome.end = _End.LEFT
        elif farewell is not None:
            outcome.end = _End.RESTARTING if says_restart(farewell) else _End.ENDED
        return outcome

    def _receive(self, session: PlainSession, raw: bytes) -> str | None:
        """Handle one line from the server; for ERROR (the server is leaving), its text."""
        try:
            msg = parse(raw.decode("utf-8", "replace"))
        except ValueError:
            return None
        self.roster.observe(msg, session.nick)
        quitting = session.quitting
        earlier = session.in_history(msg)  # shown with its own time
        self._send(session.from_server(raw))
        lines = session.take_lines()
        if not quitting:  # after QUIT, only goodbyes ("Connection statistics: ...")
            self._show(lines if earlier else self._stamped(lines, msg.tags.get("time")))
        if session.ready:
            self._settled.set()
            self._tell_rejoined(session)
        if msg.command == "ERROR":
            self._close_after(self.options.quit_timeout)
            return msg.param(0) or "closed by the server"
        return None

    def _tell_rejoined(self, session: PlainSession) -> None:
        """Once a reconnect's rooms are joined (or refused): which we are back in."""
        wanted, self._rejoining = self._rejoining, None
        if not wanted:
            return
        joined = session.joined_channels
        folded = {irc_lower(room) for room in joined}
        missed = [room for room in wanted if irc_lower(room) not in folded]
        said = f"Rejoined {', '.join(joined)}." if joined else "Rejoined no rooms."
        self._display(said + (f" Could not rejoin {', '.join(missed)}." if missed else ""))

    def _end_connection(self, session: PlainSession, writer: asyncio.StreamWriter) -> None:
        """Remember where we were (for a reconnect) and let go of the socket."""
        if session.nick is not None:
            self._nick = session.nick
            self._rooms = session.joined_channels
            self._current = session.current_channel
            self._notify = session.notify_list
            self._seen = session.seen_msgids
            self._login = session.login_for_reconnect
        self._session, self._writer = None, None
        self._settled.set()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        writer.transport.abort()

    def _close_after(self, seconds: float) -> None:
        """The server should close now; if it hasn't within `seconds`, we do."""
        if self._close_timer is None and self._writer is not None:
            transport = self._writer.transport
            self._close_timer = asyncio.get_running_loop().call_later(seconds, transport.abort)

    def _stamped(self, lines: list[str], server_time: str | None) -> list[str]:
        """Lines from a message the server timed, each after the time as local HH:MM."""
        shown = local_hh_mm(server_time) if server_time and self.options.show_time else None
        if shown is None:
            return lines
        self._server_times = True
        return [f"{shown} {line}" for line in lines]

    def _stamp_now(self, line: str) -> str:
        """What we typed, timed like the server's messages are (when they are)."""
        return f"{now_hh_mm()} {line}" if self._server_times else line

    def _send(self, lines: list[str]) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))

    def _show(self, lines: list[str]) -> None:
        for line in lines:
            self._display(line)
