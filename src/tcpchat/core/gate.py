"""Slowing password guessing: few checks at once server-wide, a pause after a failure.

A password check (OPER's scrypt, SASL's PBKDF2) costs real CPU, and runs off the loop. The
gate makes guessing cost the guesser, not the server: a session has at most one check under
way (its later lines wait anyway), only `at_once` run server-wide, and after a failure the
same session must wait `retry_delay` seconds before it may try again. Failures are logged by
the caller, with the address.

OPER is refused while `at_once` checks run (`refuses`). A login waits its turn instead
(`admit`): a crowd of clients logging in at once (a restart, a network coming back) are all
served, `at_once` at a time, while each of their sessions waits for its own answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .model import Session

__all__ = ["PasswordGate"]


class PasswordGate:
    """Who may try a password now; see the module docstring."""

    def __init__(self, at_once: int = 4, retry_delay: float = 2.0) -> None:
        self.at_once = at_once
        self.retry_delay = retry_delay
        self.checking: set[Session] = set()
        self.failures: dict[Session, float] = {}  # when each last failed
        self.waiting: deque[tuple[Session, Callable[[], None]]] = deque()  # admit's queue

    def refuses(self, session: Session, now: float) -> bool:
        """Whether a check for `session` must not start now (too many, or too soon)."""
        return len(self.checking) >= self.at_once or self.too_soon(session, now)

    def too_soon(self, session: Session, now: float) -> bool:
        """Whether `session` failed a check less than `retry_delay` seconds ago."""
        failed_at = self.failures.get(session)
        return failed_at is not None and now - failed_at < self.retry_delay

    def start(self, session: Session) -> None:
        self.checking.add(session)

    def admit(self, session: Session, check: Callable[[], None]) -> None:
        """Run `check` (which starts the check) now if fewer than `at_once` are under way,
        else once its turn comes; the caller's `finish` lets the next one in."""
        if len(self.checking) < self.at_once:
            self.checking.add(session)
            check()
        else:
            self.waiting.append((session, check))

    def _next(self) -> None:
        while self.waiting and len(self.checking) < self.at_once:
            session, check = self.waiting.popleft()
            self.checking.add(session)
            check()

    def finish(self, session: Session, ok: bool, now: float) -> None:
        """A check ended: a failure starts the session's pause, a success forgets it."""
        self.checking.discard(session)
        self._next()
        if ok:
            self.failures.pop(session, None)
            return
        for other, when in list(self.failures.items()):  # forget old failures
            if now - when >= self.retry_delay:
                del self.failures[other]
        self.failures[session] = now

    def forget(self, session: Session) -> None:
        """The session is gone."""
        if self.waiting:
            self.waiting = deque(entry for entry in self.waiting if entry[0] is not session)
        self.failures.pop(session, None)
        if session in self.checking:
            self.checking.discard(session)
            self._next()
