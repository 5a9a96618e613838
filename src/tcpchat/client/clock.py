"""Message times: the IRCv3 `time` tag (UTC, ISO 8601) shown as local HH:MM."""

from __future__ import annotations

from datetime import datetime

__all__ = ["local_hh_mm", "now_hh_mm"]


def local_hh_mm(server_time: str) -> str | None:
    """'2026-12-01T23:20:57.149Z' -> '23:20' in the local time zone; None if unreadable."""
    try:
        moment = datetime.fromisoformat(server_time)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # server-time is always UTC, marked Z; anything else is a guess
    return moment.astimezone().strftime("%H:%M")


def now_hh_mm() -> str:
    """The local time now, for what we typed: the server doesn't echo it back."""
    return datetime.now().strftime("%H:%M")
