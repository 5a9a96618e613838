"""CERTFP: the TLS client certificates that log an account in with SASL EXTERNAL.

    CERTFP ADD [<fingerprint>]   this connection's certificate, when none is named
    CERTFP DEL <fingerprint>
    CERTFP LIST

Someone logged in manages their own account's list (Ergo's `NS CERT` is the model), at most
`certfps_per_account` of them. A fingerprint is the SHA-256 of the certificate (DER) in hex;
the colons and capitals of `openssl x509 -noout -fingerprint -sha256` are fine too. The
answers are standard replies: `NOTE CERTFP ADDED|REMOVED|FINGERPRINT|END ...` when done,
`FAIL CERTFP <code> ...` when not. A fingerprint belongs to one account at most.
"""

from __future__ import annotations

import re
import sqlite3

from ...protocol import Message, irc_lower
from ...store.accounts import add_certfp, certfps_of, remove_certfp
from ..base import ChatBase, safe_middle
from ..model import Session

CERTFP = "CERTFP"
USAGE = "Usage: CERTFP ADD [fingerprint] | CERTFP DEL fingerprint | CERTFP LIST"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def normalize_fingerprint(text: str) -> str | None:
    """The fingerprint as kept (64 lower-case hex digits), or None if it is not one."""
    folded = text.replace(":", "").lower()
    return folded if _HEX_SHA256.match(folded) else None


def handle_certfp(core: ChatBase, session: Session, msg: Message) -> None:
    sub = msg.params[0].upper()
    account = session.user.account
    if sub not in ("ADD", "DEL", "LIST"):
        core.fail(session, CERTFP, "INVALID_PARAMS", safe_middle(msg.params[0]), USAGE)
        return
    if account is None:
        core.fail(session, CERTFP, "ACCOUNT_REQUIRED", "Log in first (SASL, or /login)")
        return
    folded = irc_lower(account)
    if sub == "LIST":
        core.later(session, lambda done: core.accounts.read(lambda c: certfps_of(c, folded), done),
                   _listed)  # fmt: skip
        return
    given = msg.param(1)
    if not given:
        if sub == "DEL":
            core.fail(session, CERTFP, "INVALID_PARAMS", "DEL", "Usage: CERTFP DEL fingerprint")
            return
        if session.certfp is None:
            why = "You did not connect with a TLS client certificate; name a fingerprint"
            core.fail(session, CERTFP, "NO_CERTIFICATE", why)
            return
        given = session.certfp
    fingerprint = normalize_fingerprint(given)
    if fingerprint is None:
        core.fail(session, CERTFP, "INVALID_FINGERPRINT", safe_middle(given),
                  "A fingerprint is a SHA-256 in hex: 64 digits 0-9 and a-f")  # fmt: skip
        return
    if sub == "DEL":

        def remove(c: sqlite3.Connection) -> bool:
            return remove_certfp(c, folded, fingerprint)

        core.later(
            session,
            lambda done: core.accounts.update(remove, done),
            lambda core, session, removed: _removed(core, session, fingerprint, removed),
        )
        return
    limit = core.settings.certfps_per_account

    def add(c: sqlite3.Connection) -> str:
        kept = certfps_of(c, folded)
        if fingerprint in kept:
            return "kept"
        if len(kept) >= limit:
            return "full"
        return "added" if add_certfp(c, folded, fingerprint) else "in use"

    core.later(
        session,
        lambda done: core.accounts.update(add, done),
        lambda core, session, outcome: _added(core, session, fingerprint, outcome),
    )


def _added(core: ChatBase, session: Session, fingerprint: str, outcome: str | None) -> None:
    account = session.user.account or "your account"
    if outcome in ("added", "kept"):
        text = f"Certificate {fingerprint} logs you in as {account} (SASL EXTERNAL)"
        core.note(session, CERTFP, "ADDED", fingerprint, text)
    elif outcome == "full":
        limit = core.settings.certfps_per_account
        core.fail(session, CERTFP, "TOO_MANY", fingerprint,
                  f"{account} has {limit} certificates already; CERTFP DEL one first")  # fmt: skip
    elif outcome == "in use":
        core.fail(session, CERTFP, "FINGERPRINT_IN_USE", fingerprint,
                  "That certificate already logs in to an account")  # fmt: skip
    else:
        core.fail(session, CERTFP, "STORE_FAILED", "Could not save it; try again later")


def _removed(core: ChatBase, session: Session, fingerprint: str, removed: bool | None) -> None:
    if removed:
        core.note(session, CERTFP, "REMOVED", fingerprint,
                  f"Certificate {fingerprint} no longer logs you in")  # fmt: skip
    elif removed is None:
        core.fail(session, CERTFP, "STORE_FAILED", "Could not remove it; try again later")
    else:
        core.fail(session, CERTFP, "NOT_FOUND", fingerprint,
                  "Your account has no such certificate")  # fmt: skip


def _listed(core: ChatBase, session: Session, fingerprints: list[str] | None) -> None:
    if fingerprints is None:
        core.fail(session, CERTFP, "STORE_FAILED", "Could not read the list; try again later")
        return
    for fingerprint in fingerprints:
        core.note(session, CERTFP, "FINGERPRINT", fingerprint, f"Certificate {fingerprint}")
    account = session.user.account or "your account"
    count = len(fingerprints)
    many = count != 1
    text = f"{count} certificate{'s log' if many else ' logs'} in as {account}"
    if session.certfp is not None:
        text += f"; this connection's is {session.certfp}"
    core.note(session, CERTFP, "END", str(count), text)
