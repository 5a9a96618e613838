"""The chat state machine's input side: connections come and go, lines come in.

`ChatCore` has no sockets and no event loop. The edge hands it each line a session sent
(`receive`) and tells it when a connection is gone (`disconnect`). Every line takes one path:
length checks, parsing, the command table (`commands.py`), then the handler, which replies
and emits events (`base.py` says how output works). The one exception, `PRIVMSG target :text`
to a room or someone present, takes a quick lane to the very same event (`quick_message`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config import Settings
from ..protocol import Message, ProtocolError, irc_lower, parse
from . import numerics as n
from .base import ChatBase, safe_middle
from .capabilities import LABELED_RESPONSE
from .commands import COMMANDS, Command
from .events import ModeChange, Registered, UserModeChanged
from .handlers.bans import expire as expire_bans
from .handlers.batches import batched_line
from .handlers.messaging import quick_message
from .handlers.ownership import sweep_graces
from .isupport import isupport_tokens
from .lines import format_server_time
from .model import Labeled, Session, Sink, User
from .state import ChatState

__all__ = ["ChatCore", "decode_line", "format_server_time"]

INVALID_UTF8_TEXT = "Message rejected, your IRC software MUST use UTF-8 encoding on this network"


def decode_line(raw: bytes) -> str:
    """UTF-8 when it is valid, else Latin-1: every byte string decodes, nothing is lost."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_line(text: str) -> Message:
    """`parse`, with a shortcut for the most common line there is, `PRIVMSG target :text`,
    that builds the very same Message without the general parser (a test checks they agree).

    Raises ProtocolError as `parse` does.
    """
    if text[:8] == "PRIVMSG " and "\r" not in text and "\n" not in text:
        target, sep, body = text[8:].partition(" :")
        if sep and target and " " not in target and target[0] != ":":
            return Message("PRIVMSG", [target, body])
    return parse(text)


def _run_checked(core: ChatBase, session: Session, msg: Message) -> None:
    """A labeled line, inside its labeled run: the command table's checks, then the
    handler, all of whose replies the label covers."""
    assert isinstance(core, ChatCore)
    command = core.commands.get(msg.command)
    if not core._permitted(session, msg, command):
        return
    assert command is not None
    if (
        msg.command in ("PRIVMSG", "NOTICE", "TAGMSG")
        and not session.echo
        and msg.params
        and irc_lower(msg.params[0]) == irc_lower(session.user.nick)
    ):
        # A message to oneself is delivered, not answered: the label may not go on it
        # (labeled-response), so the answer is an ACK. (With echo-message, the echo is it.)
        write, session.write = session.write, session.sink.write
        try:
            command.handler(core, session, msg)
        finally:
            session.write = write
        return
    command.handler(core, session, msg)


