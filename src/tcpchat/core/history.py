"""What history keeps of each event, and when it is written.

`History` follows the events the core emits (the core runs its step for the kinds it keeps,
before the state applies them, so a QUIT still knows its account): each channel message,
private message, TAGMSG with a tag worth keeping, and JOIN/PART/QUIT/KICK/NICK/TOPIC/MODE
becomes a `Row` (store/history.py), the line exactly as it was delivered.

Rows wait in `pending` until the loop turn ends: the edge then writes them in one transaction,
off the loop, and sends nobody the turn's output until they are committed (the durability
barrier in edge/server.py), so `kill -9` loses nothing anyone received. `appended` and
`committed` count rows, which is how the edge knows what its output waits for. A core with no
edge (its tests, tools) writes each row at once.

A write that fails is logged and counted; the messages were delivered all the same, and the
next write that succeeds records, for each target, how many lines are missing there (a `GAP`
row), so history says what it lacks instead of pretending.

What is deleted, and when, is `retention` (core/retention.py). For "forget my messages" the
msgids of what each user sent while not logged in are kept while they are connected
(`unlogged`): only the connection that sent them may forget them, since a nick alone proves
nothing (anyone may have had it before or after).
"""

from __future__ import annotations

import json
import logging
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from ..config import Settings
from ..protocol import Message, format_tags, irc_lower, serialize
from ..store.database import Database, Many
from ..store.history import (
    CONVERSATION_SLACK,
    INDEX_TEXT,
    INSERT_CONVERSATION,
    INSERT_ROW,
    Row,
    RowValues,
    conversation_key,
    latest_time,
)
from .events import (
    ChannelModeChanged,
    Joined,
    Kicked,
    MessageSent,
    MultilineSent,
    NickChanged,
    Parted,
    Quit,
    TopicSet,
    mode_text,
)
from .isupport import BOT_MODE, UNRECORDED_MODE
from .model import User
from .retention import Retention
from .state import ChatState

__all__ = [
    "GAP",
    "UNLOGGED_KEPT",
    "History",
    "RequestLimit",
    "conversation_side",
    "keeps_tagmsg",
]

log = logging.getLogger("tcpchat.history")

GAP = "GAP"  # a row's kind: lines here could not be stored (its text says how many)

INDEX_EVERY = 1000  # rows written between two bulk updates of the search index
KNOWN_CONVERSATIONS = 100_000  # conversations remembered as written (then forgotten at once)

# TAGMSG tags that are only of the moment: a TAGMSG with nothing else is not kept.
FLEETING_TAGS = frozenset({"+typing", "+draft/typing"})
# The messages sent while not logged in that a connection can forget: its latest ones.
UNLOGGED_KEPT = 100_000
# SEARCH: so many per user in so many seconds.
SEARCHES_PER_WINDOW = 5
SEARCH_WINDOW = 10.0


def keeps_tagmsg(tags: dict[str, str] | None) -> bool:
    """Whether a TAGMSG carries a client tag worth keeping (a reaction, a reply)."""
    return bool(tags) and any(tag not in FLEETING_TAGS for tag in tags or ())


def conversation_side(user: User, by_account: bool) -> str:
    """How a private conversation names one side: `~account` when both sides are logged
    in (`by_account`), else the folded nick."""
    if by_account and user.account is not None:
        return "~" + irc_lower(user.account)
    return irc_lower(user.nick)


class RequestLimit:
    """At most `count` requests per `window` seconds from each user: a flood of searches
    would keep the database's thread from writing the chat."""

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self.recent: dict[str, deque[float]] = {}  # uid -> when its latest requests came

    def allow(self, uid: str, now: float) -> bool:
        """Whether `uid` may make a request now (and if so, it is counted)."""
        recent = self.recent.get(uid)
        if recent is None:
            recent = self.recent[uid] = deque()
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if len(recent) >= self.count:
            return False
        recent.append(now)
        return True


class Core(Protocol):
    """What history uses of the core (ChatBase)."""

    settings: Settings
    state: ChatState
    msgid_origin: str
    clock: Callable[[], float]


def _line(source: str, command: str, params: list[str], text_last: bool = True) -> str:
    return serialize(Message(command, params, source), text_last)


