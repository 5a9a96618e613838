"""Deleting history without stalling the chat: expiry, and a user's "forget my messages".

The database's one thread also writes every live message, and each message's recipients
wait for that write (the durability barrier, edge/server.py). So nothing here runs as one
long job: each pass is a chain of short jobs (store/retention.py), each in its own
transaction, the next asked for only when the last has answered on the loop, so the
writes asked for in between go first. `longest` keeps the longest job's time (seconds).

Expiry (`expire`): rows older than `history_days`, and those beyond the newest
`history_max_per_target` of each target; then conversations with no line left. The edge
runs a pass at start and every `EXPIRY_INTERVAL` seconds; a core without an edge (tests,
tools) calls `expire` itself, which then runs to the end before it returns.

Forgetting (`forget`): the messages an account sent, and those a connection sent while not
logged in (whose msgids the core kept: anyone could have had that nick before or after).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..config import Settings
from ..store.database import Database
from ..store.retention import (
    ExpiryCursor,
    drop_empty_conversations,
    expire_oldest,
    expire_step,
    forget_account_step,
    forget_msgids,
    last_id,
)

__all__ = ["EXPIRY_BUDGET", "EXPIRY_INTERVAL", "Retention"]

log = logging.getLogger("tcpchat.history")

EXPIRY_INTERVAL = 60.0  # seconds between expiry passes (the edge's timer)
EXPIRY_BUDGET = 250  # rows one job deletes at most (README: the longest job, measured)
MSGIDS_PER_JOB = 500  # msgids one job forgets at most

# A step: (connection, state) -> (the next state, or None when done; rows deleted).
Step = Callable[[Any, Any], tuple[Any, int]]


class Owner(Protocol):
    """What retention uses of the history (core/history.py)."""

    database: Database

    def write(self) -> None: ...

    def conversations_dropped(self) -> None:
        """Conversations with no line left were deleted: a new line must write its again."""


class _Chain:
    """Steps, one database job each, until one says it is the last; then `finish(total)`
    (None if a job failed). With a database that answers at once (no thread), the steps
    run in a loop rather than each calling the next."""

    def __init__(
        self,
        retention: Retention,
        step: Step,
        state: Any,
        finish: Callable[[int | None], None],
        paced: bool = False,
    ) -> None:
        self.retention = retention
        self.paced = paced  # rest between jobs as long as each took (`Retention.pause`)
        self.step = step
        self.state = state
        self.finish = finish
        self.total = 0
        self.waiting = False
        self.pumping = False
        self.stopped = False

    def pump(self) -> None:
        self.pumping = True
        try:
            while self.state is not None and not self.waiting and not self.stopped:
                self.waiting = True
                work = functools.partial(_timed, self.step, state=self.state)
                self.retention.owner.database.run(work, self.landed)
        finally:
            self.pumping = False

    def landed(self, result: tuple[Any, int, float] | None) -> None:
        self.waiting = False
        if self.stopped:
            return
        if result is None:
            self.state = None
            self.finish(None)
            return
        self.state, deleted, took = result
        self.total += deleted
        self.retention.jobs += 1
        self.retention.longest = max(self.retention.longest, took)
        pause = self.retention.pause
        if self.state is None:
            self.finish(self.total)
        elif self.paced and pause is not None:
            pause(took, self.pump)
        elif not self.pumping:
            self.pump()


def _timed(step: Step, c: Any, *, state: Any) -> tuple[Any, int, float]:
    started = time.perf_counter()
    following, deleted = step(c, state)
    return following, deleted, time.perf_counter() - started


class Retention:
    """Expiry passes and forgetting; see the module docstring."""

    def __init__(self, owner: Owner, settings: Settings, clock: Callable[[], float]) -> None:
        self.owner = owner
        self.settings = settings
        self.clock = clock
        self.expiring: _Chain | None = None  # the expiry pass under way
        self.waiting: list[Callable[[int | None], None]] = []  # told when it ends
        self.chains: set[_Chain] = set()  # every chain under way (stopped at shutdown)
        self.expired = 0  # rows deleted by expiry since the start
        self.forgotten = 0  # rows deleted by FORGET since the start
        self.jobs = 0  # jobs run
        self.longest = 0.0  # the longest job, in seconds
        # The edge's timer (loop.call_later): an expiry pass rests between its jobs as long
        # as each took, leaving the database's thread (and the disk) half free for the chat.
        self.pause: Callable[[float, Callable[[], None]], Any] | None = None

    def expire(self, done: Callable[[int | None], None] | None = None) -> None:
        """Run an expiry pass; `done(rows deleted)` after it (None if a job failed). While
        one is under way, no other starts: `done` follows that one."""
        if done is not None:
            self.waiting.append(done)
        if self.expiring is not None:
            return
        settings = self.settings
        days = settings.history_days
        cutoff = self.clock() - days * 86400 if days > 0 else None
        keep = settings.history_max_per_target

        def step(c: Any, state: tuple[str, Any]) -> tuple[Any, int]:
            phase, where = state
            if phase == "oldest":
                after, deleted = expire_oldest(c, where, cutoff or 0.0, EXPIRY_BUDGET)
                return ("oldest", after) if after else ("rows", ExpiryCursor("")), deleted
            if phase == "rows":
                cursor, deleted = expire_step(c, where, cutoff, keep, EXPIRY_BUDGET)
                return ("rows", cursor) if cursor else ("conversations", ""), deleted
            key = drop_empty_conversations(c, where)
            return (("conversations", key) if key is not None else None), 0

        def finish(deleted: int | None) -> None:
            self.expiring = None
            self.owner.conversations_dropped()
            if deleted:
                self.expired += deleted
                log.info("history: %d lines expired", deleted)
            waiting, self.waiting = self.waiting, []
            for each in waiting:
                each(deleted)

        first = ("oldest", 0) if cutoff is not None else ("rows", ExpiryCursor(""))
        self.expiring = self._chain(step, first, finish, paced=True)
        self.expiring.pump()

    def forget(
        self, account: str | None, msgids: Sequence[str], done: Callable[[int | None], None]
    ) -> None:
        """Delete the messages `account` sent (if any) and those with `msgids` sent while
        not logged in; `done(how many)` on the loop (None if it failed)."""

        def step(c: Any, state: tuple[str, Any, Any]) -> tuple[Any, int]:
            phase, first, second = state
            if phase == "start":
                following = ("account", 0, last_id(c)) if account is not None else None
                return following or ("msgids", 0, None), 0
            if phase == "account":
                after, deleted = forget_account_step(c, account or "", first, second)
                return (("account", after, second) if after is not None
                        else ("msgids", 0, None)), deleted  # fmt: skip
            chunk = msgids[first : first + MSGIDS_PER_JOB]
            deleted = forget_msgids(c, chunk)
            following = first + MSGIDS_PER_JOB
            return (("msgids", following, None) if following < len(msgids) else None), deleted

        def finish(deleted: int | None) -> None:
            if deleted:
                self.forgotten += deleted
            done(deleted)

        self._chain(step, ("start", None, None), finish).pump()

    def _chain(
        self, step: Step, state: Any, finish: Callable[[int | None], None], paced: bool = False
    ) -> _Chain:
        """A chain of steps, to `pump`; what waits to be written is written first (so it
        is there to be deleted)."""
        self.owner.write()

        def finished(total: int | None) -> None:
            self.chains.discard(chain)
            finish(total)

        chain = _Chain(self, step, state, finished, paced)
        self.chains.add(chain)
        return chain

    def stop(self) -> None:
        """Start no more jobs (the server is stopping); what runs finishes."""
        for chain in self.chains:
            chain.stopped = True
        self.chains.clear()
        self.expiring = None
        self.waiting.clear()