class ChatCore(ChatBase):
    """Users, channels and routing for one server, driven by `receive`."""

    def __init__(
        self,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        state: ChatState | None = None,
        node: str = "",
    ) -> None:
        super().__init__(settings, clock, state, node)
        self.commands: dict[str, Command] = COMMANDS

    # ----------------------------------------------------------- lifecycle

    def connect(
        self,
        sink: Sink,
        host: str,
        secure: bool = False,
        certfp: str | None = None,
        uid: str | None = None,
    ) -> Session:
        """A new connection (`secure`: over TLS; `certfp`: the SHA-256 of the client
        certificate it gave, in hex; `uid`: one the edge took from `new_uid` when the
        connection opened, so the log knows it by one id); nothing is sent until it speaks."""
        now = self.clock()
        user = User(uid or self.new_uid(), host)  # node "": this one
        session = Session(
            sink, user, now, last_heard=now, last_spoke=now, secure=secure, certfp=certfp,
            addr=host,
        )  # fmt: skip
        self.state.connect(user)
        self.router.attach(session)
        return session

    def connect_operator(self, sink: Sink, nick: str) -> Session:
        """The server's own participant (the operator console): registered, a server
        operator, and allowed a reserved nick such as "Server"."""
        if self.state.nick_holder(nick) is not None:
            raise ValueError(f"nick {nick!r} is already taken")
        session = self.connect(sink, self.settings.server_name)
        user = session.user
        user.user, user.realname, user.console = "operator", "Server operator console", True
        self.state.claim_nick(user, nick)
        now = self.clock()
        self.emit(Registered(now, user))
        self.emit(UserModeChanged(now, user.uid, user.source, nick, (ModeChange(True, "o"),)))
        return session

    def shutdown(self, reason: str) -> None:
        """Close every connection, telling each why (and no one of the others' QUITs)."""
        for session in list(self.sessions):
            session.gone, session.reason = True, reason
            if not session.console:
                session.sink.write(self.farewell(session.user.host, reason))
                self.router.count_out(b"ERROR")
                session.sink.close()
        self.state.clear()
        self.router.clear()

    def sweep(self) -> None:
        """Drop sessions that never registered or stopped answering; PING the quiet ones;
        rename whoever holds an account's nick past their grace (handlers/ownership.py); drop
        the bans past their end (handlers/bans.py).

        The edge calls this now and then; how often decides how late a timeout may fire.
        """
        now = self.clock()
        s = self.settings
        for session in list(self.sessions):
            if session.console:
                continue
            if not session.registered:
                if now - session.connected_at > s.registration_timeout:
                    self.close(session, "Registration timed out")
                continue
            silence = now - session.last_heard
            if session.ping_sent:
                if silence > s.ping_interval + s.ping_timeout:
                    self.close(session, f"Ping timeout: {int(silence)} seconds")
            elif silence > s.ping_interval:
                session.ping_sent = True
                self.send(session, Message("PING", [s.server_name]))
        if self.nick_graces:
            sweep_graces(self, now)
        if self.bans:
            expire_bans(self)

    # ------------------------------------------------------------- input

    def receive(self, session: Session, raw: bytes, truncated: bool = False) -> None:
        """Handle one line from `session` (its line ending already removed; it holds no CR
        or LF). `truncated` says the edge cut the line because it had no end in sight."""
        self._receive(session, raw, truncated, self.clock())

    def receive_lines(self, session: Session, lines: list[bytes]) -> None:
        """The complete lines of one read, in order: `receive` for each, with the clock read
        once for them all (per line it cost a private message 2% of its CPU)."""
        now = self.clock()
        for raw in lines:
            self._receive(session, raw, False, now)

    def _receive(self, session: Session, raw: bytes, truncated: bool, now: float) -> None:
        if session.gone:
            return
        session.last_heard = now
        session.ping_sent = False
        held = session.held
        if held is not None:  # an operation of this session is pending: wait in order
            held.append((raw, truncated))
            if len(held) > self.settings.flood_max_queued:
                self.close(session, "Excess Flood")
            return
        if raw[:1] == b"@":
            self._receive_tagged(session, raw, truncated)
            return
        if truncated or len(raw) + 2 > self.settings.max_line_bytes:
            self.reply(session, n.ERR_INPUTTOOLONG, "Input line was too long")
            return
        if (
            raw.startswith(b"PRIVMSG ")
            and session.user.registered
            and quick_message(self, session, raw)
        ):
            return
        msg = self._message_of(session, raw, parse_line)
        if msg is not None:
            self.dispatch(session, msg)

    def _message_of(
        self, session: Session, raw: bytes, parser: Callable[[str], Message]
    ) -> Message | None:
        """The line as a message: UTF-8 (else Latin-1, or refused with utf8_only), NULs
        dropped, parsed; None when the session was told why it can't be one."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if self.settings.utf8_only:
                self._invalid_utf8(session, raw)
                return None
            text = raw.decode("latin-1")
        if "\0" in text:
            text = text.replace("\0", "")
        try:
            return parser(text)
        except ProtocolError:
            self._unparsable(session, text)
            return None

    def dispatch(self, session: Session, msg: Message) -> None:
        """The command table's checks (registered? an operator? enough parameters?), then
        the handler; a refusal is the numeric the table says."""
        command = self.commands.get(msg.command)
        counted = msg.command if command is not None else "unknown"  # a label per command
        counts = self.lines_by_command
        counts[counted] = counts.get(counted, 0) + 1
        if (
            command is not None
            and session.user.registered
            and not command.oper_only
            and len(msg.params) >= command.min_params
        ):
            self.run_command(session, command.handler, msg)  # the usual case, checked at once
            return
        if self._permitted(session, msg, command):
            assert command is not None
            self.run_command(session, command.handler, msg)

    def _receive_tagged(self, session: Session, raw: bytes, truncated: bool) -> None:
        """A line with tags: the limits of both parts, then a label (labeled-response) or
        a client batch's line may change how it is handled."""
        settings = self.settings
        body_start = raw.find(b" ") + 1 or len(raw)
        if (
            body_start > settings.max_tags_bytes
            or truncated
            or len(raw) - body_start + 2 > settings.max_line_bytes
        ):
            self.reply(session, n.ERR_INPUTTOOLONG, "Input line was too long")
            return
        msg = self._message_of(session, raw, parse)
        if msg is None:
            return
        if "batch" in msg.tags:  # a line of a batch the client opened
            self.run_command(session, batched_line, msg)
            return
        label = self._label(session, msg)
        if label is not None:
            self.run_labeled(session, _run_checked, msg, Labeled(label))
            return
        command = self.commands.get(msg.command)
        if self._permitted(session, msg, command):
            assert command is not None
            self.run_command(session, command.handler, msg)

    def _label(self, session: Session, msg: Message) -> str | None:
        """The line's label, when its sender negotiated labeled-response; else None."""
        label = msg.tags.get("label")
        return label if label and LABELED_RESPONSE in session.caps else None

    def _permitted(self, session: Session, msg: Message, command: Command | None) -> bool:
        """The command table's checks: True when the handler may run; else the session
        is told why not (421, 451, 481, 461)."""
        registered = session.user.registered
        if command is None:
            if registered:
                self.reply(session, n.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")
            else:
                self.reply(session, n.ERR_NOTREGISTERED, "You have not registered")
        elif not registered and not command.before_registration:
            self.reply(session, n.ERR_NOTREGISTERED, "You have not registered")
        elif command.oper_only and "o" not in session.user.modes:
            self.reply(
                session, n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator"
            )
        elif len(msg.params) < command.min_params:
            self.reply(session, n.ERR_NEEDMOREPARAMS, msg.command, "Not enough parameters")
        else:
            return True
        return False

    def _unparsable(self, session: Session, text: str) -> None:
        if not text.strip(" "):
            return  # an empty line is no command at all
        word = text.lstrip(" ").split(" ", 1)[0][:32]
        self.reply(session, n.ERR_UNKNOWNCOMMAND, safe_middle(word), "Unknown command")

    def _invalid_utf8(self, session: Session, raw: bytes) -> None:
        """UTF8ONLY: a line that is not UTF-8 is refused whole, never relayed."""
        try:
            msg: Message | None = parse(raw.decode("latin-1").replace("\0", ""))
        except ProtocolError:
            msg = None
        command = msg.command if msg is not None else "*"
        label = self._label(session, msg) if msg is not None else None

        def refuse(core: ChatBase, session: Session, _: object) -> None:
            core.fail(session, command, "INVALID_UTF8", INVALID_UTF8_TEXT)

        if label is not None:
            self.run_labeled(session, refuse, None, Labeled(label))
        else:
            self.run_command(session, refuse, None)

    def command_names(self) -> list[str]:
        return sorted(self.commands)

    def isupport_tokens(self) -> list[str]:
        return isupport_tokens(self.settings)
