"""The core's nouns: a `User` (who someone is, network-wide), a `Session` (one local
connection) and a `Channel` (a room, whose members are users by uid).

A cluster node holds a `User` and a `Channel` for everyone and every room of the network, but
a `Session` only for its own connections. Records change only through `ChatState`, except the
few fields that are a session's own (caps, timers). A registered channel's kept record
(store/accounts.py) becomes a Channel again with `restored`, and is brought up to date from
one with `snapshot`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..accounts.sasl import SaslExchange
from ..store.accounts import RegisteredChannel
from .isupport import BAN_MODE, EXCEPT_MODE, LIST_MODES

# One shared empty set: most users never get a mode and most sessions never ask for a
# capability, and an empty `set()` costs 216 bytes each; these fields are replaced, not mutated.
NONE: frozenset[str] = frozenset()
# The channels of a user in none (most idle connections): one dict for all of them, never
# added to (`User.enter` gives the user a dict of its own first); 64 bytes a user saved.
NO_CHANNELS: dict[str, Channel] = {}

# Bits of Session.tag_mask: which tags a session wants on what it is sent (and, for
# extended-join, which form of JOIN): the router renders one variant per mask.
WANTS_TIME = 1  # server-time
WANTS_TAGS = 2  # message-tags: msgid and the client-only tags of messages
WANTS_ACCOUNT = 4  # account-tag: the sender's account on what a logged-in user sends
WANTS_EXTENDED_JOIN = 8  # extended-join: JOIN #room account :real name


class Sink(Protocol):
    """Where the core writes a session's bytes; the edge decides how they travel."""

    def write(self, data: bytes) -> None:
        """Queue `data` (whole CRLF-terminated lines) for the peer."""

    def close(self) -> None:
        """Send what is queued, then hang up."""


@dataclass(slots=True, eq=False)
class User:
    """Someone on the network (identity by uid, never by nick, which changes)."""

    uid: str
    host: str
    nick: str = "*"
    user: str = ""
    realname: str = ""
    modes: frozenset[str] = NONE
    away: str | None = None
    account: str | None = None
    node: str = ""  # in a cluster, the id of the node they are connected to; "" for this one
    signon: float = 0.0
    # When they took the nick they have now: a private conversation kept by nick is theirs
    # only from then on (CHATHISTORY), never the lines of whoever held the nick before.
    nick_since: float = 0.0
    registered: bool = False
    console: bool = False  # the server's own operator console, not a connection
    channels: dict[str, Channel] = field(default_factory=lambda: NO_CHANNELS)  # folded -> it
    source: str = "*"  # nick!user@host, kept current so relays never rebuild it

    def enter(self, key: str, channel: Channel) -> None:
        """Count `channel` (folded name `key`) among the user's (ChatState's to call)."""
        if self.channels is NO_CHANNELS:
            self.channels = {key: channel}
        else:
            self.channels[key] = channel

    def refresh_source(self) -> None:
        """Recompute `source` after the nick or user changed."""
        self.source = f"{self.nick}!{self.user or '~u'}@{self.host}"


@dataclass(slots=True, eq=False)
class Session:
    """One local connection: where its bytes go, what it negotiated, its timers."""

    sink: Sink
    user: User
    connected_at: float
    # The sink's write, bound once since deliveries call it for every recipient; while
    # the session's own command runs, it points into the command's reply buffer.
    write: Callable[[bytes], None] = field(init=False, repr=False)
    caps: frozenset[str] = NONE
    tag_mask: int = 0
    echo: bool = False  # echo-message: its own messages come back to it
    secure: bool = False  # it came over TLS
    certfp: str | None = None  # its TLS client certificate's SHA-256, in hex (SASL EXTERNAL)
    addr: str = ""  # the peer's address, for the log (the user's host may be changed)
    cap_negotiating: bool = False
    cap_version: int = 0  # 302 after `CAP LS 302`: values, long replies split, cap-notify
    password: str | None = None
    last_heard: float = 0.0  # any line at all, for ping timeouts
    last_spoke: float = 0.0  # the last message sent, for WHOIS idle time
    ping_sent: bool = False  # a keepalive PING is waiting for an answer
    gone: bool = False
    # Lines that arrived while an operation of this session was pending: they wait, in order.
    held: deque[tuple[bytes, bool]] | None = None
    # The connection closed while lines waited (`held`): why, to leave once they are done.
    leaving: str | None = None
    # Why it left, once it has (QUIT, KILL, a timeout, shutdown): the edge logs it.
    reason: str | None = None
    # While its own command runs: what it writes to itself, sent in one piece at the end.
    replies: list[bytes] | None = None
    # While a command with a label (labeled-response) runs, or waits on `later`: the label.
    label: Labeled | None = None
    # A batch the client has opened (draft/multiline) and not yet closed.
    batch: OpenBatch | None = None
    # A SASL exchange (AUTHENTICATE) under way.
    sasl: SaslExchange | None = None

    def __post_init__(self) -> None:
        self.write = self.sink.write

    @property
    def registered(self) -> bool:
        return self.user.registered

    @property
    def nick(self) -> str:
        return self.user.nick

    @property
    def console(self) -> bool:
        return self.user.console

    def attach(self, sink: Sink) -> None:
        """Send this session's output somewhere else from now on."""
        self.sink = sink
        self.write = sink.write

    def take_held(self) -> deque[tuple[bytes, bool]] | None:
        """The lines held back while an operation was pending; none held from now on.

        A method, not `held, session.held = session.held, None` where the operation
        finishes (ChatBase._finish): after that the type checker takes `session.held` for
        None to the end of the method, though the command run next may start another
        operation, and the compiled core (mypyc) trusted it: a line held then raised a
        TypeError and was lost."""
        held = self.held
        self.held = None
        return held


