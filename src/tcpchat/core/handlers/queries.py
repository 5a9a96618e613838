"""Questions about users and the server: WHO, WHOIS, WHOWAS, ISON, USERHOST, MOTD, LUSERS,
VERSION, TIME, and the PING/PONG keepalive."""

from __future__ import annotations

import ipaddress
import re
import time

from ...protocol import Message, safe_middle
from .. import numerics as n
from ..base import ChatBase
from ..isupport import BOT_MODE
from ..model import Channel, Session, User
from .channels import mask_matches, visible
from .registration import send_isupport, send_lusers, send_motd

MAX_WHO_REPLIES = 200


def handle_ping(core: ChatBase, session: Session, msg: Message) -> None:
    if not msg.params:
        core.reply(session, n.ERR_NOORIGIN, "No origin specified")
        return
    server = core.settings.server_name
    core.send(session, Message("PONG", [server, msg.params[0]], server))


def handle_pong(core: ChatBase, session: Session, msg: Message) -> None:
    """Any line proves the client is alive; nothing more to do."""


def _who_flags(session: Session, user: User, channel: Channel | None) -> str:
    """H or G (here or gone), * for a server operator, then the channel status prefix."""
    flags = "G" if user.away is not None else "H"
    if "o" in user.modes:
        flags += "*"
    if channel is not None:
        flags += channel.status_prefix(user.uid, "multi-prefix" in session.caps)
    if BOT_MODE in user.modes:
        flags += BOT_MODE
    return flags


def _who_line(
    core: ChatBase, session: Session, user: User, channel: Channel | None
) -> None:
    core.reply(
        session,
        n.RPL_WHOREPLY,
        channel.name if channel else "*",
        user.user,
        user.host,
        core.settings.server_name,
        user.nick,
        _who_flags(session, user, channel),
        f"0 {user.realname}",
    )


# WHOX (the IRCv3 `whox` extension): the fields a client may ask for, in the order a 354
# reply gives them: token, channel, user, IP, host, server, nick, flags, distance (hops),
# seconds idle, account, op level, realname.
WHOX_FIELDS = "tcuihsnfdlaor"
_WHOX_TOKEN = re.compile(r"[0-9]{1,3}\Z")


def _whox_request(options: str) -> tuple[str, str]:
    """`%fields[,token]` -> (the fields asked, in reply order; the token)."""
    fields, _, token = options[options.index("%") + 1 :].partition(",")
    fields = fields.lower()
    return "".join(f for f in WHOX_FIELDS if f in fields), (
        token if _WHOX_TOKEN.match(token) else "0"
    )


def _whox_line(
    core: ChatBase,
    session: Session,
    user: User,
    channel: Channel | None,
    request: tuple[str, str],
) -> None:
    """One 354 with exactly the fields asked. An address is shown only to its owner and
    to server operators (255.255.255.255 to others); `a` is the account (0: none)."""
    asker = session.user
    params: list[str] = []
    for field in request[0]:
        if field == "t":
            params.append(request[1])
        elif field == "c":
            params.append(channel.name if channel else "*")
        elif field == "u":
            params.append(user.user)
        elif field == "i":
            public = asker is user or "o" in asker.modes
            params.append(user.host if public and _is_address(user.host) else "255.255.255.255")
        elif field == "h":
            params.append(user.host)
        elif field == "s":
            params.append(core.settings.server_name)
        elif field == "n":
            params.append(user.nick)
        elif field == "f":
            params.append(_who_flags(session, user, channel))
        elif field == "d":
            params.append("0")
        elif field == "l":
            local = core.session_of(user)
            params.append(str(int(core.clock() - local.last_spoke)) if local else "0")
        elif field == "a":
            params.append(user.account or "0")
        elif field == "o":
            params.append("n/a")
        else:  # "r"
            params.append(user.realname)
    core.reply(session, n.RPL_WHOSPCRPL, *params)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def handle_who(core: ChatBase, session: Session, msg: Message) -> None:
    """WHO mask, and WHO mask %fields[,token] (WHOX: 354 lines instead of 352)."""
    mask = msg.param(0, "*")
    options = msg.param(1)
    request = _whox_request(options) if "%" in options else None

    def line(user: User, channel: Channel | None) -> None:
        if request is None:
            _who_line(core, session, user, channel)
        else:
            _whox_line(core, session, user, channel, request)

    asker = session.user
    if mask.startswith("#"):
        channel = core.state.channel(mask)
        if channel is not None and visible(channel, asker):
            for uid in channel.members:
                member = core.state.user(uid)
                if member is not None:
                    line(member, channel)
    elif "*" not in mask and "?" not in mask:
        user = core.find_user(mask)
        if user is not None:
            line(user, None)
    else:
        pattern = "*" if mask == "0" else mask
        shown = 0
        for user in core.state.all_users():
            if shown >= MAX_WHO_REPLIES:
                break
            if "i" in user.modes and user is not asker and not core.shares_channel(asker, user):
                continue
            if mask_matches(pattern, user.nick):
                line(user, None)
                shown += 1
    core.reply(session, n.RPL_ENDOFWHO, mask, "End of WHO list")


