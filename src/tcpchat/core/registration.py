"""Connection registration: CAP negotiation, PASS, NICK, USER and the welcome burst."""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING

from ..protocol import Message, irc_lower
from . import numerics as n
from .records import WANTS_CLIENT_TAGS, WANTS_TIME, Client

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger(__name__)

# Only capabilities the core really implements are advertised.
CAPABILITIES = (
    "away-notify",
    "echo-message",
    "message-tags",
    "multi-prefix",
    "server-time",
    "userhost-in-names",
)


def handle_cap(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "CAP", "Not enough parameters")
        return
    sub = msg.params[0].upper()
    target = client.nick
    server = core.settings.server_name
    if sub in ("LS", "REQ") and not client.registered:
        client.cap_negotiating = True
    if sub == "LS":
        core.send_line(client, Message("CAP", [target, "LS", " ".join(CAPABILITIES)], server))
    elif sub == "LIST":
        core.send_line(
            client, Message("CAP", [target, "LIST", " ".join(sorted(client.caps))], server)
        )
    elif sub == "REQ":
        wanted = msg.param(1)
        names = wanted.split()
        if names and all(name.removeprefix("-") in CAPABILITIES for name in names):
            for name in names:
                if name.startswith("-"):
                    client.caps.discard(name[1:])
                else:
                    client.caps.add(name)
            client.tag_mask = (WANTS_TIME if "server-time" in client.caps else 0) | (
                WANTS_CLIENT_TAGS if "message-tags" in client.caps else 0
            )
            core.send_line(client, Message("CAP", [target, "ACK", wanted], server))
        else:
            core.send_line(client, Message("CAP", [target, "NAK", wanted], server))
    elif sub == "END":
        if not client.registered:
            client.cap_negotiating = False
            try_register(core, client)
    else:
        core.reply(client, n.ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def handle_pass(core: ChatCore, client: Client, msg: Message) -> None:
    if client.registered:
        core.reply(client, n.ERR_ALREADYREGISTERED, "You may not reregister")
    elif not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "PASS", "Not enough parameters")
    else:
        client.password = msg.params[0]


def handle_nick(core: ChatCore, client: Client, msg: Message) -> None:
    nick = msg.param(0)
    if not nick:
        core.reply(client, n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    refusal = core.nick_refusal(nick)
    if refusal is not None:
        core.reply(client, n.ERR_ERRONEUSNICKNAME, nick, refusal)
        return
    folded = irc_lower(nick)
    holder = core.nicks.get(folded)
    if holder is not None and holder is not client:
        core.reply(client, n.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if nick == client.nick:
        return
    old_source = client.source
    if core.nicks.get(irc_lower(client.nick)) is client:
        del core.nicks[irc_lower(client.nick)]
    core.nicks[folded] = client
    client.nick = nick
    client.refresh_source()
    if client.registered:
        core.relay([client, *core.peers_of(client)], old_source, "NICK", [nick])
    else:
        try_register(core, client)


def handle_user(core: ChatCore, client: Client, msg: Message) -> None:
    if client.registered:
        core.reply(client, n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    if len(msg.params) < 4 or not msg.params[0]:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    user = "".join(ch for ch in msg.params[0] if ch.isalnum() or ch in "-_.~")
    client.user = user[: core.settings.user_length] or "user"
    client.realname = msg.params[3]
    client.refresh_source()
    try_register(core, client)


def try_register(core: ChatCore, client: Client) -> None:
    """Finish registration once NICK, USER and any CAP negotiation are done."""
    if client.registered or client.cap_negotiating or client.nick == "*" or not client.user:
        return
    password = core.settings.password
    if password is not None and not _same_password(client.password, password):
        log.warning("wrong server password from %s (nick %s)", client.host, client.nick)
        core.reply(client, n.ERR_PASSWDMISMATCH, "Password incorrect")
        core.close(client, "Bad password")
        return
    client.registered = True
    core.users += 1
    for letter in client.modes:
        core.user_modes[letter] += 1
    core.max_registered = max(core.max_registered, core.users)
    send_welcome(core, client)


def _same_password(given: str | None, expected: str) -> bool:
    """Compared in constant time, so timing reveals nothing of the password."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def send_welcome(core: ChatCore, client: Client) -> None:
    s = core.settings
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(core.started))
    core.reply(
        client, n.RPL_WELCOME, f"Welcome to the {s.network_name} IRC Network, {client.source}"
    )
    core.reply(
        client, n.RPL_YOURHOST, f"Your host is {s.server_name}, running version {core.version}"
    )
    core.reply(client, n.RPL_CREATED, f"This server was created {created}")
    core.reply(client, n.RPL_MYINFO, s.server_name, core.version, "io", "biklmnostv", "bklov")
    send_isupport(core, client)
    send_lusers(core, client)
    send_motd(core, client)


def send_isupport(core: ChatCore, client: Client) -> None:
    tokens = core.isupport_tokens()
    for start in range(0, len(tokens), 12):
        core.reply(
            client, n.RPL_ISUPPORT, *tokens[start : start + 12], "are supported by this server"
        )


def send_lusers(core: ChatCore, client: Client) -> None:
    users = core.users
    invisible = core.user_modes["i"]
    opers = core.user_modes["o"]
    unknown = len(core.clients) - users
    most = core.max_registered
    core.reply(
        client,
        n.RPL_LUSERCLIENT,
        f"There are {users - invisible} users and {invisible} invisible on 1 servers",
    )
    core.reply(client, n.RPL_LUSEROP, str(opers), "operator(s) online")
    core.reply(client, n.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    core.reply(client, n.RPL_LUSERCHANNELS, str(len(core.channels)), "channels formed")
    core.reply(client, n.RPL_LUSERME, f"I have {users} clients and 0 servers")
    core.reply(
        client, n.RPL_LOCALUSERS, str(users), str(most), f"Current local users {users}, max {most}"
    )
    core.reply(
        client,
        n.RPL_GLOBALUSERS,
        str(users),
        str(most),
        f"Current global users {users}, max {most}",
    )


def send_motd(core: ChatCore, client: Client) -> None:
    motd = core.settings.motd
    if not motd:
        core.reply(client, n.ERR_NOMOTD, "MOTD File is missing")
        return
    core.reply(client, n.RPL_MOTDSTART, f"- {core.settings.server_name} Message of the day - ")
    for line in motd.splitlines():
        core.reply(client, n.RPL_MOTD, f"- {line}")
    core.reply(client, n.RPL_ENDOFMOTD, "End of /MOTD command.")


HANDLERS = {
    "CAP": handle_cap,
    "PASS": handle_pass,
    "NICK": handle_nick,
    "USER": handle_user,
}
