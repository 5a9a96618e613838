"""The one owner of chat state: nicks, users, channels, membership, modes, invites, counts.

Handlers read the state freely but never change it: they emit events, and `apply` is the only
way in. That keeps every rule about who holds what in one place, and lets a cluster put the
same interface over Redis (where `apply` runs for events in the order Redis gave them).

`ChatState` is the interface; `LocalState`, plain dicts in this process, is the default.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..protocol import irc_lower
from .events import (
    AccountChanged,
    AwayChanged,
    ChannelModeChanged,
    ChannelRestored,
    Event,
    HostChanged,
    Invited,
    Joined,
    Kicked,
    NickChanged,
    Parted,
    Quit,
    RealnameChanged,
    Registered,
    TopicSet,
    UserModeChanged,
)
from .isupport import DEFAULT_CHANNEL_MODES, LIST_MODES, USER_MODES
from .model import NO_CHANNELS, Channel, User, Whowas, restored

__all__ = ["ChatState", "LocalState"]


class ChatState(Protocol):
    """What the core asks of the chat's state, wherever it is kept."""

    users: int  # registered users (network-wide, in a cluster)
    remote_users: int  # of them, those on other nodes
    max_users: int  # the most at once
    user_modes: dict[str, int]  # registered users per user mode ('i', 'o')

    def connect(self, user: User) -> None:
        """A new, unregistered user (a connection that has not finished registering)."""

    def forget(self, user: User) -> None:
        """An unregistered user is gone: drop its nick claim."""

    def claim_nick(self, user: User, nick: str) -> bool:
        """Before registration: hold `nick` for `user`, unless someone else holds it (a
        user of another cluster node yields: the network said the nick is free, and this
        copy of them has not yet heard that they let it go)."""

    def nick_holder(self, nick: str) -> User | None:
        """Whoever holds `nick`, registered or not."""

    def user_by_nick(self, nick: str) -> User | None:
        """The registered user with this nick (under casemapping), if any."""

    def user(self, uid: str) -> User | None: ...

    def channel(self, name: str) -> Channel | None: ...

    def all_channels(self) -> Iterable[Channel]: ...

    def all_users(self) -> Iterable[User]:
        """Every registered user."""

    def whowas(self, nick: str) -> list[Whowas]:
        """What is remembered of users who left `nick` behind, most recent first."""

    def invitations(self, uid: str) -> list[Channel]:
        """The channels `uid` is invited to and has not joined yet."""

    @property
    def channel_count(self) -> int: ...

    def apply(self, event: Event) -> None:
        """Change the state as `event` says; the only way it changes."""

    def applier(self, kind: type) -> Callable[[Any], None] | None:
        """What `apply` does with events of this kind (the core looks it up once); None
        for a kind that changes nothing."""

    def clear(self) -> None:
        """Forget everyone and everything (the server is shutting down)."""


