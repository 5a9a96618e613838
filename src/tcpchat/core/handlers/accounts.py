"""REGISTER and VERIFY: accounts made by their owners (IRCv3 draft/account-registration).

`REGISTER <account|*> <email|*> <password>` registers an account named after the sender's
nick (the server offers no `custom-account-name`: an account's name is a nick reserved for
it, so one may only register the nick one holds). It works before the connection is
complete too (`before-connect`), unless a server password is set: then only after it.

The password is never stored: its SCRAM-SHA-256 keys are derived on a worker thread
(`core.off_loop`), then the account is written on the database's thread (`core.later`); the
sender's next lines wait meanwhile. On success the sender is logged in (900). With
`registration_requires_approval`, the account waits instead for `VERIFY <account> <code>`,
the code coming from an operator (`ACCOUNT PENDING` lists them). No e-mail is ever sent.

Every refusal is the spec's `FAIL REGISTER <code>` or `FAIL VERIFY <code>`, and changes
nothing. Registrations are limited server-wide per minute and per address per hour; a wrong
VERIFY code is a failed password guess (the password gate's pause, a log line).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import replace

from ...accounts.scram import ScramKeys, derive_keys
from ...addresses import address_key
from ...protocol import Message, irc_lower, safe_middle
from ...store.accounts import Account, set_verified
from ..base import ChatBase
from ..log_fields import about_session
from ..model import Session, User
from .login import log_in
from .ownership import check_nick, is_guest_nick

__all__ = [
    "MAX_PASSWORD_BYTES",
    "handle_register",
    "handle_verify",
    "name_problem",
    "new_keys",
    "password_problem",
    "settle_nick",
]

log = logging.getLogger("tcpchat.core")

# The spec's advice: a password should fit in a line of its own (say, to NickServ).
MAX_PASSWORD_BYTES = 300
MAX_EMAIL_BYTES = 254  # the longest address mail can carry (RFC 5321's path, less <>)
MINUTE, HOUR = 60.0, 3600.0


# ------------------------------------------------------------------- checks


def name_problem(core: ChatBase, name: str) -> str | None:
    """Why `name` can't be an account (BAD_ACCOUNT_NAME), or None."""
    refusal = core.nick_refusal(name)
    if refusal is not None:
        if not core.valid_nick(name):
            return (
                "An account name must be a valid nick: letters, digits and -[]\\`_^{|}, at "
                f"most {core.settings.nick_length}, not starting with a digit or -"
            )
        return f"{name} is reserved for the server's own use"
    if is_guest_nick(name):
        return "Guest nicks are handed out by the server; choose a nick of your own first"
    return None