class History:
    """Rows from events, written in batches; see the module docstring."""

    def __init__(self, core: Core, database: Database) -> None:
        self.core = core
        self.database = database
        self.enabled = core.settings.history
        self.pending: list[RowValues] = []
        # The conversations that spoke this turn, by key (one upsert each per write).
        self.conversations: dict[str, tuple[str, str, str, str, str, float]] = {}
        # The newest row's time: no row is stored earlier (store/history.py finds times
        # by walking ids back), even when the clock steps back or across a restart.
        self.latest = 0.0
        self.appended = 0  # rows recorded since the start
        self.committed = 0  # of which written (or failed: see `failed`)
        self.failed = 0  # rows a write lost
        self.reads = 0  # reads asked for (CHATHISTORY, playback, SEARCH)
        self.missing: dict[str, int] = {}  # target -> rows lost, until a GAP row says so
        # The edge: `wake()` when rows start waiting (the turn's end will write them);
        # `on_commit()` after each write. Without an edge, each row is written at once.
        self.wake: Callable[[], None] | None = None
        self.on_commit: Callable[[], None] | None = None
        # Reads waiting for the rows recorded before them: (rows committed, work, done).
        self._reads: deque[tuple[int, Callable[[Any], Any], Callable[[Any], None]]] = deque()
        self.unindexed = 0  # rows written since the search index was last brought up to date
        # (sender's nick, recipient's nick, their accounts) -> (key, the sender's folded
        # nick, when last written to `conversations`): see `_conversation`.
        self._known_conversations: dict[
            tuple[str, str, str | None, str | None], tuple[str, str, float]
        ] = {}
        self._events = 0  # serials of the msgids given to channel events
        # uid -> the serials of the msgids (from this run) it sent while not logged in.
        self.unlogged: dict[str, array[int]] = {}
        self.retention = Retention(self, core.settings, lambda: core.clock())
        self.searches = RequestLimit(SEARCHES_PER_WINDOW, SEARCH_WINDOW)
        self._record: dict[type, Callable[[Any], None]] = {
            MessageSent: self._message,
            MultilineSent: self._multiline,
            Joined: self._joined,
            Parted: self._parted,
            Kicked: self._kicked,
            Quit: self._quit,
            NickChanged: self._nick_changed,
            TopicSet: self._topic_set,
            ChannelModeChanged: self._mode_changed,
        }

    def attach(self, database: Database) -> None:
        """Write to `database` from now on, no row earlier than its newest."""
        self.database = database
        self.latest = max(self.latest, database.run_now(latest_time))

    def recorder(self, kind: type) -> Callable[[Any], None] | None:
        """What to keep of events of this kind (the core looks it up once per kind)."""
        return self._record.get(kind) if self.enabled else None

    # ----------------------------------------------------------- writing

    def append(self, row: RowValues) -> None:
        if row[2] < self.latest:
            # The clock stepped back, or (in a cluster, where rows come in the bus's order,
            # not their stamps') an event was stamped before the latest row: times must
            # follow ids. Sliced, not Row._replace: a Python-level constructor (1.0 µs
            # against 0.2).
            row = (*row[:2], self.latest, *row[3:])
        else:
            self.latest = row[2]
        pending = self.pending
        pending.append(row)
        self.appended += 1
        if self.wake is None:
            self.write()
        elif len(pending) == 1:
            self.wake()

    def write(self) -> None:
        """Write the rows waiting, in one transaction off the loop; `on_commit` follows."""
        rows, self.pending = self.pending, []
        if not rows:
            return
        statements: list[tuple[str, Any]] = []
        gaps, self.missing = self.missing, {}
        if gaps:
            statements.append((INSERT_ROW, Many(self._gap_rows(gaps, rows[0][2]))))
        statements.append((INSERT_ROW, Many(rows)))
        self.unindexed += len(rows)
        if self.unindexed >= INDEX_EVERY:
            statements.append((INDEX_TEXT, ()))
            self.unindexed = 0
        if self.conversations:
            statements.append((INSERT_CONVERSATION, Many(self.conversations.values())))
            self.conversations = {}
        self.database.write(statements, lambda ok: self._written(rows, gaps, ok))

    def search(self, work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        """`read`, for a query of the search index: after it is brought up to date."""
        self.write()
        self.unindexed = 0
        self.database.write([(INDEX_TEXT, ())], lambda ok: self.read(work, done))

    def read(self, work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        """Run the query `work(connection)` beside the writes and `done(result)` on the loop
        (None if it failed), once every row recorded so far is committed: so a read sees
        every line delivered, the asker's own last message included, and a slow read never
        holds up a write (and with it everyone's output)."""
        self.reads += 1
        self.write()
        need = self.appended
        if self.committed >= need:
            self.database.read(work, done)
        else:
            self._reads.append((need, work, done))

    def _written(self, rows: list[RowValues], gaps: dict[str, int], ok: bool) -> None:
        self.committed += len(rows)
        if not ok:
            self.failed += len(rows)
            self._known_conversations.clear()  # their rows may not have been written
            log.error("%d lines of history could not be stored; they were delivered", len(rows))
            missing = self.missing
            for target, lost in gaps.items():
                missing[target] = missing.get(target, 0) + lost
            for row in rows:
                missing[row[0]] = missing.get(row[0], 0) + 1  # its target
        reads = self._reads
        while reads and reads[0][0] <= self.committed:
            _, work, done = reads.popleft()
            self.database.read(work, done)
        if self.on_commit is not None:
            self.on_commit()

    def conversations_dropped(self) -> None:
        """Expiry deleted conversations with no line left: write each again when it speaks."""
        self._known_conversations.clear()

    def _gap_rows(self, missing: dict[str, int], when: float) -> list[Row]:
        """Rows that say how many lines a failed write lost, one per target."""
        server = self.core.settings.server_name
        rows = []
        for target, lost in missing.items():
            text = f"{lost} lines of history here could not be stored"
            rows.append(Row(target, self._event_msgid(), when, GAP, "", None,
                            _line(server, "NOTICE", ["*", text]), None, None, None))  # fmt: skip
        return rows

    def _event_msgid(self) -> str:
        self._events += 1
        return f"{self.core.msgid_origin}e{self._events}"

    # ---------------------------------------------------------- messages

    def _message(self, event: MessageSent) -> None:
        # Fields unpacked at once, here and in _keep: compiled, reading a NamedTuple's
        # field by name is a generic attribute lookup (bench/core_steps.py --history).
        _, _, _, command, _, source, target, _, _, text, tags, _ = event
        if command == "TAGMSG":
            if not keeps_tagmsg(tags):
                return
            self._keep(event, f":{source} TAGMSG {target}", None, None)
        else:
            self._keep(event, f":{source} {command} {target} :{text}", None, text)

    def _multiline(self, event: MultilineSent) -> None:
        line = f":{event.source} {event.command} {event.target}"
        self._keep(event, line, json.dumps(event.lines), event.text)

    def _keep(
        self, event: MessageSent | MultilineSent, line: str, lines: str | None, text: str | None
    ) -> None:
        when, origin, serial, command, sender_uid, _, _, target, recipient_uid, _, tags, _ = event
        state = self.core.state
        sender = state.user(sender_uid)
        if sender is None:
            return
        if target is not None:
            channel = state.channel(target)
            if channel is None or UNRECORDED_MODE in channel.modes:
                return
            folded = irc_lower(sender.nick)
        else:
            recipient = state.user(recipient_uid)  # type: ignore[arg-type]
            if recipient is None:
                return
            target, folded = self._conversation(sender, recipient, when)
        account = sender.account
        if account is None and origin == self.core.msgid_origin:
            sent = self.unlogged.get(sender_uid)
            if sent is None or len(sent) >= UNLOGGED_KEPT:
                sent = self._unlogged_room(sender_uid)
            sent.append(serial)
        if BOT_MODE in sender.modes:
            tags = {**tags, "bot": ""} if tags else {"bot": ""}
        # A plain tuple, not Row(...): a NamedTuple's constructor is a Python call, and this
        # runs for every message (executemany takes either); the msgid formatted here, not
        # by its property (a call more).
        self.append((
            target, f"{origin}{serial}", when, command, folded, account, line,
            format_tags(tags) if tags else None, lines, text,
        ))  # fmt: skip

    def _unlogged_room(self, uid: str) -> array[int]:
        """Where the next msgid `uid` sends while not logged in goes: its list, made at
        the first, with the oldest tenth forgotten once it holds UNLOGGED_KEPT."""
        sent = self.unlogged.get(uid)
        if sent is None:
            sent = self.unlogged[uid] = array("q")
        elif len(sent) >= UNLOGGED_KEPT:
            del sent[: UNLOGGED_KEPT // 10]
        return sent

    def unlogged_msgids(self, uid: str) -> list[str]:
        """The msgids of the messages `uid` sent while not logged in (its latest
        `UNLOGGED_KEPT`): what its connection may forget besides its account's."""
        origin = self.core.msgid_origin
        return [f"{origin}{serial}" for serial in self.unlogged.get(uid, ())]

    def _conversation(self, sender: User, recipient: User, when: float) -> tuple[str, str]:
        """The conversation's key, and the sender's folded nick (its `sender` column).

        Remembered by who speaks to whom under which nicks and accounts, so a message
        between the same two computes nothing; a conversation is written (upserted) when
        new, renamed, or last written CONVERSATION_SLACK ago: not with every message (an
        upsert each was a sixth of a private message's cost)."""
        known = self._known_conversations
        seen = (sender.nick, recipient.nick, sender.account, recipient.account)
        entry = known.get(seen)
        if entry is not None and when - entry[2] < CONVERSATION_SLACK:
            return entry[0], entry[1]
        by_account = sender.account is not None and recipient.account is not None
        mine = conversation_side(sender, by_account)
        theirs = conversation_side(recipient, by_account)
        key, one, other = conversation_key(mine, theirs)
        names = (sender.nick, recipient.nick) if one == mine else (recipient.nick, sender.nick)
        folded = irc_lower(sender.nick)
        if len(known) >= KNOWN_CONVERSATIONS:
            known.clear()
        known[seen] = (key, folded, when)
        self.conversations[key] = (key, one, other, *names, when)
        return key, folded

    # ------------------------------------------------------------ events

    def _event(self, key: str, when: float, kind: str, uid: str, line: str) -> None:
        channel = self.core.state.channel(key)
        if channel is not None and UNRECORDED_MODE in channel.modes:
            return
        user = self.core.state.user(uid)
        nick = irc_lower(user.nick) if user is not None else ""
        account = user.account if user is not None else None
        self.append(Row(key, self._event_msgid(), when, kind, nick, account, line, None, None,
                        None))  # fmt: skip

    def _joined(self, event: Joined) -> None:
        line = _line(event.source, "JOIN", [event.channel], False)
        self._event(event.key, event.time, "JOIN", event.uid, line)

    def _parted(self, event: Parted) -> None:
        params = [event.channel, event.reason] if event.reason else [event.channel]
        self._event(event.key, event.time, "PART", event.uid, _line(event.source, "PART", params))

    def _kicked(self, event: Kicked) -> None:
        line = _line(event.source, "KICK", [event.channel, event.target_nick, event.reason])
        self._event(event.key, event.time, "KICK", event.uid, line)

    def _quit(self, event: Quit) -> None:
        self.unlogged.pop(event.uid, None)
        self.searches.recent.pop(event.uid, None)
        line = _line(event.source, "QUIT", [event.reason])
        for key in event.channels:
            self._event(key, event.time, "QUIT", event.uid, line)

    def _nick_changed(self, event: NickChanged) -> None:
        user = self.core.state.user(event.uid)
        if user is None:
            return
        line = _line(event.old_source, "NICK", [event.nick])
        for key in user.channels:
            self._event(key, event.time, "NICK", event.uid, line)

    def _topic_set(self, event: TopicSet) -> None:
        line = _line(event.source, "TOPIC", [event.channel, event.topic])
        self._event(event.key, event.time, "TOPIC", event.uid, line)

    def _mode_changed(self, event: ChannelModeChanged) -> None:
        line = _line(event.source, "MODE", [event.channel, *mode_text(event.changes)], False)
        self._event(event.key, event.time, "MODE", event.uid, line)