class LocalState:
    """The chat's state in this process's memory."""

    def __init__(self, whowas_entries: int = 1000, whowas_per_nick: int = 10) -> None:
        self.nicks: dict[str, User] = {}  # folded nick -> user, registered or not
        self.by_uid: dict[str, User] = {}
        # Told (uid, folded nick) of each nick let go, in a cluster (core/shared_nicks.py).
        self.released: Callable[[str, str], None] | None = None
        # A cluster's nicks in contest: folded nick -> the user of another node whose rename
        # to it arrived while a user of this node held it. Theirs once this node's lets go
        # (the shared store decides which one does: Replication._nick_contested).
        self.contested: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}  # folded name -> channel
        self.invites: dict[str, set[str]] = {}  # uid -> keys of channels they are invited to
        self.users = 0
        self.remote_users = 0  # of `users`, those on other nodes of a cluster
        self.max_users = 0
        self.user_modes: dict[str, int] = dict.fromkeys(USER_MODES, 0)
        # WHOWAS: each nick's records, oldest first, and every record in the order made.
        # Both are bounded: a record dropped for its nick stays in the order (costing its
        # place) until it reaches the front, so the order never holds more than the limit.
        self.whowas_entries = whowas_entries
        self.whowas_per_nick = whowas_per_nick
        self.whowas_records: dict[str, deque[Whowas]] = {}
        self.whowas_order: deque[Whowas] = deque()
        self._apply: dict[type, Callable[[Any], None]] = {
            AccountChanged: self._account_changed,
            Registered: self._registered,
            Joined: self._joined,
            Parted: self._parted,
            Kicked: self._kicked,
            Quit: self._quit,
            NickChanged: self._nick_changed,
            TopicSet: self._topic_set,
            ChannelModeChanged: self._channel_mode_changed,
            UserModeChanged: self._user_mode_changed,
            Invited: self._invited,
            AwayChanged: self._away_changed,
            HostChanged: self._host_changed,
            RealnameChanged: self._realname_changed,
            ChannelRestored: self._channel_restored,
        }

    # ------------------------------------------------------------------ reads

    def nick_holder(self, nick: str) -> User | None:
        # Keys are folded, and a folded string folds to itself: try the name as typed first.
        return self.nicks.get(nick) or self.nicks.get(irc_lower(nick))

    def user_by_nick(self, nick: str) -> User | None:
        user = self.nicks.get(nick) or self.nicks.get(irc_lower(nick))
        return user if user is not None and user.registered else None

    def user(self, uid: str) -> User | None:
        return self.by_uid.get(uid)

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(name) or self.channels.get(irc_lower(name))

    def all_channels(self) -> Iterator[Channel]:
        return iter(self.channels.values())

    def all_users(self) -> Iterator[User]:
        return (user for user in self.by_uid.values() if user.registered)

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    def invitations(self, uid: str) -> list[Channel]:
        found = (self.channels.get(key) for key in self.invites.get(uid, ()))
        return sorted((c for c in found if c is not None), key=lambda c: c.folded)

    def whowas(self, nick: str) -> list[Whowas]:
        return list(reversed(self.whowas_records.get(irc_lower(nick), ())))

    def _remember(self, user: User, when: float) -> None:
        """Keep a WHOWAS record of `user` under the nick they are leaving behind."""
        if self.whowas_entries <= 0:
            return
        folded = irc_lower(user.nick)
        record = Whowas(user.nick, user.user, user.host, user.realname, when, folded)
        records = self.whowas_records.get(folded)
        if records is None:
            records = self.whowas_records[folded] = deque()
        records.append(record)
        if len(records) > self.whowas_per_nick:
            records.popleft()
        order = self.whowas_order
        order.append(record)
        while len(order) > self.whowas_entries:
            oldest = order.popleft()
            kept = self.whowas_records.get(oldest.folded)
            if kept and kept[0] is oldest:  # not already dropped for its nick
                kept.popleft()
                if not kept:
                    del self.whowas_records[oldest.folded]

    # ------------------------------------------------- connections, nick claims

    def connect(self, user: User) -> None:
        self.by_uid[user.uid] = user

    def forget(self, user: User) -> None:
        self._release_nick(user)
        self.by_uid.pop(user.uid, None)

    def claim_nick(self, user: User, nick: str) -> bool:
        folded = irc_lower(nick)
        holder = self.nicks.get(folded)
        if holder is not None and holder is not user and not holder.node:
            return False
        self._release_nick(user)
        if nick == user.user:  # the username came first and is the same: keep one string
            nick = user.user
        if folded == nick:  # already folded (most nicks): the index shares the nick's string
            folded = nick
        self.nicks[folded] = user
        user.nick = nick
        user.refresh_source()
        return True

    def _release_nick(self, user: User) -> None:
        folded = irc_lower(user.nick)
        if self.nicks.get(folded) is user:
            del self.nicks[folded]
            if self.released is not None:  # a cluster's shared nicks (shared_nicks.py)
                self.released(user.uid, folded)
            waiting = self.contested.pop(folded, None)
            if waiting is not None and irc_lower(waiting.nick) == folded:
                self.nicks[folded] = waiting
        elif self.contested.get(folded) is user:
            del self.contested[folded]

    def adopt(self, users: Iterable[User], channels: Iterable[Channel]) -> None:
        """Take in the network as another node knows it (a cluster node joining): its users
        and rooms, beside this node's own."""
        for user in users:
            if user.uid not in self.by_uid:
                signon, since = user.signon, user.nick_since
                self._registered(Registered(signon, user))
                user.nick_since = since
        for channel in channels:
            mine = self.channels.get(channel.folded)
            if mine is not None:  # this node's users made it meanwhile: keep them in it
                channel.members.update(mine.members)
            self.channels[channel.folded] = channel
            for uid in channel.members:
                member = self.by_uid.get(uid)
                if member is not None:
                    member.enter(channel.folded, channel)
            for uid in channel.invited:
                self.invites.setdefault(uid, set()).add(channel.folded)

    def clear(self) -> None:
        self.nicks.clear()
        self.contested.clear()
        self.by_uid.clear()
        self.channels.clear()
        self.invites.clear()
        self.whowas_records.clear()
        self.whowas_order.clear()
        self.users = self.remote_users = 0
        self.user_modes = dict.fromkeys(self.user_modes, 0)

    # ----------------------------------------------------------------- apply

    def apply(self, event: Event) -> None:
        applier = self._apply.get(type(event))
        if applier is not None:
            applier(event)

    def applier(self, kind: type) -> Callable[[Any], None] | None:
        return self._apply.get(kind)

    def _registered(self, event: Registered) -> None:
        user = event.user
        if user.registered:  # a cluster node's own registration, back from the bus
            return
        user.registered = True
        if user.node:  # someone on another node: their nick is theirs here too
            self.nicks[irc_lower(user.nick)] = user
            self.remote_users += 1
        user.signon = user.nick_since = event.time
        self.by_uid[user.uid] = user
        self.users += 1
        self.max_users = max(self.max_users, self.users)
        for letter in user.modes:
            self.user_modes[letter] += 1

    def _joined(self, event: Joined) -> None:
        user = self.by_uid[event.uid]
        channel = self.channels.get(event.key)
        if channel is None:
            channel = self.channels[event.key] = Channel(
                event.channel, event.key, event.time, modes=DEFAULT_CHANNEL_MODES
            )
        channel.members[event.uid] = event.status
        user.enter(event.key, channel)
        if event.uid in channel.invited:
            channel.invited.discard(event.uid)
            self.invites[event.uid].discard(event.key)

    def _channel_restored(self, event: ChannelRestored) -> None:
        if event.key not in self.channels:
            self.channels[event.key] = restored(event.kept)

    def _parted(self, event: Parted) -> None:
        self._remove_member(event.key, event.uid)

    def _kicked(self, event: Kicked) -> None:
        self._remove_member(event.key, event.target)

    def _remove_member(self, key: str, uid: str) -> None:
        """Take a user out of a channel, dropping the channel once it is empty."""
        channel = self.channels.get(key)
        if channel is None:
            return
        channel.members.pop(uid, None)
        user = self.by_uid.get(uid)
        if user is not None:
            user.channels.pop(key, None)
            if not user.channels:
                user.channels = NO_CHANNELS  # the dict of its own goes (model.NO_CHANNELS)
        if not channel.members:
            del self.channels[key]
            for invitee in channel.invited:
                self.invites[invitee].discard(key)

    def _quit(self, event: Quit) -> None:
        user = self.by_uid.pop(event.uid, None)
        if user is None:
            return
        for key in list(user.channels):
            self._remove_member(key, event.uid)
        for key in self.invites.pop(event.uid, ()):
            channel = self.channels.get(key)
            if channel is not None:
                channel.invited.discard(event.uid)
        self._release_nick(user)
        if user.registered:
            self._remember(user, event.time)
            self.users -= 1
            if user.node:
                self.remote_users -= 1
            for letter in user.modes:
                self.user_modes[letter] -= 1

    def _nick_changed(self, event: NickChanged) -> None:
        user = self.by_uid[event.uid]
        self._remember(user, event.time)
        folded = irc_lower(event.nick)
        if folded != irc_lower(user.nick):  # not merely another case of the same nick
            self._release_nick(user)
            user.nick_since = event.time
        holder = self.nicks.get(folded)
        if holder is None or holder is user or not user.node or holder.node:
            self.nicks[folded] = user
        else:  # another node's user, given a nick this node's user holds: wait for the store
            self.contested[folded] = user
        user.nick = event.nick
        user.refresh_source()

    def _topic_set(self, event: TopicSet) -> None:
        channel = self.channels[event.key]
        channel.topic = event.topic
        channel.topic_setter = event.source
        channel.topic_time = event.time

    def _channel_mode_changed(self, event: ChannelModeChanged) -> None:
        channel = self.channels[event.key]
        for change in event.changes:
            letter, adding, arg = change.letter, change.adding, change.arg
            if change.target is not None:  # o or v
                status = channel.members.get(change.target)
                if status is not None:
                    status = status.replace(letter, "")
                    channel.members[change.target] = (
                        "".join(sorted(status + letter)) if adding else status
                    )
            elif letter in LIST_MODES and arg is not None:
                masks = channel.mask_list(letter)
                if adding:
                    masks[arg] = (event.source, event.time)
                else:
                    masks.pop(arg, None)
            elif letter == "k":
                channel.key = arg if adding else None
            elif letter == "l":
                channel.limit = int(arg) if adding and arg is not None else None
            else:
                modes = set(channel.modes)
                (modes.add if adding else modes.discard)(letter)
                channel.modes = frozenset(modes)

    def _user_mode_changed(self, event: UserModeChanged) -> None:
        user = self.by_uid[event.uid]
        modes = set(user.modes)
        for change in event.changes:
            if change.adding != (change.letter in modes):
                (modes.add if change.adding else modes.discard)(change.letter)
                if user.registered:
                    self.user_modes[change.letter] += 1 if change.adding else -1
        user.modes = frozenset(modes)

    def _invited(self, event: Invited) -> None:
        channel = self.channels[event.key]
        channel.invited.add(event.target)
        self.invites.setdefault(event.target, set()).add(event.key)

    def _account_changed(self, event: AccountChanged) -> None:
        self.by_uid[event.uid].account = event.account

    def _away_changed(self, event: AwayChanged) -> None:
        self.by_uid[event.uid].away = event.text

    def _host_changed(self, event: HostChanged) -> None:
        user = self.by_uid[event.uid]
        user.user, user.host = event.user, event.host
        user.refresh_source()

    def _realname_changed(self, event: RealnameChanged) -> None:
        self.by_uid[event.uid].realname = event.realname
