"""MONITOR lists: who on this node wants to hear when which nick comes and goes.

A list belongs to one local session (a client asks for it, and it ends with the
connection), so it lives beside the router's other indexes of local sessions, not in the
network-wide state. The router reads it when a user registers, quits or changes nick,
wherever that happened, so a cluster node tells its own watchers of remote users too.
The MONITOR handler bounds each list (`monitor_limit`), so memory is bounded as well.
"""

from __future__ import annotations

from ..protocol import irc_lower
from .model import Session

__all__ = ["Monitors"]


class Monitors:
    """Each session's monitored nicks, and the reverse: the sessions watching a nick."""

    def __init__(self) -> None:
        self.lists: dict[Session, dict[str, str]] = {}  # session -> folded nick -> as given
        self.watchers: dict[str, dict[Session, None]] = {}  # folded nick -> sessions

    def listed(self, session: Session) -> list[str]:
        """The session's nicks as it gave them, oldest first."""
        return list(self.lists.get(session, {}).values())

    def count(self, session: Session) -> int:
        return len(self.lists.get(session, ()))

    def has(self, session: Session, nick: str) -> bool:
        return irc_lower(nick) in self.lists.get(session, ())

    def add(self, session: Session, nick: str) -> None:
        folded = irc_lower(nick)
        self.lists.setdefault(session, {})[folded] = nick
        self.watchers.setdefault(folded, {})[session] = None

    def remove(self, session: Session, nick: str) -> None:
        folded = irc_lower(nick)
        listed = self.lists.get(session)
        if listed is None or listed.pop(folded, None) is None:
            return
        if not listed:
            del self.lists[session]
        self._unwatch(folded, session)

    def forget(self, session: Session) -> None:
        """MONITOR C, or the session is gone: its whole list."""
        for folded in self.lists.pop(session, {}):
            self._unwatch(folded, session)

    def of(self, nick: str) -> dict[Session, None] | None:
        """The sessions monitoring `nick`, if any."""
        return self.watchers.get(irc_lower(nick)) if self.watchers else None

    def clear(self) -> None:
        self.lists.clear()
        self.watchers.clear()

    def _unwatch(self, folded: str, session: Session) -> None:
        watching = self.watchers.get(folded)
        if watching is not None:
            watching.pop(session, None)
            if not watching:
                del self.watchers[folded]
