"""Slowing password guessing: few checks at once server-wide, a pause after a failure.

A password check (OPER's scrypt, SASL's PBKDF2) costs real CPU, and runs off the loop. The
gate makes guessing cost the guesser, not the server: a session has at most one check under
way (its later lines wait anyway), only `at_once` run server-wide, and after a failure the
same session must wait `retry_delay` seconds before it may try again. Failures are logged by
the caller, with the address.
"""

from __future__ import annotations

from .model import Session

__all__ = ["PasswordGate"]


class PasswordGate:
    """Who may try a password now; see the module docstring."""

    def __init__(self, at_once: int = 4, retry_delay: float = 2.0) -> None:
        self.at_once = at_once
        self.retry_delay = retry_delay
        self.checking: set[Session] = set()
        self.failures: dict[Session, float] = {}  # when each last failed

    def refuses(self, session: Session, now: float) -> bool:
        """Whether a check for `session` must not start now (too many, or too soon)."""
        failed_at = self.failures.get(session)
        return len(self.checking) >= self.at_once or (
            failed_at is not None and now - failed_at < self.retry_delay
        )

    def start(self, session: Session) -> None:
        self.checking.add(session)

    def finish(self, session: Session, ok: bool, now: float) -> None:
        """A check ended: a failure starts the session's pause, a success forgets it."""
        self.checking.discard(session)
        if ok:
            self.failures.pop(session, None)
            return
        for other, when in list(self.failures.items()):  # forget old failures
            if now - when >= self.retry_delay:
                del self.failures[other]
        self.failures[session] = now

    def forget(self, session: Session) -> None:
        """The session is gone."""
        self.checking.discard(session)
        self.failures.pop(session, None)
