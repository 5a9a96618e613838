"""Registered channels (`CS REGISTER`): rooms that keep their topic, modes, key, limit, lists
and access list across restarts, and that nobody takes over by being first to join.

`ChannelRegistry` knows every registered channel: all of them are read when the server starts
(`load`, before it listens) and kept current in memory, so a JOIN never waits on the disk. Each
record is what the room will be made from when it comes back to life: after a restart, or
whenever it had emptied and someone joins again (`model.restored`, and the `ChannelRestored` event).

It follows the events that change a registered channel, after the state has applied them
(the core runs it as the last step for those kinds, like the router, and for no other kind):
every change to a registered channel's topic, flags, key, limit or lists is written behind,
the channel as it is now, and nobody waits for it. It holds no chat state: what it decides
(the status someone on the access list gets when they log in while in the room) it emits,
as a handler would.

Account names are kept folded (`irc_lower`), as the accounts table keeps them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..config import Settings
from ..protocol import irc_lower
from ..store.accounts import AccountStore, RegisteredChannel, drop_channel
from .events import AccountChanged, ChannelModeChanged, Event, ModeChange, TopicSet
from .model import Channel, User, snapshot
from .router import LocalRouter
from .state import ChatState

__all__ = ["ChannelRegistry", "Core"]

OPERATOR, VOICE = "o", "v"  # what the access list gives: @ or +


class Core(Protocol):
    """What the registry uses of the core (ChatBase)."""

    settings: Settings
    state: ChatState
    router: LocalRouter
    accounts: AccountStore

    def emit(self, event: Event) -> None: ...


class ChannelRegistry:
    """Every registered channel, and the step that keeps them; see the module docstring."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.records: dict[str, RegisteredChannel] = {}  # folded name -> as kept now
        self._follow: dict[type, Callable[[Any], None]] = {
            TopicSet: self._topic_set,
            ChannelModeChanged: self._mode_changed,
            AccountChanged: self._account_changed,
        }

    def load(self, records: Iterable[RegisteredChannel] | None) -> None:
        """The registered channels, as read from the store when the server starts."""
        self.records = {record.folded: record for record in records or ()}

    def follower(self, kind: type) -> Callable[[Any], None] | None:
        """What to do with events of this kind after they are applied (the core looks it up
        once per kind); None for the kinds that never touch a registered channel."""
        return self._follow.get(kind)

    # ------------------------------------------------------------------ reads

    def get(self, name: str) -> RegisteredChannel | None:
        return self.records.get(name) or self.records.get(irc_lower(name))

    def status_of(self, kept: RegisteredChannel, account: str | None) -> str:
        """What someone logged in to `account` gets in the channel: 'o' for its founder and
        its operators, 'v' for those voiced, '' for everyone else."""
        if account is None:
            return ""
        folded = irc_lower(account)
        return OPERATOR if folded == kept.founder else kept.access.get(folded, "")

    def may_manage(self, kept: RegisteredChannel, user: User) -> bool:
        """Whether `user` may change the access list: the founder or an operator on the list
        (logged in), or a server operator."""
        return "o" in user.modes or self.status_of(kept, user.account) == OPERATOR

    # ---------------------------------------------------------------- changes

    def register(self, channel: Channel, founder: str, now: float) -> RegisteredChannel:
        """Register a live channel to the account `founder` (folded), as it is now."""
        kept = snapshot(channel, RegisteredChannel(channel.folded, channel.name, founder, now))
        self.save(kept)
        return kept

    def unregister(self, kept: RegisteredChannel) -> None:
        """Forget a registered channel; the live one, if any, goes on as any other."""
        self.records.pop(kept.folded, None)
        folded = kept.folded
        self.core.accounts.update(lambda c: drop_channel(c, folded), _ignore)

    def set_access(
        self, kept: RegisteredChannel, account: str, status: str | None
    ) -> RegisteredChannel:
        """Put the account (folded) on the access list with `status` ('o' or 'v'), or take it
        off (None); kept at once, with the channel as it is now if it is live."""
        access = {name: given for name, given in kept.access.items() if name != account}
        if status is not None:
            access[account] = status
        kept = dataclasses.replace(kept, access=access)
        channel = self.core.state.channel(kept.folded)
        self.save(kept if channel is None else snapshot(channel, kept))
        return kept

    def forget_account(self, account: str) -> list[str]:
        """An account (folded) was dropped: the channels it founded are no longer registered,
        and it is on no access list. The database does the same by itself (its foreign keys
        cascade); this keeps memory in step. Call it on the loop when the drop is decided, so
        that no later save names the account. Returns the names of the channels dropped."""
        dropped = [kept.name for kept in self.records.values() if kept.founder == account]
        for name in dropped:
            del self.records[irc_lower(name)]
        for folded, kept in list(self.records.items()):
            if account in kept.access:
                access = {name: given for name, given in kept.access.items() if name != account}
                self.records[folded] = dataclasses.replace(kept, access=access)
        return dropped

    def save(self, kept: RegisteredChannel) -> None:
        """Keep this record, in memory now and in the store behind (nobody waits)."""
        self.records[kept.folded] = kept
        self.core.accounts.save_channel(kept)

    def grant(self, channel: Channel, user: User, status: str, now: float) -> None:
        """Give a member the status letters of `status` they lack, with a MODE from the
        server itself, which everyone in the channel sees."""
        has = channel.members.get(user.uid)
        if has is None:
            return
        changes = tuple(
            ModeChange(True, letter, user.nick, user.uid) for letter in status if letter not in has
        )
        if changes:
            server = self.core.settings.server_name
            self.core.emit(
                ChannelModeChanged(now, "", server, channel.name, channel.folded, changes)
            )

    # ----------------------------------------------------------- the follower

    def _keep(self, key: str) -> None:
        kept = self.records.get(key)
        channel = self.core.state.channel(key)
        if kept is not None and channel is not None:
            self.save(snapshot(channel, kept))

    def _topic_set(self, event: TopicSet) -> None:
        if event.key in self.records:
            self._keep(event.key)

    def _mode_changed(self, event: ChannelModeChanged) -> None:
        # @ and + are given to people, not kept: only flags, the key, the limit and lists.
        if event.key in self.records and any(c.target is None for c in event.changes):
            self._keep(event.key)

    def _account_changed(self, event: AccountChanged) -> None:
        """Someone logged in while in registered channels: the status the access list gives
        them there. Only for this node's own sessions (each node gives its own users theirs)."""
        if event.account is None or not self.records:
            return
        session = self.core.router.sessions.get(event.uid)
        if session is None:
            return
        user = session.user
        for key, channel in list(user.channels.items()):
            kept = self.records.get(key)
            if kept is not None:
                self.grant(channel, user, self.status_of(kept, event.account), event.time)


def _ignore(result: object) -> None:
    """A write nobody waits for (a failure is logged by the database)."""
