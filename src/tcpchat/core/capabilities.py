"""Every IRCv3 capability the server offers, in one place, and what each does to a session.

`offered(settings)` is the list `CAP LS` shows: name -> its `CAP LS 302` value, or None for a
capability without one. Add a capability by adding a line there (and, when it changes what a
session is sent, a line in `enable`). A running core keeps its own copy (`ChatBase.capabilities`)
and changes it only through `cap_new` / `cap_del` (reconfigure.py), which tell the clients that
asked to hear of it (`cap-notify`, implied by `CAP LS 302`).

Only capabilities the core really implements are offered.
"""

from __future__ import annotations

from ..accounts.sasl import MECHANISMS
from ..config import Settings
from .model import WANTS_ACCOUNT, WANTS_EXTENDED_JOIN, WANTS_TAGS, WANTS_TIME, Session

CAP_NOTIFY = "cap-notify"
BATCH = "batch"
LABELED_RESPONSE = "labeled-response"
MULTILINE = "draft/multiline"
MULTILINE_CONCAT = "draft/multiline-concat"  # the tag on a line joined without a line feed
STS = "sts"  # strict transport security: a policy told, never requested
ACCOUNT_REGISTRATION = "draft/account-registration"  # REGISTER and VERIFY
CHATHISTORY = "draft/chathistory"  # the CHATHISTORY command
HISTORY_BATCH = "chathistory"  # the batch type of CHATHISTORY's answers and of playback on join
EVENT_PLAYBACK = "draft/event-playback"  # history says JOIN, PART, ... too
SEARCH = "draft/search"  # SEARCH (handlers/search.py), while history is kept


def sts_value(settings: Settings, tls_port: int | None, secure: bool) -> str | None:
    """The `sts` policy for a connection (IRCv3 sts): over plain TCP, where the TLS port is;
    over TLS, how long a client should insist on TLS. None when there is no policy (no TLS
    port, or `sts_duration` is 0: the default, since a self-signed certificate would then
    lock clients out)."""
    if tls_port is None or settings.sts_duration <= 0:
        return None
    return f"duration={settings.sts_duration}" if secure else f"port={tls_port}"


def account_registration(settings: Settings) -> dict[str, str | None]:
    """draft/account-registration while REGISTER is open: `before-connect` (REGISTER
    works before the connection is complete), but not when a server password must come
    first; no `custom-account-name` (an account is named after its nick), no
    `email-required` (no mail is sent)."""
    if not settings.registration:
        return {}
    return {ACCOUNT_REGISTRATION: None if settings.password is not None else "before-connect"}


def history(settings: Settings) -> dict[str, str | None]:
    """draft/chathistory and draft/event-playback, while history is kept."""
    if not settings.history:
        return {}
    return {CHATHISTORY: None, EVENT_PLAYBACK: None}


def offered(settings: Settings) -> dict[str, str | None]:
    """Name -> CAP LS 302 value (None: the capability has no value), in the order listed."""
    return {
        "account-notify": None,
        "account-tag": None,
        "away-notify": None,
        BATCH: None,
        CAP_NOTIFY: None,
        "chghost": None,
        **account_registration(settings),
        **history(settings),
        MULTILINE: (
            f"max-bytes={settings.multiline_max_bytes},max-lines={settings.multiline_max_lines}"
        ),
        **({SEARCH: None} if settings.history else {}),
        "echo-message": None,
        "extended-join": None,
        "extended-monitor": None,
        "invite-notify": None,
        LABELED_RESPONSE: None,
        "message-tags": None,
        "multi-prefix": None,
        "sasl": ",".join(MECHANISMS),
        "server-time": None,
        "setname": None,
        "standard-replies": None,
        "userhost-in-names": None,
    }


# The bits of Session.tag_mask each capability turns on (the router renders one variant of a
# broadcast per mask, so only what changes the bytes sent belongs here).
TAG_BITS = {
    "server-time": WANTS_TIME,
    "message-tags": WANTS_TAGS,
    "account-tag": WANTS_ACCOUNT,
    "extended-join": WANTS_EXTENDED_JOIN,
}


def enable(session: Session, caps: frozenset[str]) -> None:
    """Give `session` exactly these capabilities, with the fields the hot path reads."""
    session.caps = caps
    mask = 0
    for name, bit in TAG_BITS.items():
        if name in caps:
            mask |= bit
    session.tag_mask = mask
    session.echo = "echo-message" in caps
