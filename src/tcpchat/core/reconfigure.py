"""New settings for a running core: what a reload (SIGHUP, REHASH, the console's /rehash)
changes here, and what a reload reports.

The core reads most settings when it needs them (`core.settings`), so a reload is mostly a
new `Settings`. What the core worked out from the settings once (the reserved nicks, the
operators' parsed hashes, the capabilities offered) is worked out again here, and clients
that listen hear of a capability that came or went (cap-notify), as they would of any other.
Reading the file and deciding what may change live is the edge's (edge/reload.py).
"""

from __future__ import annotations

from ..config import Settings
from ..passwords import parse_hash
from ..protocol import irc_lower
from .base import ChatBase
from .capabilities import offered


def reconfigure(core: ChatBase, settings: Settings) -> None:
    """Run with `settings` from now on. Sessions already connected keep what they were
    given (their flood bucket, their ISUPPORT); new ones get the new values."""
    core.settings = settings
    core.reserved = {irc_lower(nick) for nick in settings.reserved_nicks}
    core.operators = {name: parse_hash(hashed) for name, hashed in settings.operators.items()}
    core.history.retention.settings = settings
    before, now = dict(core.capabilities), offered(settings)
    for name in before:
        if name not in now:
            core.cap_del(name)
    for name, value in now.items():
        if name not in before or before[name] != value:
            core.cap_new(name, value)
