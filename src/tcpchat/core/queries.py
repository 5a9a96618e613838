"""Questions about users and the server: WHO, WHOIS, ISON, USERHOST, MOTD, LUSERS,
VERSION, TIME, and the PING/PONG keepalive."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..protocol import Message
from . import numerics as n
from .channels import mask_matches, visible
from .records import Channel, Client
from .registration import send_isupport, send_lusers, send_motd

if TYPE_CHECKING:
    from .chat import ChatCore

MAX_WHO_REPLIES = 200


def handle_ping(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NOORIGIN, "No origin specified")
        return
    server = core.settings.server_name
    core.send_line(client, Message("PONG", [server, msg.params[0]], server))


def handle_pong(core: ChatCore, client: Client, msg: Message) -> None:
    """Any line proves the client is alive; nothing more to do."""


def _who_line(core: ChatCore, asker: Client, user: Client, channel: Channel | None) -> None:
    flags = "G" if user.away is not None else "H"
    if "o" in user.modes:
        flags += "*"
    if channel is not None:
        flags += channel.status_prefix(user, "multi-prefix" in asker.caps)
    core.reply(
        asker,
        n.RPL_WHOREPLY,
        channel.name if channel else "*",
        user.user,
        user.host,
        core.settings.server_name,
        user.nick,
        flags,
        f"0 {user.realname}",
    )


def handle_who(core: ChatCore, client: Client, msg: Message) -> None:
    mask = msg.param(0, "*")
    if mask.startswith("#"):
        channel = core.find_channel(mask)
        if channel is not None and visible(channel, client):
            for member in channel.members:
                _who_line(core, client, member, channel)
    elif "*" not in mask and "?" not in mask:
        user = core.find_user(mask)
        if user is not None:
            _who_line(core, client, user, None)
    else:
        pattern = "*" if mask == "0" else mask
        shown = 0
        shared = core.peers_of(client) | {client}
        for user in core.clients:
            if shown >= MAX_WHO_REPLIES:
                break
            if not user.registered or ("i" in user.modes and user not in shared):
                continue
            if mask_matches(pattern, user.nick):
                _who_line(core, client, user, None)
                shown += 1
    core.reply(client, n.RPL_ENDOFWHO, mask, "End of WHO list")


def handle_whois(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    nick = msg.params[-1].split(",")[0]
    user = core.find_user(nick)
    if user is None:
        core.reply(client, n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        core.reply(client, n.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    server = core.settings.server_name
    core.reply(client, n.RPL_WHOISUSER, user.nick, user.user, user.host, "*", user.realname)
    multi = "multi-prefix" in client.caps
    names = [
        channel.status_prefix(user, multi) + channel.name
        for channel in user.channels.values()
        if visible(channel, client)
    ]
    if names:
        core.reply(client, n.RPL_WHOISCHANNELS, user.nick, " ".join(names))
    core.reply(client, n.RPL_WHOISSERVER, user.nick, server, core.settings.network_name)
    if user.away is not None:
        core.reply(client, n.RPL_AWAY, user.nick, user.away)
    if "o" in user.modes:
        core.reply(client, n.RPL_WHOISOPERATOR, user.nick, "is an IRC operator")
    idle = int(core.clock() - user.last_spoke)
    core.reply(
        client,
        n.RPL_WHOISIDLE,
        user.nick,
        str(idle),
        str(int(user.connected_at)),
        "seconds idle, signon time",
    )
    core.reply(client, n.RPL_ENDOFWHOIS, user.nick, "End of /WHOIS list")


def handle_ison(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "ISON", "Not enough parameters")
        return
    words = " ".join(msg.params).split()
    online = [user.nick for user in map(core.find_user, words) if user is not None]
    core.reply(client, n.RPL_ISON, " ".join(online))


def handle_userhost(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "USERHOST", "Not enough parameters")
        return
    replies = []
    for nick in " ".join(msg.params).split()[:5]:
        user = core.find_user(nick)
        if user is not None:
            oper = "*" if "o" in user.modes else ""
            here = "-" if user.away is not None else "+"
            replies.append(f"{user.nick}{oper}={here}{user.user}@{user.host}")
    core.reply(client, n.RPL_USERHOST, " ".join(replies))


def handle_motd(core: ChatCore, client: Client, msg: Message) -> None:
    send_motd(core, client)


def handle_lusers(core: ChatCore, client: Client, msg: Message) -> None:
    send_lusers(core, client)


def handle_version(core: ChatCore, client: Client, msg: Message) -> None:
    core.reply(
        client,
        n.RPL_VERSION,
        core.version,
        core.settings.server_name,
        "tcpchat: IRC for programs, plain text for people",
    )
    send_isupport(core, client)


def handle_time(core: ChatCore, client: Client, msg: Message) -> None:
    now = time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime(core.clock()))
    core.reply(client, n.RPL_TIME, core.settings.server_name, now)


HANDLERS = {
    "PING": handle_ping,
    "PONG": handle_pong,
    "WHO": handle_who,
    "WHOIS": handle_whois,
    "ISON": handle_ison,
    "USERHOST": handle_userhost,
    "MOTD": handle_motd,
    "LUSERS": handle_lusers,
    "VERSION": handle_version,
    "TIME": handle_time,
}
