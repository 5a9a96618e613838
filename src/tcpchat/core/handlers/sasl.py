"""AUTHENTICATE: logging in with SASL (IRCv3 sasl-3.1 and sasl-3.2) by PLAIN, SCRAM-SHA-256
or EXTERNAL (the TLS client certificate's fingerprint, see certfp.py).

An exchange lives on its session (`Session.sasl`) from `AUTHENTICATE <mechanism>` to its end:
900 and 903 when it succeeds; 904 when it fails (with the reason); 905 for a message too
long (a line over 400 bytes, or more than `MAX_MESSAGE` in all); 906 when the client aborts
it (`AUTHENTICATE *`, or `CAP END` in the middle of it); 907 for someone logged in already;
908, then 904, for a mechanism not offered. Messages travel base64 in 400-byte chunks
(accounts/sasl.py), sent to the client as `AUTHENTICATE <chunk>` without a prefix.

Looking an account up (the database) and checking a password (PBKDF2, or SCRAM's proof) go
through `core.later`, the check through the password gate too (few at once server-wide,
the rest waiting their turn; a session that failed pauses before its next try). Meanwhile
the client's next lines wait, so the `CAP END` a client sends after its credentials waits
for the answer, and registration with it. Failures are logged with the address. A login
fails the same way whether or not the account exists (an unknown name is checked against
made-up keys, whose salt is the same each time), and only the right credentials learn that
an account is suspended or not verified yet.

sasl-3.2 lets a client log in after registration: anyone not logged in may. Someone logged
in gets 907, since changing accounts is not supported. A client must have asked for the
`sasl` capability first (904 otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from ...accounts.sasl import MECHANISMS, SaslError, SaslExchange, chunks, parse_plain
from ...accounts.scram import ScramError, ScramKeys, ScramServer, check_password
from ...protocol import Message, irc_lower
from ...store.accounts import Account
from .. import numerics as n
from ..base import ChatBase
from ..log_fields import about_session
from ..model import Session
from .login import log_in

log = logging.getLogger("tcpchat.core")

SASL = "sasl"
PLAIN, SCRAM, EXTERNAL = MECHANISMS
FAILED = "SASL authentication failed"
WRONG_CREDENTIALS = "wrong account name or password"
# Made-up keys for names that are no account: their salt is derived from the name with this.
_DECOY_SECRET = secrets.token_bytes(32)


def handle_authenticate(core: ChatBase, session: Session, msg: Message) -> None:
    param = msg.params[0]
    if SASL not in session.caps:
        fail(core, session, "ask for the sasl capability first (CAP REQ :sasl)")
        return
    if session.user.account is not None:
        session.sasl = None
        core.reply(session, n.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    if param == "*":
        abort_sasl(core, session)
        return
    exchange = session.sasl
    if exchange is None:
        _begin(core, session, param.upper())
        return
    try:
        message = exchange.assembler.add(param)
    except SaslError as exc:
        _refused(core, session, exchange.mechanism, str(exc))
        if exc.too_long:
            session.sasl = None
            core.reply(session, n.ERR_SASLTOOLONG, "SASL message too long")
        else:
            fail(core, session, str(exc))
        return
    if message is not None:
        _STEPS[exchange.mechanism](core, session, exchange, message)


def abort_sasl(core: ChatBase, session: Session) -> None:
    """The client gave up (`AUTHENTICATE *`), or went on to register: 906."""
    session.sasl = None
    core.reply(session, n.ERR_SASLABORTED, "SASL authentication aborted")


def fail(core: ChatBase, session: Session, reason: str) -> None:
    """904, saying why; the exchange is over (the client may start another)."""
    session.sasl = None
    core.reply(session, n.ERR_SASLFAIL, f"{FAILED}: {reason}")


def _refused(core: ChatBase, session: Session, mechanism: str, why: str) -> None:
    user = session.user
    log.info("SASL %s exchange refused for %s from %s: %s", mechanism, user.nick, user.host, why,
             extra=about_session("login_failed", session, mechanism=mechanism, reason=why))


def _failed_login(core: ChatBase, session: Session, mechanism: str, name: str, why: str) -> None:
    user = session.user
    log.warning(
        "failed SASL %s login as %r by %s from %s: %s", mechanism, name, user.nick, user.host, why,
        extra=about_session("login_failed", session, mechanism=mechanism, account=name,
                            reason=why),
    )  # fmt: skip


def _begin(core: ChatBase, session: Session, mechanism: str) -> None:
    if mechanism not in MECHANISMS:
        core.reply(session, n.RPL_SASLMECHS, ",".join(MECHANISMS), "are available SASL mechanisms")
        fail(core, session, "no such mechanism")
        return
    if mechanism == EXTERNAL and session.certfp is None:
        fail(core, session, "you did not connect with a TLS client certificate")
        return
    session.sasl = SaslExchange(mechanism, scram=ScramServer() if mechanism == SCRAM else None)
    send_authenticate(core, session, b"")


def send_authenticate(core: ChatBase, session: Session, message: bytes) -> None:
    """A server message of the exchange, in as many `AUTHENTICATE` lines as it takes."""
    core.router.write_lines(session, [f"AUTHENTICATE {part}" for part in chunks(message)])


def _too_soon(core: ChatBase, session: Session, mechanism: str, name: str) -> bool:
    """The password gate's pause after a failure: True (and 904) while it lasts."""
    if not core.password_gate.too_soon(session, core.clock()):
        return False
    _failed_login(core, session, mechanism, name, "too soon after a failure")
    fail(core, session, "too many attempts; wait a moment, then try again")
    return True


