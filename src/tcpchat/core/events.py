"""What happened, as data: the records handlers emit and every consumer reads.

A handler checks a command against the state and decides; what it decided becomes one event.
`ChatCore.emit` hands the event to the state (`ChatState.apply`, the only place state changes)
and then to the router (`Router.publish`, which renders it for the local sessions that should
see it). History and the cluster read the same records. Each event has one `time`, read once,
so every recipient (and the history) sees the same; a `MessageSent` also has one `msgid`.

Events name users by uid and channels by their folded name (`key`), never by object, so a
record can travel to another node. They are named tuples: immutable, and cheap to make on the
hot path (a frozen dataclass costs four times as much to build).
"""

from __future__ import annotations

import functools
from typing import Final, NamedTuple

from ..store.accounts import RegisteredChannel
from .model import User


class Registered(NamedTuple):
    """A connection finished registering: `user` is now on the network."""

    time: float
    user: User


class MessageSent(NamedTuple):
    """PRIVMSG, NOTICE or TAGMSG to a channel (`channel` is its key) or to one user
    (`recipient` is their uid).

    Its msgid is `origin` (unique to the server run that minted it) and a serial number,
    formatted only when someone needs it: most recipients of most messages never do.
    """

    time: float
    origin: str
    serial: int
    command: str
    sender: str  # uid
    source: str  # nick!user@host
    target: str  # the channel's name or the recipient's nick, as shown
    channel: str | None
    recipient: str | None
    text: str  # empty for TAGMSG
    tags: dict[str, str] | None  # client-only tags ('+...') to pass on
    echo: bool  # the sender asked for its own copy (echo-message)

    @property
    def msgid(self) -> str:
        return f"{self.origin}{self.serial}"


class Knocked(NamedTuple):
    """KNOCK: someone outside an invite-only channel asks its operators for an invitation."""

    time: float
    uid: str
    source: str
    channel: str
    key: str
    text: str


class AccountChanged(NamedTuple):
    """A user logged in to an account (`account`), or out of one (None)."""

    time: float
    uid: str
    source: str
    account: str | None


class ServerTold(NamedTuple):
    """The server tells one user something, wherever they are connected: a NOTICE (why
    they were renamed, how long they have to log in) or a numeric such as 901 (logged
    out by an operator). `params` follow their nick, which is the one they have when
    told."""

    time: float
    uid: str
    command: str  # NOTICE, or a numeric
    params: tuple[str, ...]


class Wallops(NamedTuple):
    """WALLOPS from a server operator: for users with mode +w."""

    time: float
    uid: str
    source: str
    text: str


class StatusMessageSent(NamedTuple):
    """A message to the members of a channel with at least some status (STATUSMSG:
    `PRIVMSG @#room`): `message` is the MessageSent, its target shown with the prefix, and
    `statuses` the status letters that receive it ('o' for '@', 'ov' for '+')."""

    time: float
    statuses: str
    message: MessageSent


# MessageSent((time, origin, serial, ...)), all fields in order: what the hot path builds
# messages with, skipping the named tuple's Python-level __new__ (a third of the cost).
# Final, so that compiled it is a C static, not a lookup in the module's dict per call.
message_sent: Final = functools.partial(tuple.__new__, MessageSent)


class MultilineSent(NamedTuple):
    """A message of several lines (draft/multiline): one message, with one time and one
    msgid, sent as a batch to those who negotiated it and line by line to the others.

    `lines` keep the composition the client sent: each line's text, and whether it joins
    the previous one without a line feed (`draft/multiline-concat`).
    """

    time: float
    origin: str
    serial: int
    command: str  # PRIVMSG or NOTICE
    sender: str  # uid
    source: str
    target: str
    channel: str | None
    recipient: str | None
    lines: tuple[tuple[str, bool], ...]
    tags: dict[str, str] | None
    echo: bool

    @property
    def msgid(self) -> str:
        return f"{self.origin}{self.serial}"

    @property
    def text(self) -> str:
        """The whole message: lines joined by line feeds, concatenated ones by nothing."""
        parts: list[str] = []
        for i, (line, concat) in enumerate(self.lines):
            if i and not concat:
                parts.append("\n")
            parts.append(line)
        return "".join(parts)


