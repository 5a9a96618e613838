"""Flood control: a token bucket per connection. No I/O here; the connection keeps time.

A client may send `burst` lines at once, then `rate` lines a second. Lines beyond that are
not dropped: they wait their turn, in order, and are handled as tokens come back. A client
with more than `max_held` lines waiting is flooding; the connection then drops it.

Every connection has a gate, and most never flood: so the limits are read from the settings
the gate was made with (shared, not copied into each gate), and the queue of waiting lines
is made only when a line first has to wait (an empty deque costs over 600 bytes).
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

__all__ = ["FloodGate", "FloodLimits"]


class FloodLimits(Protocol):
    """The settings a gate follows (config.Settings has them)."""

    @property
    def flood_burst(self) -> int: ...

    @property
    def flood_rate(self) -> float: ...

    @property
    def flood_max_queued(self) -> int: ...


class FloodGate:
    """One connection's token bucket, and the lines waiting for a token."""

    __slots__ = ("limits", "tokens", "stamp", "held")

    def __init__(self, limits: FloodLimits, now: float) -> None:
        self.limits = limits  # flood_rate is more than 0 (no gate at all means no limit)
        self.tokens = float(limits.flood_burst)
        self.stamp = now
        self.held: deque[tuple[bytes, bool]] | None = None  # made when a line first waits

    def admit(self, now: float) -> bool:
        """Whether a line arriving now may be handled now (nothing waits, and a token is
        free); if so, the token is taken."""
        return not self.held and self._take(now)

    def hold(self, raw: bytes, truncated: bool) -> bool:
        """Keep a line for later; False when that makes too many waiting (a flood)."""
        held = self.held
        if held is None:
            held = self.held = deque()
        held.append((raw, truncated))
        return len(held) <= self.limits.flood_max_queued

    def release(self, now: float) -> list[tuple[bytes, bool]]:
        """The waiting lines whose turn has come, in order."""
        ready = []
        held = self.held
        while held and self._take(now):
            ready.append(held.popleft())
        if held is not None and not held:
            self.held = None  # all caught up: the memory goes back until the next flood
        return ready

    def waiting(self) -> bool:
        """Whether lines wait for a token."""
        return bool(self.held)

    def clear(self) -> None:
        """Forget the waiting lines (the connection is gone)."""
        self.held = None

    def wait(self) -> float:
        """Seconds until the next token, for a timer to release the waiting lines."""
        return max((1.0 - self.tokens) / self.limits.flood_rate, 0.001)

    def _take(self, now: float) -> bool:
        limits = self.limits
        tokens = min(limits.flood_burst, self.tokens + (now - self.stamp) * limits.flood_rate)
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False
