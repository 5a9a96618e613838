"""Nick ownership: an account's name is a nick reserved for it.

Whoever holds such a nick without being logged in to its account (on registering, with NICK,
after logging out, or when the account comes into being) is told so, and has `nick_grace`
seconds to log in: with SASL, or `/login` in plain text. The sweep (`sweep_graces`, run by
`ChatCore.sweep` every few seconds) renames whoever is still not logged in to a guest nick,
`Guest12345`, and tells them why. Logging in meanwhile ends the grace: the sweep checks again
before renaming. The owner, logged in, takes their nick back at once with `REGAIN`. A
suspended account's nick stays reserved; a dropped account's is free again.

Both the notices and the renames are events (`ServerTold`, `NickChanged`), so the person
renamed hears of it wherever they are connected, whoever's command started it.
"""

from __future__ import annotations

import logging
import random
import re

from ...protocol import Message, irc_lower
from .. import numerics as n
from ..base import ChatBase
from ..events import AccountChanged, NickChanged, ServerTold
from ..log_fields import about
from ..model import Session, User
from .login import log_out

__all__ = [
    "GUEST_PREFIX",
    "accounts_known",
    "check_nick",
    "give_way",
    "guest_nick",
    "handle_logout",
    "handle_regain",
    "is_guest_nick",
    "revoke",
    "sweep_graces",
]

log = logging.getLogger("tcpchat.core")

GUEST_PREFIX = "Guest"
_GUEST_RE = re.compile(r"guest[0-9]+\Z", re.IGNORECASE)


def is_guest_nick(nick: str) -> bool:
    """Whether `nick` looks like a guest nick the server hands out (never an account)."""
    return _GUEST_RE.match(nick) is not None


def owns(user: User, folded: str) -> bool:
    """Whether `user` is logged in to the account named `folded`."""
    return user.account is not None and irc_lower(user.account) == folded


def tell(core: ChatBase, user: User, text: str) -> None:
    """A server NOTICE to `user`, wherever they are connected."""
    core.emit(ServerTold(core.clock(), user.uid, "NOTICE", (text,)))


def seconds(amount: float) -> str:
    whole = int(amount) if amount == int(amount) else amount
    return "1 second" if whole == 1 else f"{whole} seconds"


def check_nick(core: ChatBase, user: User) -> None:
    """`user` holds their nick now (they took it, registered, logged out, or it became an
    account's): start their grace if it is someone else's account's, end it if not."""
    if not user.registered or user.console:
        return
    folded = irc_lower(user.nick)
    graces = core.nick_graces
    if folded not in core.account_names or owns(user, folded):
        graces.pop(user.uid, None)
        return
    counting = graces.get(user.uid)
    if counting is not None and counting[1] == folded:
        return  # the same nick in another case: the grace goes on
    grace = core.settings.nick_grace
    if grace <= 0:
        graces.pop(user.uid, None)
        rename_to_guest(core, user, f"the nick {user.nick} belongs to an account")
        return
    graces[user.uid] = (core.clock() + grace, folded)
    nick = user.nick
    tell(
        core,
        user,
        f"The nick {nick} belongs to an account. If it is yours, log in within "
        f"{seconds(grace)} (with SASL; on nc or telnet, /login {nick} PASSWORD), or you will "
        "be renamed to a guest nick.",
    )


def accounts_known(core: ChatBase, names: set[str]) -> None:
    """The account names are `names` now (another node changed them): whoever here holds
    a nick that has just become an account's is told, and their grace starts, as it does
    for a holder on the node where the account was made."""
    new = names - core.account_names
    core.account_names = names
    for folded in new:
        user = core.state.user_by_nick(folded)
        if user is not None and not user.node:  # the holder's own node counts their grace
            check_nick(core, user)


def sweep_graces(core: ChatBase, now: float) -> None:
    """Rename whoever still holds an account's nick, not logged in, past their grace."""
    graces = core.nick_graces
    for uid, (deadline, folded) in list(graces.items()):
        if now < deadline:
            continue
        del graces[uid]
        user = core.state.user(uid)
        if (
            user is None
            or not user.registered
            or irc_lower(user.nick) != folded
            or folded not in core.account_names
            or owns(user, folded)
        ):
            continue  # gone, renamed, logged in, or the account was dropped
        grace = seconds(core.settings.nick_grace)
        why = f"the nick {user.nick} belongs to an account, and you did not log in within {grace}"
        rename_to_guest(core, user, why)


def guest_nick(core: ChatBase) -> str:
    """A free guest nick that fits NICKLEN (at least 9: Guest and four digits)."""
    digits = min(5, core.settings.nick_length - len(GUEST_PREFIX))
    low, high = 10 ** (digits - 1), 10**digits

    def free(nick: str) -> bool:
        return core.state.nick_holder(nick) is None and irc_lower(nick) not in core.account_names

    for _ in range(20):
        nick = f"{GUEST_PREFIX}{random.randrange(low, high)}"
        if free(nick):
            return nick
    start = random.randrange(low, high)  # crowded: look at every one, from anywhere
    for number in (*range(start, high), *range(low, start)):
        nick = f"{GUEST_PREFIX}{number}"
        if free(nick):
            return nick
    raise RuntimeError("no guest nick is free")


