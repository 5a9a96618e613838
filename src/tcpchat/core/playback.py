"""Playback on join: the last lines of a room, for a client that cannot ask for them.

A client that negotiated `draft/chathistory` asks with CHATHISTORY itself; any other one
(and a plain-text person, whose session renders what it is sent) is sent the room's last
`history_on_join` messages right after the JOIN, its topic and names: in a `chathistory`
batch when it has `batch`, else as plain lines (timed when it has `server-time`). Messages
only (no joins or parts), each as it was first delivered (replay.py); TAGMSG only to those
with message-tags. Nothing for a room with history off (+U).

The order a client sees: its JOIN, the topic and names, the playback, then whatever was said
after it joined. The read is a `core.later`, so the session's own next lines wait for it; and
since what others send it meanwhile is not one of its own lines, the session's sink is
swapped for a `HeldOutput` until the playback is written, which keeps those lines back too.
The read runs once the JOIN's row is committed, but may run later than that, when lines
said after the JOIN are stored too: those come live (held as above), so the playback stops
at the joiner's JOIN row and a line is never sent twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from ..protocol import irc_lower
from ..store.history import Stored, before_join
from .base import ChatBase
from .capabilities import BATCH, CHATHISTORY, HISTORY_BATCH, MULTILINE
from .isupport import UNRECORDED_MODE
from .model import WANTS_TAGS, Channel, Session, Sink
from .replay import replay_lines

__all__ = ["HeldOutput", "play_back"]

log = logging.getLogger("tcpchat.history")


Pages = list[tuple[str, list[Stored]]]  # (a room's name as shown, its last lines)


class HeldOutput:
    """A session's sink while its playback is read: everything written waits, in order, and
    goes out after the playback (see the module docstring)."""

    __slots__ = ("front", "held", "session", "sink")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sink: Sink = session.sink
        self.held: list[bytes] = []
        self.front = False  # the next write is the playback itself: it goes first

    def write(self, data: bytes) -> None:
        if self.front:
            self.front = False
            self.sink.write(data)
            self.release()
        else:
            self.held.append(data)

    def release(self) -> None:
        """Send what waited and give the session its own sink back."""
        session = self.session
        if session.sink is self:
            session.sink = self.sink
            if session.replies is None:  # not inside a command, whose end sets `write`
                session.write = self.sink.write
        held, self.held = self.held, []
        if held:
            self.sink.write(b"".join(held))

    def close(self) -> None:
        self.release()
        self.sink.close()


def play_back(core: ChatBase, session: Session, channels: Sequence[Channel]) -> None:
    """After a JOIN command: send `session` the last lines of each room it joined, if it
    is one to be sent them. Called at the end of the command."""
    settings = core.settings
    limit = settings.history_on_join
    if limit <= 0 or not settings.history or session.console or CHATHISTORY in session.caps:
        return
    wanted = [(c.name, c.folded) for c in channels if UNRECORDED_MODE not in c.modes]
    if not wanted:
        return
    nick = irc_lower(session.user.nick)
    if session.label is None:
        core.flush_replies(session)  # the JOIN's own replies go before anything held
    hold = HeldOutput(session)
    session.sink = hold  # the command's end points `session.write` at it

    def read(c: sqlite3.Connection) -> Pages:
        return [(name, before_join(c, key, nick, limit)) for name, key in wanted]

    def then(core: ChatBase, session: Session, pages: Pages | None) -> None:
        try:
            if pages is None:
                log.warning("history could not be read for %s's playback", session.user.nick)
            else:
                for name, rows in pages:
                    _send_page(core, session, name, rows)
        finally:
            if session.replies or session.label is not None:
                hold.front = True  # released once the command's output has gone out
            else:
                hold.release()

    core.later(session, lambda done: core.history.read(read, done), then)


def _send_page(core: ChatBase, session: Session, name: str, rows: list[Stored]) -> None:
    """One room's playback to `session`, framed for what it negotiated."""
    mask = session.tag_mask
    if not mask & WANTS_TAGS:
        rows = [row for row in rows if row.kind != "TAGMSG"]
    if not rows:
        return
    caps = session.caps
    lines: list[str] = []
    if BATCH in caps:
        ref = core.new_batch_ref()
        server = core.settings.server_name
        multiline = MULTILINE in caps
        lines.append(f":{server} BATCH +{ref} {HISTORY_BATCH} {name}")
        for row in rows:
            inner = core.new_batch_ref() if multiline and row.lines is not None else None
            lines.extend(replay_lines(row, mask, ref, inner))
        lines.append(f":{server} BATCH -{ref}")
    else:
        for row in rows:
            lines.extend(replay_lines(row, mask, None, None))
    core.router.write_lines(session, lines)
