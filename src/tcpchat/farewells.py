"""What clients are told when the server stops, and how a client tells a restart from an end.

A restart (SIGTERM from systemd or `docker stop`, SIGINT without a console) is not the end of
the chat: clients are told to come back (`RESTART_REASON`), and ours do, rejoining their rooms.
Only the operator's `quit`/`over` at the console ends it for good (`SHUTDOWN_REASON`).
"""

from __future__ import annotations

import re

__all__ = ["RESTART_REASON", "SHUTDOWN_REASON", "says_restart"]

SHUTDOWN_REASON = "Server shutting down"
RESTART_REASON = "Server restarting, reconnect in a few seconds"

# Ours, other servers' ("Server restarting", "Server is restarting"), and the cluster's "had to
# start again; please reconnect": a farewell that says to come back.
_COME_BACK = re.compile(r"\bserver (?:is )?restarting\b|\bplease reconnect\b", re.IGNORECASE)


def says_restart(farewell: str) -> bool:
    """Whether an ERROR's text says the server is coming back (so reconnecting is right)."""
    return _COME_BACK.search(farewell) is not None
