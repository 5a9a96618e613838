"""The bytes each recipient of an event gets: one encoding of a line, and one more per
variant some recipient asked for (server-time, message-tags, account-tag; extended-join's
form of JOIN), handed to every recipient alike. `LocalRouter` (router.py) decides who the
recipients are; this is the part every broadcast runs through.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable

from ..protocol import format_tags
from .events import MessageSent
from .isupport import BOT_MODE
from .model import WANTS_ACCOUNT, WANTS_EXTENDED_JOIN, WANTS_TAGS, WANTS_TIME, Session
from .state import ChatState

__all__ = ["Delivery"]

# A broadcast's variants by tag mask (16 masks: 4 bits), none made until someone needs one.
_NOT_YET: tuple[bytes | None, ...] = (None,) * 15


def command_of(line: bytes) -> bytes:
    """The command of an encoded line: `[@tags ][:source ]COMMAND ...`."""
    if line[:1] == b"@":
        line = line[line.find(b" ") + 1 :]
    words = line.split(b" ", 2)
    return (words[1] if line[:1] == b":" and len(words) > 1 else words[0]).rstrip()


class Delivery:
    """Encodes and hands out lines for the local sessions (`sessions`, by uid)."""

    def __init__(self, state: ChatState, server_name: str = "tcpchat") -> None:
        self.state = state
        self.server_name = server_name  # the source of the lines the server itself says
        self.sessions: dict[str, Session] = {}  # uid -> this node's session of that user
        self._second = -1  # the last whole second formatted as server-time, and its text
        self._second_text = ""
        # Lines handed out, by command (/metrics): counted once per broadcast, by its size,
        # so the loop over recipients stays as lean as without it; a private PRIVMSG, the
        # commonest line, as a plain count (`lines_out` adds it in).
        self.counted_out: dict[bytes, int] = {}
        self.private_privmsgs_out = 0

    @property
    def lines_out(self) -> dict[bytes, int]:
        """Lines handed out so far, by command (/metrics)."""
        counts = dict(self.counted_out)
        if self.private_privmsgs_out:
            counts[b"PRIVMSG"] = counts.get(b"PRIVMSG", 0) + self.private_privmsgs_out
        return counts

    def count_out(self, command: bytes, count: int = 1) -> None:
        """`count` lines of `command` went out."""
        out = self.counted_out
        out[command] = out.get(command, 0) + count

    def write_lines(self, session: Session, lines: list[str]) -> None:
        """Lines (without CR LF) to one session in one write, each counted by command."""
        if not lines:
            return
        for line in lines:
            self.count_out(command_of(line.encode()))
        session.write(("\r\n".join(lines) + "\r\n").encode())

    def deliver(
        self,
        recipients: Iterable[Session],
        line: bytes,
        when: float,
        message: MessageSent | None = None,
        exclude: Session | None = None,
        uid: str | None = None,
        joined: bytes | None = None,
        command: bytes | None = None,
    ) -> None:
        """Hand the same encoded line to every recipient (but `exclude`); those that asked
        for tags get a tagged copy, made once per variant (a `message` adds its msgid and
        client tags; it, or `uid`, says whose account account-tag shows). A JOIN comes
        with its `joined` form for extended-join; a caller that knows the line's `command`
        spares finding it (for /metrics' count). This loop is the hot path of every
        broadcast: keep it lean."""
        if not isinstance(recipients, (dict, list, tuple, set)):
            recipients = list(recipients)
        count = len(recipients)
        if exclude is not None and exclude in recipients:
            count -= 1
        if count:
            self.count_out(command or command_of(line), count)
        variants: list[bytes | None] | None = None
        for session in recipients:
            if session is exclude:
                continue
            mask = session.tag_mask
            if not mask:
                session.write(line)
                continue
            if variants is None:
                variants = [line, *_NOT_YET]
            data = variants[mask]
            if data is None:
                data = variants[mask] = self._tagged(line, mask, when, message, uid, joined)
            session.write(data)

    def _tagged(
        self,
        plain: bytes,
        mask: int,
        when: float,
        message: MessageSent | None,
        uid: str | None = None,
        joined: bytes | None = None,
    ) -> bytes:
        if mask & WANTS_EXTENDED_JOIN and joined is not None:
            plain = joined
        tags: dict[str, str] = {}
        if mask & WANTS_TIME:
            tags["time"] = self.server_time(when)
        if mask & WANTS_TAGS and message is not None:
            tags["msgid"] = message.msgid
            if message.tags:
                tags.update(message.tags)
            sender = self.state.user(message.sender)
            if sender is not None and BOT_MODE in sender.modes:
                tags["bot"] = ""  # IRCv3 bot-mode: a tag without a value
        if mask & WANTS_ACCOUNT:
            account = self._account_of(message.sender if message is not None else uid)
            if account is not None:
                tags["account"] = account
        if not tags:
            return plain
        return b"@" + format_tags(tags).encode() + b" " + plain

    def _account_of(self, uid: str | None) -> str | None:
        """The account of the user `uid` (account-tag); a local user who has just quit
        is still known by their session."""
        if uid is None:
            return None
        user = self.state.user(uid)
        if user is None:
            session = self.sessions.get(uid)
            user = session.user if session is not None else None
        return user.account if user is not None else None

    def server_time(self, when: float) -> str:
        """format_server_time, with the seconds part formatted once per second."""
        second = int(when)
        if second != self._second:
            self._second = second
            self._second_text = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second))
        return f"{self._second_text}.{int(when * 1000) % 1000:03d}Z"
