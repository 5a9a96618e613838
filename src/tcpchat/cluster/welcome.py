"""When a cluster node may welcome people: only once it knows the network. No I/O.

A node that registered someone before it had the network's snapshot would welcome them into
rooms it does not know yet: `JOIN #room` would make them the operator of a room of their own,
where every other node has alice as its operator. So registrations wait from start-up until
the bus's hello is answered, and again from a fence until the rejoin's hello is. A node that
hears no answer at start-up (Redis away, or no live node answering in time) serves anyway, as
a node alone would; but not one fenced during that wait: it is in touch with Redis, and its
rejoin's answer lets the waiting in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Welcome", "WelcomeGate"]

Welcome = Callable[[Any], None]  # a registration waiting to go on (the core's network_gate)


class WelcomeGate:
    """Whether registrations wait, and those that do, oldest first."""

    def __init__(self) -> None:
        self.open = False  # closed from start-up until the network is known
        self.fenced_since_start = False
        self.waiting: list[Welcome] = []

    def hold(self, welcome: Welcome) -> None:
        """A registration waits (the core calls this while the gate is its network_gate)."""
        self.waiting.append(welcome)

    def knows_network(self) -> list[Welcome]:
        """The hello was answered: open, and the registrations to go on with, in order."""
        self.open = True
        waiting, self.waiting = self.waiting, []
        return waiting

    def fence(self) -> None:
        """The network declared this node dead: closed until its rejoin is answered."""
        self.open = False
        self.fenced_since_start = True

    def start_wait_over(self) -> list[Welcome]:
        """Start-up's wait for an answer has ended: serve anyway, unless the network is known
        already or the node was fenced meanwhile (then the rejoin's answer opens it)."""
        if self.open or self.fenced_since_start:
            return []
        return self.knows_network()