@dataclass(slots=True, eq=False)
class Labeled:
    """A command that came with a `label` tag: its replies, sent labeled when it ends."""

    label: str
    replies: list[bytes] = field(default_factory=list)
    later: bool = False  # it goes on in `core.later`: its replies wait for the rest


@dataclass(slots=True, eq=False)
class OpenBatch:
    """A client's `BATCH +ref draft/multiline target`, collecting its lines until `BATCH -ref`."""

    ref: str
    target: str
    tags: dict[str, str] | None  # the client-only tags of the whole message
    label: Labeled | None  # the opening BATCH's label: the answer at the end carries it
    command: str = ""  # PRIVMSG or NOTICE, from the first line
    lines: list[tuple[str, bool]] = field(default_factory=list)  # (text, concatenated?)
    size: int = 0  # bytes of the combined message so far, line feeds included
    failed: bool = False  # refused already: the rest of its lines are dropped


@dataclass(slots=True, eq=False)
class Whowas:
    """What was known of a nick when its user left it behind (a QUIT or a NICK), for WHOWAS."""

    nick: str
    user: str
    host: str
    realname: str
    when: float
    folded: str  # the nick under casemapping


@dataclass(slots=True, eq=False)
class Channel:
    """A room. `members` maps each member's uid to its status letters ('o', 'v', 'ov')."""

    name: str
    folded: str  # the name under casemapping: the channel's key everywhere
    created: float
    members: dict[str, str] = field(default_factory=dict)
    topic: str = ""
    topic_setter: str = ""
    topic_time: float = 0.0
    modes: frozenset[str] = NONE  # flag modes; the key and limit have fields of their own
    key: str | None = None
    limit: int | None = None
    bans: dict[str, tuple[str, float]] = field(default_factory=dict)  # mask -> (setter, time)
    excepts: dict[str, tuple[str, float]] = field(default_factory=dict)  # ban exceptions
    invex: dict[str, tuple[str, float]] = field(default_factory=dict)  # invite exceptions
    invited: set[str] = field(default_factory=set)  # uids

    def status_prefix(self, uid: str, multi_prefix: bool = False) -> str:
        """The '@'/'+' shown before a member's nick, highest first."""
        status = self.members.get(uid, "")
        prefix = ("@" if "o" in status else "") + ("+" if "v" in status else "")
        return prefix if multi_prefix else prefix[:1]

    def mask_list(self, letter: str) -> dict[str, tuple[str, float]]:
        """The list a list mode letter (b, e, I) keeps: mask -> (who set it, when)."""
        if letter == BAN_MODE:
            return self.bans
        return self.excepts if letter == EXCEPT_MODE else self.invex

    def mode_string(self, show_key: bool) -> list[str]:
        """The channel's modes as MODE parameters, e.g. ['+klnt', 'secret', '10']."""
        letters = "".join(sorted(self.modes))
        params: list[str] = []
        if self.key is not None:
            letters += "k"
            params.append(self.key if show_key else "*")
        if self.limit is not None:
            letters += "l"
            params.append(str(self.limit))
        return ["+" + letters, *params]


def restored(kept: RegisteredChannel) -> Channel:
    """A registered channel as it was kept, with nobody in it yet; it was created when it
    was registered."""
    channel = Channel(
        kept.name, kept.folded, kept.registered, topic=kept.topic,
        topic_setter=kept.topic_setter, topic_time=kept.topic_time,
        modes=frozenset(kept.modes), key=kept.key, limit=kept.limit,
    )  # fmt: skip
    for letter, mask, setter, when in kept.lists:
        if letter in LIST_MODES:
            channel.mask_list(letter)[mask] = (setter, when)
    return channel


def snapshot(channel: Channel, kept: RegisteredChannel) -> RegisteredChannel:
    """`kept`, with the topic, modes, key, limit and lists the channel has now."""
    lists = tuple(
        (letter, mask, setter, when)
        for letter in LIST_MODES
        for mask, (setter, when) in channel.mask_list(letter).items()
    )
    return replace(
        kept, topic=channel.topic, topic_setter=channel.topic_setter,
        topic_time=channel.topic_time, modes="".join(sorted(channel.modes)), key=channel.key,
        limit=channel.limit, lists=lists,
    )  # fmt: skip


@dataclass(slots=True)
class Reloaded:
    """What a reload did: whether the file was taken, where from, and what to tell whoever
    asked for it (one sentence per line: what changed, what needs a restart, or the error)."""

    ok: bool
    source: str
    lines: list[str] = field(default_factory=list)