def password_problem(core: ChatBase, name: str, password: str) -> tuple[str, str] | None:
    """(code, description) when `password` won't do for account `name`; else None.

    The rule: at least `password_min_length` characters, not the account's name (in any
    case), at most 300 bytes of UTF-8."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return "UNACCEPTABLE_PASSWORD", f"A password may be at most {MAX_PASSWORD_BYTES} bytes"
    least = core.settings.password_min_length
    if len(password) < least:
        return "WEAK_PASSWORD", f"Choose a password of at least {least} characters"
    if password.casefold() == name.casefold():
        return "WEAK_PASSWORD", "Your password may not be your account's name"
    return None


def _email_problem(email: str) -> tuple[str, str] | None:
    if email == "*":
        return None
    if len(email.encode()) > MAX_EMAIL_BYTES:
        return "UNACCEPTABLE_EMAIL", f"An e-mail address may be at most {MAX_EMAIL_BYTES} bytes"
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or domain.startswith(".") or domain.endswith("."):
        return "INVALID_EMAIL", "Not an e-mail address; give one like name@example.org, or *"
    return None


def _too_many(core: ChatBase, host: str, now: float) -> str | None:
    """Why another registration from `host` must wait (the rate limits), or None."""
    recent = core.registrations
    while recent and now - recent[0][0] >= HOUR:
        recent.popleft()
    settings = core.settings
    per_minute = settings.registrations_per_minute
    if per_minute and sum(1 for when, _ in recent if now - when < MINUTE) >= per_minute:
        return "Too many accounts were registered in the last minute; try again in a minute"
    per_address = settings.registrations_per_address
    key = address_key(host)
    if per_address and sum(1 for _, each in recent if each == key) >= per_address:
        return "Too many accounts were registered from your address; try again in an hour"
    return None


def new_keys(password: str, iterations: int) -> ScramKeys | None:
    """The SCRAM keys kept for `password` (worker-thread work); None if that failed."""
    try:
        return derive_keys(password, iterations=iterations)
    except Exception:  # a failure here must not leave the command pending
        log.exception("deriving the keys of a new password failed")
        return None


def settle_nick(core: ChatBase, name: str) -> None:
    """Account `name` now owns its nick: whoever holds it here, not logged in to it, is told.
    (A holder on another node is told by their own node, when it learns of the account:
    `accounts_known`, handlers/ownership.py.)"""
    holder = core.state.user_by_nick(name)
    if holder is not None and not holder.node:
        check_nick(core, holder)


# ------------------------------------------------------------------- REGISTER


def _register_fail(core: ChatBase, session: Session, code: str, *params: str) -> None:
    core.fail(session, "REGISTER", code, *params)


def handle_register(core: ChatBase, session: Session, msg: Message) -> None:
    wanted, email, password = msg.params[0], msg.params[1], msg.params[2]
    user = session.user
    settings = core.settings
    nick = user.nick
    shown = safe_middle(nick if wanted == "*" else wanted)
    if not settings.registration:
        _register_fail(
            core, session, "TEMPORARILY_UNAVAILABLE", shown,
            "Registration is turned off on this server; an operator can make you an account",
        )  # fmt: skip
        return
    if not user.registered and settings.password is not None:
        _register_fail(
            core, session, "COMPLETE_CONNECTION_REQUIRED",
            "Finish connecting (with the server password) first, then register",
        )  # fmt: skip
        return
    if nick == "*":
        _register_fail(
            core, session, "NEED_NICK", "*", "Choose a nick first: the account is named after it"
        )
        return
    if user.account is not None:
        _register_fail(
            core, session, "ALREADY_AUTHENTICATED", user.account,
            f"You are already logged in to {user.account}",
        )  # fmt: skip
        return
    if wanted != "*" and irc_lower(wanted) != irc_lower(nick):
        if not core.valid_nick(wanted):
            problem = name_problem(core, wanted) or "Not a valid account name"
            _register_fail(core, session, "BAD_ACCOUNT_NAME", shown, problem)
        else:
            _register_fail(
                core, session, "ACCOUNT_NAME_MUST_BE_NICK", shown,
                f"You can only register the nick you have ({nick}); change nick first",
            )  # fmt: skip
        return
    bad_name = name_problem(core, nick)
    if bad_name is not None:
        _register_fail(core, session, "BAD_ACCOUNT_NAME", shown, bad_name)
        return
    email_problem = _email_problem(email)
    if email_problem is not None:
        _register_fail(core, session, email_problem[0], nick, email_problem[1])
        return
    refused = password_problem(core, nick, password)
    if refused is not None:
        _register_fail(core, session, refused[0], nick, refused[1])
        return
    folded = irc_lower(nick)
    if folded in core.account_names:
        _account_exists(core, session, nick)
        return
    now = core.clock()
    too_many = _too_many(core, user.host, now)
    if too_many is not None:
        log.info("REGISTER %s from %s refused: %s", nick, user.host, too_many,
                 extra=about_session("account_refused", session, account=nick,
                                     reason=too_many))  # fmt: skip
        _register_fail(core, session, "TEMPORARILY_UNAVAILABLE", nick, too_many)
        return
    core.registrations.append((now, address_key(user.host)))
    code = secrets.token_hex(4) if settings.registration_requires_approval else None
    iterations = settings.password_iterations

    def hashed(core: ChatBase, session: Session, keys: ScramKeys | None) -> None:
        if keys is None:
            _register_fail(
                core, session, "TEMPORARILY_UNAVAILABLE", nick, "Registration failed; try again"
            )
            return
        account = Account(folded, nick, None if email == "*" else email, keys, core.clock(), code)

        def created(core: ChatBase, session: Session, ok: bool | None) -> None:
            _created(core, session, account, ok)

        core.later(session, lambda done: core.accounts.create(account, done), created)

    core.off_loop(session, lambda: new_keys(password, iterations), hashed)


def _account_exists(core: ChatBase, session: Session, name: str) -> None:
    _register_fail(
        core, session, "ACCOUNT_EXISTS", name,
        f"{name} is already registered; log in to it, or choose another nick",
    )  # fmt: skip


def _created(core: ChatBase, session: Session, account: Account, ok: bool | None) -> None:
    user = session.user
    name = account.name
    if ok is None:  # the database failed, and said why in the log
        log.error("REGISTER %s from %s: the account could not be stored", name, user.host,
                  extra=about_session("account_refused", session, account=name,
                                      reason="not stored"))  # fmt: skip
        _register_fail(
            core, session, "TEMPORARILY_UNAVAILABLE", name,
            "The server could not store the account just now; try again later",
        )  # fmt: skip
        return
    if not ok:
        _account_exists(core, session, name)
        return
    server = core.settings.server_name
    if account.verify_code is not None:
        log.warning(
            "account %s registered by %s from %s, waiting for approval (ACCOUNT PENDING)",
            name, user.nick, user.host,
            extra=about_session("account_registered", session, account=name, pending=True),
        )  # fmt: skip
        text = (
            f"Account {name} created; an operator must approve it. Ask one for your code, "
            f"then send: VERIFY {name} CODE"
        )
        core.send(session, Message("REGISTER", ["VERIFICATION_REQUIRED", name, text], server))
        return
    log.info("account %s registered by %s from %s", name, user.nick, user.host,
             extra=about_session("account_registered", session, account=name))  # fmt: skip
    core.account_names.add(account.folded)
    text = f"Account {name} registered"
    core.send(session, Message("REGISTER", ["SUCCESS", name, text], server))
    _logged_in(core, session, account)


def _logged_in(core: ChatBase, session: Session, account: Account) -> None:
    """Log the session in to a new (or newly verified) account; its nick is its owner's now."""
    log_in(core, session, account)
    user: User = session.user
    check_nick(core, user)
    settle_nick(core, account.name)