def handle_whois(core: ChatBase, session: Session, msg: Message) -> None:
    if not msg.params:
        core.reply(session, n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    nick = msg.params[-1].split(",")[0]
    user = core.find_user(nick)
    if user is None:
        core.reply(session, n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        core.reply(session, n.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    server = core.settings.server_name
    core.reply(session, n.RPL_WHOISUSER, user.nick, user.user, user.host, "*", user.realname)
    multi = "multi-prefix" in session.caps
    names = [
        channel.status_prefix(user.uid, multi) + channel.name
        for channel in user.channels.values()
        if visible(channel, session.user)
    ]
    if names:
        core.reply(session, n.RPL_WHOISCHANNELS, user.nick, " ".join(names))
    core.reply(session, n.RPL_WHOISSERVER, user.nick, server, core.settings.network_name)
    if user.away is not None:
        core.reply(session, n.RPL_AWAY, user.nick, user.away)
    if "o" in user.modes:
        core.reply(session, n.RPL_WHOISOPERATOR, user.nick, "is an IRC operator")
    if BOT_MODE in user.modes:
        core.reply(session, n.RPL_WHOISBOT, user.nick, "is a bot")
    if user.account is not None:
        core.reply(session, n.RPL_WHOISACCOUNT, user.nick, user.account, "is logged in as")
    local = core.session_of(user)
    if local is not None and local.certfp and (user is session.user or "o" in session.user.modes):
        text = f"has client certificate fingerprint {local.certfp}"
        core.reply(session, n.RPL_WHOISCERTFP, user.nick, text)
    idle = int(core.clock() - local.last_spoke) if local is not None else 0
    core.reply(
        session,
        n.RPL_WHOISIDLE,
        user.nick,
        str(idle),
        str(int(user.signon)),
        "seconds idle, signon time",
    )
    core.reply(session, n.RPL_ENDOFWHOIS, user.nick, "End of /WHOIS list")


def handle_ison(core: ChatBase, session: Session, msg: Message) -> None:
    words = " ".join(msg.params).split()
    online = [user.nick for user in map(core.find_user, words) if user is not None]
    core.reply(session, n.RPL_ISON, " ".join(online))


def handle_userhost(core: ChatBase, session: Session, msg: Message) -> None:
    replies = []
    for nick in " ".join(msg.params).split()[:5]:
        user = core.find_user(nick)
        if user is not None:
            oper = "*" if "o" in user.modes else ""
            here = "-" if user.away is not None else "+"
            replies.append(f"{user.nick}{oper}={here}{user.user}@{user.host}")
    core.reply(session, n.RPL_USERHOST, " ".join(replies))


def handle_motd(core: ChatBase, session: Session, msg: Message) -> None:
    send_motd(core, session)


def handle_lusers(core: ChatBase, session: Session, msg: Message) -> None:
    send_lusers(core, session)


def handle_version(core: ChatBase, session: Session, msg: Message) -> None:
    core.reply(
        session,
        n.RPL_VERSION,
        core.version,
        core.settings.server_name,
        "tcpchat: IRC for programs, plain text for people",
    )
    send_isupport(core, session)


def handle_time(core: ChatBase, session: Session, msg: Message) -> None:
    now = time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime(core.clock()))
    core.reply(session, n.RPL_TIME, core.settings.server_name, now)


def handle_whowas(core: ChatBase, session: Session, msg: Message) -> None:
    """WHOWAS nick [count]: who last held a nick, most recent first (314 and 312 each), or
    406; then 369. A count that is no positive number means all of them."""
    nick = msg.params[0]
    if not nick:
        core.reply(session, n.ERR_NEEDMOREPARAMS, "WHOWAS", "Not enough parameters")
        return
    count = msg.param(1)
    records = core.state.whowas(nick)
    if count.isascii() and count.isdigit() and int(count) > 0:
        records = records[: int(count)]
    shown = safe_middle(nick)
    if not records:
        core.reply(session, n.ERR_WASNOSUCHNICK, shown, "There was no such nickname")
    server = core.settings.server_name
    for record in records:
        core.reply(
            session, n.RPL_WHOWASUSER, record.nick, record.user, record.host, "*", record.realname
        )
        left = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(record.when))
        core.reply(session, n.RPL_WHOISSERVER, record.nick, server, left)
    core.reply(session, n.RPL_ENDOFWHOWAS, shown, "End of WHOWAS")
