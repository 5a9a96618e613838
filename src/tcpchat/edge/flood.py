"""Flood control: a token bucket per connection. No I/O here; the connection keeps time.

A client may send `burst` lines at once, then `rate` lines a second. Lines beyond that are
not dropped: they wait their turn, in order, and are handled as tokens come back. A client
with more than `max_held` lines waiting is flooding; the connection then drops it.
"""

from __future__ import annotations

from collections import deque

__all__ = ["FloodGate"]


class FloodGate:
    """One connection's token bucket, and the lines waiting for a token."""

    __slots__ = ("burst", "rate", "max_held", "tokens", "stamp", "held")

    def __init__(self, burst: int, rate: float, max_held: int, now: float) -> None:
        self.burst = burst
        self.rate = rate  # lines a second; more than 0 (no gate at all means no limit)
        self.max_held = max_held
        self.tokens = float(burst)
        self.stamp = now
        self.held: deque[tuple[bytes, bool]] = deque()

    def admit(self, now: float) -> bool:
        """Whether a line arriving now may be handled now (nothing waits, and a token is
        free); if so, the token is taken."""
        return not self.held and self._take(now)

    def hold(self, raw: bytes, truncated: bool) -> bool:
        """Keep a line for later; False when that makes too many waiting (a flood)."""
        self.held.append((raw, truncated))
        return len(self.held) <= self.max_held

    def release(self, now: float) -> list[tuple[bytes, bool]]:
        """The waiting lines whose turn has come, in order."""
        ready = []
        held = self.held
        while held and self._take(now):
            ready.append(held.popleft())
        return ready

    def wait(self) -> float:
        """Seconds until the next token, for a timer to release the waiting lines."""
        return max((1.0 - self.tokens) / self.rate, 0.001)

    def _take(self, now: float) -> bool:
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False