def _decoy(core: ChatBase, folded: str) -> ScramKeys:
    """Keys no password matches, for a name that is no account: checked as long as real
    ones, with a salt that is the same at every try (as a real account's is)."""
    salt = hmac.new(_DECOY_SECRET, folded.encode(), hashlib.sha256).digest()[:16]
    return ScramKeys(salt, core.settings.password_iterations, b"", b"")


def _check(
    core: ChatBase,
    session: Session,
    work: Callable[[], Any],
    then: Callable[[ChatBase, Session, Any], None],
) -> None:
    """`work` (a password check) on a worker thread when the gate lets it in; `then` must
    start with `core.password_gate.finish`."""
    gate = core.password_gate
    core.later(session, lambda done: gate.admit(session, lambda: core.run_blocking(work, done)),
               then)  # fmt: skip


# ------------------------------------------------------------------------ PLAIN


def _plain(core: ChatBase, session: Session, exchange: SaslExchange, message: bytes) -> None:
    try:
        authzid, name, password = parse_plain(message)
    except SaslError as exc:
        _refused(core, session, PLAIN, str(exc))
        fail(core, session, str(exc))
        return
    folded = irc_lower(name)
    if authzid and irc_lower(authzid) != folded:
        _failed_login(core, session, PLAIN, name, f"asked to act as {authzid!r}")
        fail(core, session, "you may only log in as yourself (authzid and authcid differ)")
        return
    if _too_soon(core, session, PLAIN, name):
        return

    def found(core: ChatBase, session: Session, account: Account | None) -> None:
        keys = account.keys if account is not None else _decoy(core, folded)

        def work() -> bool:
            try:
                return check_password(password, keys)
            except Exception:  # a failure here must not leave the client's login pending
                log.exception("checking the password of account %r failed", name)
                return False

        def checked(core: ChatBase, session: Session, ok: bool) -> None:
            ok = ok and account is not None
            core.password_gate.finish(session, ok, core.clock())
            if ok and account is not None:
                _proven(core, session, account)
            else:
                _failed_login(core, session, PLAIN, name, WRONG_CREDENTIALS)
                fail(core, session, WRONG_CREDENTIALS)

        _check(core, session, work, checked)

    core.later(session, lambda done: core.accounts.get(folded, done), found)


# ---------------------------------------------------------------- SCRAM-SHA-256


def _scram(core: ChatBase, session: Session, exchange: SaslExchange, message: bytes) -> None:
    scram = exchange.scram
    assert scram is not None
    exchange.step += 1
    if exchange.step == 1:
        _scram_first(core, session, exchange, scram, message)
    elif exchange.step == 2:
        _scram_final(core, session, exchange, scram, message)
    elif message:  # after our last message (the server's proof), only an empty one ends it
        _refused(core, session, SCRAM, "a message after the exchange ended")
        fail(core, session, "the exchange was over")
    elif exchange.account is not None:
        _proven(core, session, exchange.account)


