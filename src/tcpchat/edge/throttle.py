"""Connection throttling: at most so many new connections from one place a minute.

A place is an IPv4 address or an IPv6 /64 (addresses.address_key), and only connections let
in count, so someone refused who waits as long as they are told gets in. Addresses in the
exempt networks (loopback by default: tests, benchmarks, a local proxy) are never counted.
The limit and the exempt networks are read from the settings on each call, so a reload
changes them at once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from ..addresses import address_key, in_networks

__all__ = ["WINDOW", "Throttle"]

WINDOW = 60.0  # seconds: "a minute"


class Throttle:
    """When each place's recent connections came (see the module docstring)."""

    def __init__(self) -> None:
        self.recent: dict[str, deque[float]] = {}  # place -> times, oldest first

    def refusal(
        self, address: str, now: float, per_minute: int, exempt: Sequence[str]
    ) -> str | None:
        """Count a new connection from `address` in, or say why it is refused."""
        if per_minute <= 0 or in_networks(address, exempt):
            return None
        times = self.recent.setdefault(address_key(address), deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) >= per_minute:
            wait = max(1, math.ceil(times[0] + WINDOW - now))
            return (
                "Too many connections from your address in the last minute; "
                f"try again in {wait} seconds"
            )
        times.append(now)
        return None

    def forget_old(self, now: float) -> None:
        """Drop the places with no connection in the last minute (memory stays bounded)."""
        stale = [key for key, times in self.recent.items() if times[-1] <= now - WINDOW]
        for key in stale:
            del self.recent[key]
