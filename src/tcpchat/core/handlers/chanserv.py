"""CS (or CHANSERV): registered channels, after Ergo's ChanServ, as one command.

    CS REGISTER #room          a logged-in operator of the room registers it to their account
    CS UNREGISTER #room        its founder (or a server operator) lets it go
    CS OP #room account        the access list: who gets @ when they join (DEOP takes it off)
    CS VOICE #room account     ... or + (DEVOICE takes it off)
    CS INFO #room              who founded it, when, and its access list
    CS HELP                    these lines

The words may come as separate parameters (`CS REGISTER #room`, what `/cs register #room`
sends from most clients) or as one (`CS :REGISTER #room`). Every answer is a NOTICE from the
server, which every client shows, and people on nc read as a sentence. Who may: the founder
and the operators on the access list, logged in, change the list; the founder unregisters;
server operators may do all of it on any channel, logged in or not. What a registered channel
keeps, and how it comes back, is core/registry.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...protocol import Message, irc_lower
from ..base import ChatBase
from ..model import Session
from ..registry import OPERATOR, VOICE
from .channels import is_operator

HELP_LINES = (
    "CS REGISTER #room: register a room you are an operator of to your account. It keeps its "
    "topic, modes, key, limit, bans and access list, even across restarts, and nobody takes "
    "it over by joining first.",
    "CS UNREGISTER #room: the founder (or a server operator) lets a registered room go.",
    "CS OP #room account, CS DEOP #room account: who gets @ when they join or log in there "
    "(the founder always does).",
    "CS VOICE #room account, CS DEVOICE #room account: who gets + when they join or log in there.",
    "CS INFO #room: who founded a registered room, when, and its access list.",
)


def handle_cs(core: ChatBase, session: Session, msg: Message) -> None:
    words = " ".join(msg.params).split()
    name = words[0].upper() if words else "HELP"
    entry = SUBCOMMANDS.get(name)
    if entry is None:
        core.notice(session, f"There is no CS {words[0][:32]}; CS HELP lists the commands.")
        return
    handler, needed, usage = entry
    args = words[1:]
    if len(args) < needed:
        core.notice(session, f"Usage: CS {usage}")
        return
    handler(core, session, args)


def _help(core: ChatBase, session: Session, args: list[str]) -> None:
    for line in HELP_LINES:
        core.notice(session, line)


def _register(core: ChatBase, session: Session, args: list[str]) -> None:
    user = session.user
    if user.account is None:
        core.notice(session, "You must be logged in to an account to register a room.")
        return
    channel = core.state.channel(args[0])
    if channel is None or ("s" in channel.modes and user.uid not in channel.members):
        core.notice(session, f"There is no room {args[0][:64]}; join it first.")
        return
    if core.channel_registry.get(channel.folded) is not None:
        core.notice(session, f"{channel.name} is already registered.")
        return
    if not is_operator(channel, user):
        core.notice(session, f"You must be an operator of {channel.name} to register it.")
        return
    core.channel_registry.register(channel, irc_lower(user.account), core.clock())
    core.notice(
        session,
        f"Registered {channel.name} to your account {user.account}. It keeps its topic, "
        f"modes, key, limit, bans and access list from now on, even across restarts; "
        f"CS OP {channel.name} account names its operators.",
    )


def _unregister(core: ChatBase, session: Session, args: list[str]) -> None:
    registry = core.channel_registry
    kept = registry.get(args[0])
    if kept is None:
        core.notice(session, f"{args[0][:64]} is not registered.")
        return
    user = session.user
    founder = user.account is not None and irc_lower(user.account) == kept.founder
    if not founder and "o" not in user.modes:
        core.notice(
            session,
            f"Only the founder of {kept.name} ({kept.founder}) or a server operator may "
            "unregister it.",
        )
        return
    registry.unregister(kept)
    core.notice(
        session,
        f"{kept.name} is no longer registered. It stays as it is while people are in it, and "
        "is anyone's once it empties.",
    )


def _access(status: str, adding: bool) -> Callable[[ChatBase, Session, list[str]], None]:
    """CS OP, DEOP, VOICE, DEVOICE: change the access list."""
    what = "an operator of" if status == OPERATOR else "voiced in"
    sign = "@" if status == OPERATOR else "+"

    def change(core: ChatBase, session: Session, args: list[str]) -> None:
        registry = core.channel_registry
        kept = registry.get(args[0])
        if kept is None:
            core.notice(session, f"{args[0][:64]} is not registered.")
            return
        if not registry.may_manage(kept, session.user):
            core.notice(
                session,
                f"Only the founder of {kept.name} and its operators on the access list "
                "(logged in), or a server operator, may change who is on it.",
            )
            return
        account = args[1][:64]
        folded = irc_lower(account)
        if folded not in core.account_names:
            core.notice(session, f"There is no account named {account}.")
        elif folded == kept.founder:
            core.notice(
                session, f"{account} founded {kept.name}: they get @ there, whatever the list says."
            )
        elif not adding:
            if kept.access.get(folded) != status:
                core.notice(session, f"{account} is not {what} {kept.name} on its access list.")
                return
            registry.set_access(kept, folded, None)
            core.notice(
                session,
                f"{account} is no longer {what} {kept.name}; anyone who has {sign} there now "
                "keeps it until an operator takes it away.",
            )
        elif kept.access.get(folded) == status:
            core.notice(session, f"{account} is already {what} {kept.name}.")
        else:
            registry.set_access(kept, folded, status)
            _grant_now(core, kept.folded, folded, status)
            core.notice(
                session,
                f"{account} is now {what} {kept.name}: they get {sign} when they join, or "
                "log in while there.",
            )

    return change


def _grant_now(core: ChatBase, key: str, account: str, status: str) -> None:
    """Those in the channel now, logged in to `account`, get the status at once."""
    channel = core.state.channel(key)
    if channel is None:
        return
    now = core.clock()
    for uid in list(channel.members):
        member = core.state.user(uid)
        if member is not None and member.account and irc_lower(member.account) == account:
            core.channel_registry.grant(channel, member, status, now)


def _info(core: ChatBase, session: Session, args: list[str]) -> None:
    registry = core.channel_registry
    kept = registry.get(args[0])
    user = session.user
    channel = core.state.channel(args[0])
    hidden = (
        kept is not None
        and "s" in kept.modes
        and (channel is None or user.uid not in channel.members)
        and not registry.may_manage(kept, user)
    )
    if kept is None or hidden:
        core.notice(session, f"{args[0][:64]} is not registered.")
        return
    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(kept.registered))
    core.notice(session, f"{kept.name} is registered to {kept.founder} since {since}.")
    for status, label in ((OPERATOR, "Operators"), (VOICE, "Voiced")):
        names = sorted(name for name, given in kept.access.items() if given == status)
        if names:
            core.notice(session, f"{label} on its access list: {', '.join(names)}.")


SUBCOMMANDS: dict[str, tuple[Callable[[ChatBase, Session, list[str]], None], int, str]] = {
    "HELP": (_help, 0, "HELP"),
    "REGISTER": (_register, 1, "REGISTER #room"),
    "UNREGISTER": (_unregister, 1, "UNREGISTER #room"),
    "OP": (_access(OPERATOR, True), 2, "OP #room account"),
    "DEOP": (_access(OPERATOR, False), 2, "DEOP #room account"),
    "VOICE": (_access(VOICE, True), 2, "VOICE #room account"),
    "DEVOICE": (_access(VOICE, False), 2, "DEVOICE #room account"),
    "INFO": (_info, 1, "INFO #room"),
}