# --------------------------------------------------------------------- VERIFY


def _verify_fail(core: ChatBase, session: Session, code: str, *params: str) -> None:
    core.fail(session, "VERIFY", code, *params)


def handle_verify(core: ChatBase, session: Session, msg: Message) -> None:
    name, code = msg.params[0], msg.params[1]
    user = session.user
    shown = safe_middle(name)
    if not user.registered and core.settings.password is not None:
        _verify_fail(
            core, session, "COMPLETE_CONNECTION_REQUIRED",
            "Finish connecting (with the server password) first, then verify",
        )  # fmt: skip
        return
    if user.account is not None:
        _verify_fail(
            core, session, "ALREADY_AUTHENTICATED", user.account,
            f"You are already logged in to {user.account}",
        )  # fmt: skip
        return
    gate = core.password_gate
    if gate.refuses(session, core.clock()):
        log.warning("VERIFY %r by %s from %s refused: too soon", name, user.nick, user.host,
                    extra=about_session("verify_failed", session, account=name,
                                        reason="too soon"))  # fmt: skip
        _verify_fail(
            core, session, "TEMPORARILY_UNAVAILABLE", shown,
            "Too many attempts; wait a moment, then try again",
        )  # fmt: skip
        return
    gate.start(session)
    if not core.valid_nick(name):
        _wrong_code(core, session, name)
        return
    folded = irc_lower(name)

    def found(core: ChatBase, session: Session, account: Account | None) -> None:
        if (
            account is None
            or account.verify_code is None
            or account.suspended is not None
            or not hmac.compare_digest(account.verify_code.encode(), code.encode())
        ):
            _wrong_code(core, session, name)
            return
        verified = replace(account, verify_code=None)

        def stored(core: ChatBase, session: Session, ok: bool | None) -> None:
            _verified(core, session, verified, ok)

        core.later(
            session,
            lambda done: core.accounts.update(lambda c: set_verified(c, folded), done),
            stored,
        )

    core.later(session, lambda done: core.accounts.get(folded, done), found)


def _wrong_code(core: ChatBase, session: Session, name: str) -> None:
    user = session.user
    core.password_gate.finish(session, False, core.clock())
    log.warning("wrong VERIFY code for account %r by %s from %s", name, user.nick, user.host,
                extra=about_session("verify_failed", session, account=name,
                                    reason="wrong code"))  # fmt: skip
    _verify_fail(
        core, session, "INVALID_CODE", safe_middle(name),
        "That code is wrong, or the account is not waiting for one",
    )  # fmt: skip


def _verified(core: ChatBase, session: Session, account: Account, ok: bool | None) -> None:
    core.password_gate.finish(session, True, core.clock())
    name = account.name
    if ok is False:  # dropped meanwhile
        _verify_fail(core, session, "INVALID_CODE", name, "The account is gone")
        return
    if ok is None:
        log.error("VERIFY %s from %s: the database did not store it", name, session.user.host)
        _verify_fail(
            core, session, "TEMPORARILY_UNAVAILABLE", name,
            "The server could not store that just now; try again later",
        )  # fmt: skip
        return
    log.info("account %s verified by %s from %s", name, session.user.nick, session.user.host,
             extra=about_session("account_verified", session, account=name))  # fmt: skip
    core.account_names.add(account.folded)
    server = core.settings.server_name
    text = f"Account {name} verified"
    core.send(session, Message("VERIFY", ["SUCCESS", name, text], server))
    _logged_in(core, session, account)
