"""Logging in and out of an account, whichever way it happened (SASL, REGISTER, /login):
the numerics the session gets and the event everyone else's view follows."""

from __future__ import annotations

from ...protocol import irc_lower
from ...store.accounts import Account
from .. import numerics as n
from ..base import ChatBase
from ..events import AccountChanged
from ..model import Session


def log_in(core: ChatBase, session: Session, account: Account) -> None:
    """900 RPL_LOGGEDIN, and the user is `account`'s from now on (account-notify, WHOIS)."""
    user = session.user
    if session.sasl is not None:  # an exchange begun, then a login some other way (REGISTER)
        session.sasl = None
        core.reply(session, n.ERR_SASLABORTED, "SASL authentication aborted")
    message = f"You are now logged in as {account.name}"
    core.reply(session, n.RPL_LOGGEDIN, user.source, account.name, message)
    core.emit(AccountChanged(core.clock(), user.uid, user.source, account.name))
    if irc_lower(user.nick) == account.folded:  # holding the account's nick: theirs now
        core.nick_graces.pop(user.uid, None)


def log_out(core: ChatBase, session: Session) -> None:
    """901 RPL_LOGGEDOUT, and the user belongs to no account any more."""
    user = session.user
    if user.account is None:
        return
    core.reply(session, n.RPL_LOGGEDOUT, user.source, "You are now logged out")
    core.emit(AccountChanged(core.clock(), user.uid, user.source, None))
