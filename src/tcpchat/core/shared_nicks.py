"""Nicks held network-wide: the seam through which a cluster keeps one nick to one user.

Alone, a server's nicks are its own (`ChatState.claim_nick`, at once). In a cluster, a nick
must also be claimed in the shared store before it is taken, which finishes later: NICK then
goes through `ChatBase.later` (the client's next lines wait, in order) and comes back with
the store's answer. Letting a nick go (a rename, a quit, a lost connection) is told to the
store as it happens here, and needs no answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Claimed", "SharedNicks", "UNAVAILABLE"]

# The answer to a claim: True (the nick is this user's now), False (another user's
# somewhere on the network), or UNAVAILABLE (the shared store can't say now).
UNAVAILABLE = None
Claimed = bool | None


class SharedNicks(Protocol):
    def claim(
        self, uid: str, folded: str, old: str | None, done: Callable[[Claimed], None]
    ) -> None:
        """Claim the folded nick for `uid`, letting its `old` folded nick go in the same
        step; `done(answer)` is called on the loop."""

    def release(self, uid: str, folded: str) -> None:
        """`uid` no longer holds the folded nick."""

    def take(
        self, uid: str, folded: str, old: str | None, node: str,
        done: Callable[[], None] | None = None,
    ) -> None:
        """The server gave `uid` (on node `node`, "" for this one) the folded nick, whoever
        held it (a guest nick, REGAIN); `old` is let go. `done()`, if given, is called on
        the loop once the store has it (REGAIN waits for that before it shows the nick, so
        that another node that sees it and asks the store hears the same)."""

    def holder(self, folded: str, done: Callable[[str | None], None]) -> None:
        """Ask who holds the folded nick network-wide: `done(uid)`, "" when no one does,
        UNAVAILABLE when the store can't say. Asked after this node's earlier calls."""