def _scram_first(
    core: ChatBase, session: Session, exchange: SaslExchange, scram: ScramServer, message: bytes
) -> None:
    try:
        name = scram.start(message)
    except ScramError as exc:
        _refused(core, session, SCRAM, str(exc))
        fail(core, session, str(exc))
        return
    folded = irc_lower(name)
    if scram.authzid and irc_lower(scram.authzid) != folded:
        _failed_login(core, session, SCRAM, name, f"asked to act as {scram.authzid!r}")
        fail(core, session, "you may only log in as yourself (authzid and authcid differ)")
        return
    if _too_soon(core, session, SCRAM, name):
        return

    def found(core: ChatBase, session: Session, account: Account | None) -> None:
        if session.sasl is not exchange:
            return
        exchange.account = account
        keys = account.keys if account is not None else _decoy(core, folded)
        send_authenticate(core, session, scram.challenge(keys))

    core.later(session, lambda done: core.accounts.get(folded, done), found)


def _scram_final(
    core: ChatBase, session: Session, exchange: SaslExchange, scram: ScramServer, message: bytes
) -> None:
    def work() -> bytes | str:
        try:
            return scram.finish(message)
        except ScramError as exc:
            return str(exc)
        except Exception:  # a failure here must not leave the client's login pending
            log.exception("checking a SCRAM proof for %r failed", scram.user)
            return "internal error"

    def checked(core: ChatBase, session: Session, result: bytes | str) -> None:
        ok = isinstance(result, bytes) and exchange.account is not None
        core.password_gate.finish(session, ok, core.clock())
        if session.sasl is not exchange:
            return
        if isinstance(result, bytes) and ok:
            send_authenticate(core, session, result)  # our proof; the client answers with "+"
            return
        why = result if isinstance(result, str) and result != "wrong proof" else None
        _failed_login(core, session, SCRAM, scram.user, why or WRONG_CREDENTIALS)
        fail(core, session, why or WRONG_CREDENTIALS)

    _check(core, session, work, checked)


# --------------------------------------------------------------------- EXTERNAL


def _external(core: ChatBase, session: Session, exchange: SaslExchange, message: bytes) -> None:
    fingerprint = session.certfp
    assert fingerprint is not None  # _begin checked
    try:
        authzid = message.decode("utf-8")
    except UnicodeDecodeError:
        _refused(core, session, EXTERNAL, "an authorization identity that is not UTF-8")
        fail(core, session, "the authorization identity is not UTF-8")
        return

    def found(core: ChatBase, session: Session, account: Account | None) -> None:
        if account is None:
            _failed_login(core, session, EXTERNAL, authzid, f"no account has {fingerprint}")
            fail(core, session, "no account has this certificate (CERTFP ADD ties one to yours)")
        elif authzid and irc_lower(authzid) != account.folded:
            _failed_login(core, session, EXTERNAL, authzid, f"the certificate is {account.name}'s")
            fail(core, session, f"this certificate is not {authzid}'s")
        else:
            _proven(core, session, account)

    core.later(session, lambda done: core.accounts.by_certfp(fingerprint, done), found)


# ----------------------------------------------------------------------- the end


def login_refusal(account: Account) -> str | None:
    """Why no one may log in to `account` even with its password (suspended, or waiting
    for VERIFY), said to someone who gave it; None when they may."""
    if account.suspended is not None:
        return f"account {account.name} is suspended: {account.suspended}"
    if not account.verified:
        return f"account {account.name} is not verified yet (VERIFY it first)"
    return None


def _proven(core: ChatBase, session: Session, account: Account) -> None:
    """The credentials are right: logged in (900, 903), unless the account may not be."""
    session.sasl = None
    user = session.user
    refusal = login_refusal(account)
    if refusal is not None:
        log.warning("SASL login from %s refused: %s", user.host, refusal,
                    extra=about_session("login_failed", session, account=account.name,
                                        reason=refusal))  # fmt: skip
        fail(core, session, refusal)
    elif user.account is not None:  # logged in some other way meanwhile
        core.reply(session, n.ERR_SASLALREADY, "You have already authenticated using SASL")
    else:
        log.info("%s (%s) logged in as %s with SASL", user.nick, user.host, account.name,
                 extra=about_session("login", session, account=account.name))  # fmt: skip
        log_in(core, session, account)
        core.reply(session, n.RPL_SASLSUCCESS, "SASL authentication successful")


_STEPS: dict[str, Callable[[ChatBase, Session, SaslExchange, bytes], None]] = {
    PLAIN: _plain,
    SCRAM: _scram,
    EXTERNAL: _external,
}