def rename_to_guest(core: ChatBase, user: User, why: str) -> None:
    """Give `user` a guest nick (everyone who sees them sees a NICK), and tell them why."""
    guest = guest_nick(core)
    core.nick_graces.pop(user.uid, None)
    _log_nick(core, user, guest, why)
    core.emit(NickChanged(core.clock(), user.uid, user.source, guest))
    tell(core, user, f"You were renamed to {guest}: {why}.")


def give_way(core: ChatBase, holder: User, taker: User | None, was: str | None) -> None:
    """`holder` lost their nick to `taker` (whose nick was `was`): a REGAIN here, or one on
    another node that had not yet heard `holder` took it. Registered, they get a guest nick
    and are told why; still connecting, they are welcomed with one instead."""
    nick = holder.nick
    if taker is not None and taker.account is not None:
        why = f"{was or taker.nick} ({taker.account}) took back their nick {nick}"
    else:
        why = f"the network gave the nick {nick} to someone else"
    if holder.registered:
        rename_to_guest(core, holder, why)
    else:  # still connecting
        core.state.claim_nick(holder, guest_nick(core))


def _log_nick(core: ChatBase, user: User, nick: str, why: str) -> None:
    session = core.session_of(user)
    log.info(
        "%s is now known as %s: %s", user.nick, nick, why,
        extra=about("nick", user, session.addr if session else None, old=user.nick, nick=nick,
                    reason=why),
    )  # fmt: skip


def revoke(core: ChatBase, user: User, why: str) -> None:
    """Log `user` out of their account, by an operator's doing (the account was dropped or
    suspended): 901 and a NOTICE saying why, and their grace starts if they hold its nick."""
    now = core.clock()
    core.emit(AccountChanged(now, user.uid, user.source, None))
    core.emit(ServerTold(now, user.uid, n.RPL_LOGGEDOUT, (user.source, "You are now logged out")))
    tell(core, user, f"You were logged out: {why}.")
    check_nick(core, user)


# ------------------------------------------------------------------ commands


def handle_regain(core: ChatBase, session: Session, msg: Message) -> None:
    """REGAIN [<nick>]: the owner takes their account's nick back from whoever holds it,
    who gets a guest nick (Ergo's NS REGAIN). Without a nick: the account's own."""
    user = session.user
    account = user.account
    wanted = msg.param(0) or account or ""
    shown = wanted or "*"
    if account is None:
        core.fail(
            session, "REGAIN", "ACCOUNT_REQUIRED", shown,
            "Log in to the nick's account first (SASL, or REGISTER)",
        )  # fmt: skip
        return
    folded = irc_lower(wanted)
    if folded != irc_lower(account):
        core.fail(
            session, "REGAIN", "NOT_YOUR_NICK", shown,
            f"You can only regain {account}, the nick of the account you are logged in to",
        )  # fmt: skip
        return
    refusal = core.nick_refusal(wanted)
    if refusal is not None:
        core.reply(session, n.ERR_ERRONEUSNICKNAME, wanted, refusal)
        return
    holder = core.state.nick_holder(wanted)
    if holder is user and user.nick == wanted:
        core.notice(session, f"You already have the nick {wanted}")
        return
    shared = core.shared_nicks
    if shared is not None and holder is not user:
        # The owner's network-wide first, so that the holder's rename, which lets the nick
        # go, never leaves it free in between for another node to give out; and shown only
        # once the store has it, for a holder this node has not heard of yet: their node
        # asks the store when it sees this, and renames them (Replication).
        core.later(
            session,
            lambda done: shared.take(user.uid, folded, irc_lower(user.nick), user.node,
                                     lambda: done(None)),
            lambda core, session, _: _regained(core, session.user, wanted),
        )  # fmt: skip
        return
    _regained(core, user, wanted)


def _regained(core: ChatBase, user: User, wanted: str) -> None:
    """REGAIN, once the nick is the user's in the shared store (if there is one)."""
    holder = core.state.nick_holder(wanted)
    if holder is not None and holder is not user:
        give_way(core, holder, user, user.nick)
    _log_nick(core, user, wanted, "REGAIN")
    core.emit(NickChanged(core.clock(), user.uid, user.source, wanted))
    core.nick_graces.pop(user.uid, None)


def handle_logout(core: ChatBase, session: Session, msg: Message) -> None:
    """LOGOUT: leave the account logged in to (901). Holding its nick, the grace starts."""
    if session.user.account is None:
        core.fail(session, "LOGOUT", "NOT_LOGGED_IN", "You are not logged in")
        return
    log_out(core, session)
    check_nick(core, session.user)