class Joined(NamedTuple):
    time: float
    uid: str
    source: str
    channel: str  # name as shown
    key: str
    status: str  # 'o' for the channel's creator


class ChannelRestored(NamedTuple):
    """A registered channel comes back to life as it was kept (its first JOIN after a
    restart, or after it had emptied): made before the Joined that follows."""

    time: float
    channel: str  # name as shown
    key: str
    kept: RegisteredChannel


class Parted(NamedTuple):
    time: float
    uid: str
    source: str
    channel: str
    key: str
    reason: str


class Kicked(NamedTuple):
    time: float
    uid: str  # who kicked
    source: str
    channel: str
    key: str
    target: str  # uid of who was kicked
    target_nick: str
    reason: str


class Quit(NamedTuple):
    """A registered user left the network; `channels` are the keys of the rooms they were in."""

    time: float
    uid: str
    source: str
    reason: str
    channels: tuple[str, ...]


class NickChanged(NamedTuple):
    time: float
    uid: str
    old_source: str
    nick: str


class TopicSet(NamedTuple):
    time: float
    uid: str
    source: str
    channel: str
    key: str
    topic: str


class ModeChange(NamedTuple):
    """One letter of a MODE change: `arg` is the parameter as shown (a nick, a mask, a key)."""

    adding: bool
    letter: str
    arg: str | None = None
    target: str | None = None  # the uid, for the status letters o and v


class ChannelModeChanged(NamedTuple):
    time: float
    uid: str
    source: str
    channel: str
    key: str
    changes: tuple[ModeChange, ...]


class UserModeChanged(NamedTuple):
    """User modes of `uid` changed (by themselves, or by OPER); only they are told."""

    time: float
    uid: str
    source: str
    nick: str
    changes: tuple[ModeChange, ...]


class Invited(NamedTuple):
    time: float
    uid: str
    source: str
    target: str  # uid
    target_nick: str
    channel: str
    key: str


class AwayChanged(NamedTuple):
    time: float
    uid: str
    source: str
    text: str | None  # None: back


class HostChanged(NamedTuple):
    """An operator gave `uid` another user name and host (CHGHOST); `old_source` is the
    nick!user@host they had."""

    time: float
    uid: str
    old_source: str
    user: str
    host: str


class RealnameChanged(NamedTuple):
    """`uid` took another real name (SETNAME)."""

    time: float
    uid: str
    source: str
    realname: str


class Killed(NamedTuple):
    """An operator disconnects `target`; the victim is told before the Quit that follows."""

    time: float
    uid: str
    source: str
    target: str
    target_nick: str
    reason: str


class StoreWritten(NamedTuple):
    """A cluster node changed accounts or registered channels: the statements that did it
    (store/replicated_accounts.py), for the other nodes to make the same change."""

    time: float
    statements: tuple[tuple[str, list[object]], ...]


EVENT_TYPES = (
    Registered,
    MessageSent,
    MultilineSent,
    Joined,
    Parted,
    Kicked,
    Quit,
    NickChanged,
    TopicSet,
    ChannelModeChanged,
    UserModeChanged,
    Invited,
    AwayChanged,
    Killed,
    HostChanged,
    RealnameChanged,
    StatusMessageSent,
    Knocked,
    Wallops,
    AccountChanged,
    ServerTold,
    ChannelRestored,
    StoreWritten,
)
Event = (
    AccountChanged
    | Registered
    | MessageSent
    | MultilineSent
    | Joined
    | Parted
    | Kicked
    | Quit
    | NickChanged
    | TopicSet
    | ChannelModeChanged
    | UserModeChanged
    | Invited
    | AwayChanged
    | Killed
    | HostChanged
    | RealnameChanged
    | StatusMessageSent
    | Knocked
    | Wallops
    | ServerTold
    | ChannelRestored
    | StoreWritten
)


def mode_text(changes: tuple[ModeChange, ...]) -> list[str]:
    """MODE parameters for `changes`: ['+o-v', 'alice', 'bob']."""
    letters = ""
    sign = ""
    params: list[str] = []
    for change in changes:
        wanted = "+" if change.adding else "-"
        if wanted != sign:
            sign = wanted
            letters += sign
        letters += change.letter
        if change.arg is not None:
            params.append(change.arg)
    return [letters, *params]
