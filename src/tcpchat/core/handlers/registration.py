"""Connection registration: PASS, NICK, USER and the welcome burst (CAP is in cap.py)."""

from __future__ import annotations

import hmac
import logging
import time

from ...protocol import Message, irc_lower
from .. import numerics as n
from ..base import ChatBase
from ..events import NickChanged, Registered
from ..isupport import isupport_tokens, myinfo
from ..log_fields import about_session
from ..model import Session, User
from ..shared_nicks import UNAVAILABLE, Claimed
from .bans import refused_at_registration
from .ownership import check_nick

log = logging.getLogger("tcpchat.core")


def handle_pass(core: ChatBase, session: Session, msg: Message) -> None:
    if session.registered:
        core.reply(session, n.ERR_ALREADYREGISTERED, "You may not reregister")
    else:
        session.password = msg.params[0]


def handle_nick(core: ChatBase, session: Session, msg: Message) -> None:
    nick = msg.param(0)
    if not nick:
        core.reply(session, n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    refusal = core.nick_refusal(nick)
    if refusal is not None:
        core.reply(session, n.ERR_ERRONEUSNICKNAME, nick, refusal)
        return
    user = session.user
    if _held_here(core, nick, user):
        core.reply(session, n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if nick == user.nick:
        return
    shared = core.shared_nicks
    if shared is not None:  # a cluster: the nick must be free network-wide too
        old = irc_lower(user.nick) if user.nick != "*" else None
        core.later(
            session,
            lambda done: shared.claim(user.uid, irc_lower(nick), old, done),
            lambda core, session, claimed: _claimed(core, session, nick, claimed),
        )
        return
    _take_nick(core, session, nick)


def _claimed(core: ChatBase, session: Session, nick: str, claimed: Claimed) -> None:
    """The network's answer to a NICK: take it (if nothing here took it meanwhile)."""
    if claimed is UNAVAILABLE:
        holder = core.state.nick_holder(nick)
        if holder is None or holder is session.user:
            core.reply(
                session, n.ERR_UNAVAILRESOURCE, nick,
                "The network can't check that nick right now; try again in a moment",
            )  # fmt: skip
            return
        claimed = False  # the network can't say, but this node's copy of it can
    if not claimed or _held_here(core, nick, session.user):
        core.reply(session, n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if nick != session.user.nick:
        _take_nick(core, session, nick)


def _held_here(core: ChatBase, nick: str, user: User) -> bool:
    """Whether someone else holds `nick` as far as this server knows. In a cluster, a user
    of another node is only this node's copy of them, which hears of a rename or a quit a
    little after the shared store does: for them the store's answer to the claim decides."""
    holder = core.state.nick_holder(nick)
    if holder is None or holder is user:
        return False
    return not (holder.node and core.shared_nicks is not None)


def _take_nick(core: ChatBase, session: Session, nick: str) -> None:
    user = session.user
    if user.registered:
        log.info("%s is now known as %s", user.nick, nick,
                 extra=about_session("nick", session, old=user.nick, nick=nick))  # fmt: skip
        core.emit(NickChanged(core.clock(), user.uid, user.source, nick))
        check_nick(core, user)  # an account's nick: log in to it, or be renamed
    else:
        core.state.claim_nick(user, nick)
        try_register(core, session)


def handle_user(core: ChatBase, session: Session, msg: Message) -> None:
    if session.registered:
        core.reply(session, n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    if not msg.params[0] or not msg.params[3]:  # a username and a realname, both non-empty
        core.reply(session, n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    user = session.user
    name = "".join(ch for ch in msg.params[0] if ch.isalnum() or ch in "-_.~")
    user.user = shared(name[: core.settings.user_length] or "user", user.nick)
    user.realname = shared(msg.params[3][: core.settings.realname_length], user.user, user.nick)
    user.refresh_source()
    try_register(core, session)


def shared(text: str, *kept: str) -> str:
    """`text`, or an equal string the user keeps already: many clients send their nick as
    username and realname too, and each copy would cost some 50 bytes a connection."""
    for each in kept:
        if each == text:
            return each
    return text


def try_register(core: ChatBase, session: Session) -> None:
    """Finish registration once NICK, USER and any CAP negotiation are done."""
    user = session.user
    if user.registered or session.cap_negotiating or user.nick == "*" or not user.user:
        return
    gate = core.network_gate
    if gate is not None:  # welcomed once this (cluster) node knows the network
        core.later(session, gate, lambda core, session, _: try_register(core, session))
        return
    password = core.settings.password
    if password is not None and not _same_password(session.password, password):
        log.warning("wrong server password from %s (nick %s)", user.host, user.nick,
                    extra=about_session("server_password_wrong", session))  # fmt: skip
        core.reply(session, n.ERR_PASSWDMISMATCH, "Password incorrect")
        core.close(session, "Bad password")
        return
    if core.bans and refused_at_registration(core, session):
        return
    log.info("%s registered from %s (conn %s)", user.nick, session.addr, user.uid,
             extra=about_session("register", session, username=user.user, tls=session.secure,
                                 account=user.account))  # fmt: skip
    core.emit(Registered(core.clock(), user))
    send_welcome(core, session)
    check_nick(core, user)


def _same_password(given: str | None, expected: str) -> bool:
    """Compared in constant time, so timing reveals nothing of the password."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def send_welcome(core: ChatBase, session: Session) -> None:
    s = core.settings
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(core.started))
    source = session.user.source
    core.reply(session, n.RPL_WELCOME, f"Welcome to the {s.network_name} IRC Network, {source}")
    core.reply(
        session, n.RPL_YOURHOST, f"Your host is {s.server_name}, running version {core.version}"
    )
    core.reply(session, n.RPL_CREATED, f"This server was created {created}")
    core.reply(session, n.RPL_MYINFO, *myinfo(s, core.version))
    send_isupport(core, session)
    send_lusers(core, session)
    send_motd(core, session)


def send_isupport(core: ChatBase, session: Session) -> None:
    tokens = isupport_tokens(core.settings)
    for start in range(0, len(tokens), 12):
        core.reply(
            session, n.RPL_ISUPPORT, *tokens[start : start + 12], "are supported by this server"
        )


def send_lusers(core: ChatBase, session: Session) -> None:
    state = core.state
    users = state.users
    local = users - state.remote_users  # a cluster node's own; all of them alone
    invisible = state.user_modes["i"]
    opers = state.user_modes["o"]
    unknown = len(core.sessions) - local
    most = state.max_users
    nodes = core.nodes
    core.reply(
        session,
        n.RPL_LUSERCLIENT,
        f"There are {users - invisible} users and {invisible} invisible on {nodes} servers",
    )
    core.reply(session, n.RPL_LUSEROP, str(opers), "operator(s) online")
    core.reply(session, n.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    core.reply(session, n.RPL_LUSERCHANNELS, str(state.channel_count), "channels formed")
    core.reply(session, n.RPL_LUSERME, f"I have {local} clients and {nodes - 1} servers")
    core.reply(
        session, n.RPL_LOCALUSERS, str(local), str(most), f"Current local users {local}, max {most}"
    )
    core.reply(
        session,
        n.RPL_GLOBALUSERS,
        str(users),
        str(most),
        f"Current global users {users}, max {most}",
    )


def send_motd(core: ChatBase, session: Session) -> None:
    motd = core.settings.motd
    if not motd:
        core.reply(session, n.ERR_NOMOTD, "MOTD File is missing")
        return
    core.reply(session, n.RPL_MOTDSTART, f"- {core.settings.server_name} Message of the day - ")
    for line in motd.splitlines():
        core.reply(session, n.RPL_MOTD, f"- {line}")
    core.reply(session, n.RPL_ENDOFMOTD, "End of /MOTD command.")
