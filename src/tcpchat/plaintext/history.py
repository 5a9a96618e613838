"""Earlier messages: a `chathistory` batch shown as what was said before, and /history.

What the server sends again from its history comes in a `BATCH +ref chathistory target`
(IRCv3 batch): the playback a server sends on JOIN to a client that can't ask, or the answer
to CHATHISTORY. Its messages are not news, so they are not handled as live ones (our own are
shown too, a JOIN in it is no join): under a line "Earlier in #room:" each reads
`[14:02] alice says: ...`, its time as the local HH:MM (the day too, when not today), and the
whole line goes through `style_history` (the terminal client dims it).

Where the server offers `draft/chathistory`, the session asks for itself: the client requests
it with the rest of its capabilities and asks `CHATHISTORY LATEST #room * 20` on joining;
a person asks for it the first time they type /history. /history [N] asks for the last N.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..protocol import Message, irc_lower
from .state import Nick, SessionState
from .text import is_middle, nick_of

__all__ = ["CHATHISTORY", "HISTORY_BATCH", "HISTORY_CAPS", "HistoryMixin", "history_time"]

CHATHISTORY = "draft/chathistory"
HISTORY_BATCH = "chathistory"
# What a person asks for, so that a room's playback comes as a batch of timed lines.
HISTORY_CAPS = ("batch", "server-time")
DEFAULT_LINES = 20  # /history without a number, and what is asked on joining
NOT_OFFERED = "This server doesn't keep chat history for clients (draft/chathistory)."


def history_time(server_time: str | None, now: datetime | None = None) -> str:
    """'2026-12-01T14:02:57.149Z' -> '[14:02] ' in the local time zone ('[Dec 1 14:02] '
    when not today); '' when there is no time or it is unreadable."""
    if not server_time:
        return ""
    try:
        moment = datetime.fromisoformat(server_time)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        return ""
    moment = moment.astimezone()
    today = (now or datetime.now(moment.tzinfo)).astimezone().date()
    if moment.date() == today:
        return f"[{moment:%H:%M}] "
    return f"[{moment:%b} {moment.day} {moment:%H:%M}] "


@dataclass(slots=True)
class _Replay:
    """An open chathistory batch: whose history, and whether anything was shown yet."""

    target: str
    shown: bool = False


class HistoryMixin(SessionState):
    """Renders chathistory batches; asks for history (/history, and on joining)."""

    _style_history: Callable[[str], str] | None
    _caps_enabled: set[str]
    _history_batches: dict[str, _Replay]  # open chathistory batches by reference
    _history_asked: set[str]  # folded targets /history asked about, until the answer
    _history_waiting: tuple[str, int] | None  # a person's /history, until CAP ACK or NAK
    _history_max: int  # ISUPPORT CHATHISTORY=: the most lines one request returns (0: any)
    _seen: dict[str, str]  # folded room -> the msgid of the last message seen there

    def _history_commands(self) -> dict[str, Callable[[str], list[str]]]:
        return {"history": self._cmd_history}

    # -- asking --------------------------------------------------------------

    def _cmd_history(self, args: str) -> list[str]:
        target, count = self._current, DEFAULT_LINES
        for word in args.split():
            if word.isdecimal() and len(word) < 7:
                count = int(word)
            elif is_middle(word) and not word.startswith("-"):
                target = word
            else:
                return self._say("Usage: /history [#room|nick] [number of lines]")
        if target is None:
            return self._say("You are not in any room; /join #room first.")
        if count < 1:
            return self._say("Ask for at least one line: /history 20")
        if CHATHISTORY in self._caps_enabled:
            return self._ask_history(target, count)
        if self._outbound is not None:
            return self._say(NOT_OFFERED)
        # A person: ask our server for the capability first (once; the last /history waits).
        asking = self._history_waiting is None
        self._history_waiting = (target, count)
        return [f"CAP REQ :{CHATHISTORY}"] if asking else []

    def _ask_history(self, target: str, count: int) -> list[str]:
        if self._history_max:
            count = min(count, self._history_max)
        self._history_asked.add(irc_lower(target))
        return [f"CHATHISTORY LATEST {target} * {count}"]

    def _history_on_join(self, room: str) -> list[str]:
        """Joined `room`: ask for its last lines if the server lets us ask (else it sends
        them unasked, or keeps none); only those after the last one seen there, when the
        client comes back after a reconnect."""
        if CHATHISTORY not in self._caps_enabled:
            return []
        count = min(DEFAULT_LINES, self._history_max or DEFAULT_LINES)
        seen = self._seen.get(irc_lower(room))
        after = f"msgid={seen}" if seen else "*"
        return [f"CHATHISTORY LATEST {room} {after} {count}"]

    def _note_seen(self, msg: Message) -> None:
        """A message with a msgid: the last one seen in its room, if it was said in one."""
        if msg.command in ("PRIVMSG", "NOTICE") and msg.params:
            target = msg.params[0]
            if self._looks_like_channel(target):
                self._seen[irc_lower(target)] = msg.tags["msgid"]

    @property
    def seen_msgids(self) -> dict[str, str]:
        """Each room's last message seen (its msgid): where a reconnect's history starts."""
        return dict(self._seen)

    def _caps_changed(self, sub: str, caps: list[str]) -> list[str]:
        """A CAP ACK or NAK: what is enabled now; a person's /history waiting on it goes on."""
        names = [cap.lstrip("-") for cap in caps]
        if sub == "ACK":
            self._caps_enabled.update(cap for cap in caps if not cap.startswith("-"))
            self._caps_enabled.difference_update(cap[1:] for cap in caps if cap.startswith("-"))
        waiting = self._history_waiting
        if waiting is None or CHATHISTORY not in names:
            return []
        self._history_waiting = None
        if CHATHISTORY in self._caps_enabled:
            return self._ask_history(*waiting)
        return self._say(NOT_OFFERED)

    # -- showing ------------------------------------------------------------

    def in_history(self, msg: Message) -> bool:
        """Whether `msg` is part of a chathistory batch: shown with its own time already."""
        ref = msg.tags.get("batch")
        return ref is not None and ref in self._history_batches

    def _on_batch(self, msg: Message) -> list[str]:
        ref = msg.param(0)
        if ref.startswith("+") and msg.param(1) == HISTORY_BATCH and len(msg.params) >= 3:
            self._history_batches[ref[1:]] = _Replay(msg.param(2))
        elif ref.startswith("-"):
            replay = self._history_batches.pop(ref[1:], None)
            if replay is not None:
                asked = irc_lower(replay.target)
                if asked in self._history_asked:
                    self._history_asked.discard(asked)
                    if not replay.shown:
                        self._say(f"Nothing earlier in {replay.target}.")
        return []

    def _replayed(self, msg: Message, replay: _Replay) -> list[str]:
        """A line of a chathistory batch: a message from before, shown as one."""
        if msg.command not in ("PRIVMSG", "NOTICE") or len(msg.params) < 2:
            return []  # events (event-playback), TAGMSG: nothing to read
        text = msg.params[1]
        sender = nick_of(msg.source) if msg.source and "!" in msg.source else ""
        bot = " [bot]" if "bot" in msg.tags or "draft/bot" in msg.tags else ""
        parts: tuple[str | Nick, ...]
        if not sender:
            parts = (text,)  # from the server (a note of lines history could not keep)
        elif text.startswith("\x01"):
            body = text[1:-1] if text.endswith("\x01") and len(text) > 1 else text[1:]
            kind, _, action = body.partition(" ")
            if kind.upper() != "ACTION":
                return []
            parts = ("* ", Nick(sender), bot, " ", action)
        elif msg.command == "NOTICE":
            parts = ("-", Nick(sender), bot, "- ", text)
        else:
            parts = (Nick(sender), bot, " says: ", text)
        if not replay.shown:
            replay.shown = True
            target = replay.target
            channel = self._looks_like_channel(target)
            where = (f"in {target}",) if channel else ("with ", Nick(target))
            self._history_line(self._sentence("Earlier ", *where, ":"))
        self._history_line(self._sentence(history_time(msg.tags.get("time")), *parts))
        return []

    def _history_line(self, line: str) -> None:
        style = self._style_history
        self._out.append((style(line) if style else line) + "\r\n")
