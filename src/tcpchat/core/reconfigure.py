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
from ..protocol import Message, irc_lower
from .base import ChatBase
from .capabilities import CAP_NOTIFY, enable, offered
from .model import Session


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
            cap_del(core, name)
    for name, value in now.items():
        if name not in before or before[name] != value:
            cap_new(core, name, value)


def cap_new(core: ChatBase, name: str, value: str | None = None) -> None:
    """Offer a capability from now on, and tell the clients that listen (cap-notify)."""
    core.capabilities[name] = value
    shown = name if value is None else f"{name}={value}"
    for session in core.sessions:
        if CAP_NOTIFY in session.caps:
            token = shown if session.cap_version >= 302 else name
            _cap_notice(core, session, "NEW", token)


def cap_del(core: ChatBase, name: str) -> None:
    """Offer a capability no more: the clients that listen are told (cap-notify), and it
    stops for every session that had it."""
    if name not in core.capabilities:
        return
    del core.capabilities[name]
    for session in core.sessions:
        if CAP_NOTIFY in session.caps:
            _cap_notice(core, session, "DEL", name)
        if name in session.caps:
            enable(session, session.caps - {name})


def _cap_notice(core: ChatBase, session: Session, sub: str, token: str) -> None:
    server = core.settings.server_name
    core.send(session, Message("CAP", [session.user.nick, sub, token], server))
