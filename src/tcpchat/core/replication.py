"""A cluster node's side of the core: every event goes into one shared log (the bus), and
every node applies and delivers the log in its one order.

Messages to channels and to people (`ORDERED`) change no state: each node, the sender's
included, records and delivers them when the bus brings them back, so every member of a
room anywhere sees them in the bus's order, with one msgid and time. A sender that asked for
its own copy (echo-message) gets it in that order too, and its next lines wait for it, so
its replies still come in the order of its commands.

Every other event changes the state. The node where it happened applies and shows it at
once (the handler that emitted it goes on to read the state it made: JOIN's NAMES,
registration's welcome), and appends it; the other nodes apply and show it in the bus's
order. When the bus brings a node's own channel event back, the node applies it again, in
that order: two nodes setting one topic at once each showed their own first, and both end
with the one the bus put last. Appliers are idempotent for this (state.py), and an event
about someone who has left meanwhile is skipped.

Sans-IO: the edge (edge/cluster.py) takes the `outbox`, appends it to Redis, and hands back
what the bus brings: `returned(count)` for this node's own batches, `arrived(events)` for
the others'.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..protocol import irc_lower
from .events import (
    EVENT_TYPES,
    ChannelModeChanged,
    ChannelRestored,
    Event,
    Invited,
    Joined,
    Kicked,
    Killed,
    MessageSent,
    MultilineSent,
    NickChanged,
    Parted,
    Quit,
    Registered,
    StatusMessageSent,
    StoreWritten,
    TopicSet,
)
from .handlers.ownership import give_way
from .model import Channel, Session, User

if TYPE_CHECKING:
    from .base import ChatBase

log = logging.getLogger("tcpchat.cluster")

ORDERED = (MessageSent, MultilineSent, StatusMessageSent)
# Events several nodes may make about one channel at once: applied again in the bus's order.
CHANNEL_KINDS = (Joined, Parted, Kicked, TopicSet, ChannelModeChanged, Invited, ChannelRestored)
SPLIT_REASON = "*.net *.split"

Step = Callable[[Any], None]


def _nothing(event: Any) -> None:
    pass


def _chain(steps: Iterable[Step | None]) -> Step:
    found = [step for step in steps if step is not None]
    if not found:
        return _nothing

    def each(event: Any) -> None:
        for step in found:
            step(event)

    return found[0] if len(found) == 1 else each


def _actor(event: Any) -> tuple[str, bool]:
    """Who sent an ordered event, and whether they asked for their own copy."""
    message = event.message if type(event) is StatusMessageSent else event
    return message.sender, message.echo


class Replication:
    """Holds what this node has appended and not yet seen come back, in order."""

    def __init__(self, core: ChatBase) -> None:
        self.core = core
        self.outbox: list[Event] = []
        self.wake: Callable[[], None] = lambda: None  # the edge sends the outbox soon
        self.bus: object | None = None  # the edge's side, for it to find at shutdown
        # This node's events on their way through the bus, each with the session whose
        # next lines wait for it (echo-message), in the order appended.
        self.in_flight: deque[tuple[Event, Session | None]] = deque()
        self.holds: dict[Session, list[Any]] = {}  # session -> [done, events to wait for]
        # Whether Redis answers: while it does not, a sender's next lines do not wait for
        # its echo (they would hang until it is back); the echo comes when it is.
        self.connected = True
        self.sent = 0  # events appended to the bus (/metrics)
        self.received = 0  # events read from the bus: this node's own and the others'
        state, router = core.state, core.router
        self._home: dict[type, Step] = {}
        self._back: dict[type, Step] = {}
        self._remote: dict[type, Step] = {}
        for kind in EVENT_TYPES:
            record, apply = core.history.recorder(kind), state.applier(kind)
            render, follow = router.renderer(kind), core.channel_registry.follower(kind)
            if kind in ORDERED:
                self._home[kind] = self._send_ordered
                self._back[kind] = _chain([record, render])
            else:
                self._home[kind] = _chain([apply, render, follow, self._send])
                again = apply if kind in CHANNEL_KINDS else None
                self._back[kind] = _chain([record, again])
            self._remote[kind] = _chain([record, apply, render])
        self._remote[Killed] = _chain([self._remote[Killed], self._killed])
        self._remote[NickChanged] = _chain([self._nick_contested, self._remote[NickChanged]])
        self._home[StoreWritten] = self._send  # written here already
        self._home[NickChanged] = _chain([self._nick_given, self._home[NickChanged]])
        self._home[Registered] = _chain([state.applier(Registered), router.renderer(Registered),
                                         self._registered])  # fmt: skip
        self._remote[StoreWritten] = self._store_written

    def pipeline(self) -> dict[type, Step]:
        """What the core's `emit` does with each kind of event on a cluster node."""
        return dict(self._home)

    # --------------------------------------------------------------- sending

    def _send(self, event: Event, hold: Session | None = None) -> None:
        if not self.outbox:
            self.wake()
        self.outbox.append(event)
        self.in_flight.append((event, hold))

    def _send_ordered(self, event: Any) -> None:
        sender, echo = _actor(event)
        session = self.core.router.sessions.get(sender) if echo and self.connected else None
        if session is None or session.replies is None:  # no command of its own running
            self._send(event)
            return
        entry = self.holds.get(session)
        if entry is None:
            entry = self.holds[session] = [None, 0]
            self.core.later(session, lambda done: entry.__setitem__(0, done), self._shown)
        entry[1] += 1
        self._send(event, session)

    def take(self) -> list[Event]:
        """The events to append now, in order (the edge calls this once per loop turn)."""
        batch, self.outbox = self.outbox, []
        self.sent += len(batch)
        return batch

    # ------------------------------------------------------------- receiving

    def returned(self, count: int) -> None:
        """The bus brought back this node's next `count` events, in their place in its order."""
        self.received += count
        for _ in range(count):
            if not self.in_flight:
                log.warning("the bus brought back an event this node no longer waits for")
                return
            event, hold = self.in_flight.popleft()
            try:
                if hold is not None and self._release(hold, event):
                    continue
                self._back[type(event)](event)
            except (KeyError, AttributeError):  # about someone or a room gone meanwhile
                log.debug("skipped %s", type(event).__name__)

    def arrived(self, events: list[Event]) -> None:
        """Events other nodes appended, in the bus's order."""
        remote = self._remote
        self.received += len(events)
        for event in events:
            try:
                remote[type(event)](event)
            except (KeyError, AttributeError):
                log.debug("skipped %s from another node", type(event).__name__)

    def _release(self, session: Session, event: Event) -> bool:
        """One of the events `session` waits for is back; the last one is shown inside its
        command (so a label covers the echo) and lets its next lines go."""
        entry = self.holds.get(session)
        if entry is None:
            return False
        entry[1] -= 1
        if entry[1] > 0:
            return False
        del self.holds[session]
        if session.gone or entry[0] is None:
            return False
        entry[0](event)
        return True

    def _shown(self, core: ChatBase, session: Session, event: Event) -> None:
        """The last event a held session waited for, shown inside its command."""
        self._back[type(event)](event)

    def _registered(self, event: Registered) -> None:
        """Everyone is known network-wide but a node's operator console ("Server" on every
        node): what it says reaches everyone, but it is no one's to WHOIS or message."""
        if not event.user.console:
            self._send(event)

    def _nick_given(self, event: NickChanged) -> None:
        """A rename this node made, given to the user in the shared store too: a guest nick
        or REGAIN is given by the server whoever held it (a NICK, claimed already, is set
        again to the same)."""
        core, shared = self.core, self.core.shared_nicks
        user = core.state.user(event.uid)
        if shared is None or user is None:
            return
        old = irc_lower(event.old_source.partition("!")[0])
        new = irc_lower(event.nick)
        if new != old:
            shared.take(event.uid, new, old, user.node)

    def _nick_contested(self, event: NickChanged) -> None:
        """Another node gave its user a nick a user of this node holds. Only a nick the
        server gives can do that (REGAIN, on a node that had not yet heard this one's claim),
        and the shared store alone knows which came last: ask it, and if it says the other
        user, ours gets a guest nick. Meanwhile ours keeps the nick here (state.py)."""
        core, shared = self.core, self.core.shared_nicks
        holder = core.state.nick_holder(event.nick)
        if shared is None or holder is None or holder.node or holder.uid == event.uid:
            return
        folded = irc_lower(event.nick)
        shared.holder(folded, lambda uid: self._nick_decided(folded, uid, event))

    def _nick_decided(self, folded: str, uid: str | None, event: NickChanged) -> None:
        core = self.core
        holder = core.state.nick_holder(folded)
        if uid is None:  # UNAVAILABLE: ours keeps it until the nick is asked for again
            log.warning("two users hold nick %s, and the shared store can't say whose", folded)
        elif holder is not None and not holder.node and holder.uid != uid:
            taker = core.state.user(uid)
            # Named as before the rename, as a REGAIN on this node would have named them.
            was = event.old_source.partition("!")[0] if uid == event.uid else None
            give_way(core, holder, taker, was)

    def _store_written(self, event: StoreWritten) -> None:
        replay = getattr(self.core.accounts, "replay", None)
        if replay is not None:
            replay(event.statements)

    def _killed(self, event: Killed) -> None:
        """An operator elsewhere killed a user of this node: hang up on them here."""
        victim = self.core.router.sessions.get(event.target)
        if victim is not None:
            self.core.close(victim, f"Killed ({event.source.split('!')[0]} ({event.reason}))")

    # ------------------------------------------------------------ membership

    def split(self, nodes: set[str]) -> int:
        """Nodes declared dead: each of their users quits, told to everyone once, through
        the bus. Returns how many."""
        core = self.core
        now = core.clock()
        gone = [user for user in core.state.all_users() if user.node in nodes]
        for user in gone:
            core.emit(Quit(now, user.uid, user.source, SPLIT_REASON, tuple(user.channels)))
        return len(gone)

    def leaving(self, reason: str) -> None:
        """This node is shutting down: its users quit, for the others to see (the edge
        sends them before it leaves)."""
        now = self.core.clock()
        for user in self.core.state.all_users():
            if not user.node and not user.console:
                self._send(Quit(now, user.uid, user.source, reason, tuple(user.channels)))

    def forget_network(self) -> None:
        """This node was fenced: the others' users are unknown here until it rejoins."""
        state, now = self.core.state, self.core.clock()
        for user in list(state.all_users()):
            if user.node:
                state.apply(Quit(now, user.uid, user.source, SPLIT_REASON, tuple(user.channels)))

    def reset(self) -> None:
        """This node was fenced: nothing it sent and did not see back may be sent again,
        and the network's users and rooms are learnt afresh when it rejoins."""
        self.outbox.clear()
        self.in_flight.clear()
        self.holds.clear()

    def snapshot(self) -> tuple[list[User], list[Channel]]:
        """The network as this node knows it, for a joining one: its console left out, as
        in `_registered`."""
        state = self.core.state
        consoles = {user.uid for user in state.all_users() if user.console}
        channels = [
            replace(channel, members={u: s for u, s in channel.members.items()
                                      if u not in consoles})
            if consoles & channel.members.keys() else channel
            for channel in state.all_channels()
        ]  # fmt: skip
        return [user for user in state.all_users() if not user.console], channels

    def load(self, users: list[User], channels: list[Channel]) -> None:
        """A new node takes in the network as another node knew it at its hello."""
        adopt = getattr(self.core.state, "adopt", None)
        if adopt is not None:
            adopt(users, channels)
