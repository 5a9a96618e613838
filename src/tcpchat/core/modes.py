"""MODE for channels (b k l i m n s t, o v) and for users (i)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import Message
from . import numerics as n
from .channels import is_operator, normalize_mask, visible
from .records import Channel, Client

if TYPE_CHECKING:
    from .chat import ChatCore

FLAG_MODES = frozenset("imnst")
MAX_PARAM_MODES = 4  # ISUPPORT MODES
MAX_BANS = 100  # ISUPPORT MAXLIST
MAX_KEY_LENGTH = 50


def handle_mode(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
        return
    target = msg.params[0]
    if target.startswith("#"):
        channel = core.find_channel(target)
        if channel is None:
            core.reply(client, n.ERR_NOSUCHCHANNEL, target, "No such channel")
        elif len(msg.params) == 1:
            core.reply(
                client,
                n.RPL_CHANNELMODEIS,
                channel.name,
                *channel.mode_string(show_key=client in channel.members),
            )
            core.reply(client, n.RPL_CREATIONTIME, channel.name, str(int(channel.created)))
        else:
            channel_mode(core, client, channel, msg.params[1], msg.params[2:])
    else:
        user_mode(core, client, target, msg.params[1:])


def user_mode(core: ChatCore, client: Client, target: str, args: list[str]) -> None:
    other = core.find_user(target)
    if other is None:
        core.reply(client, n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    if other is not client:
        core.reply(client, n.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    if not args:
        core.reply(client, n.RPL_UMODEIS, "+" + "".join(sorted(client.modes)))
        return
    adding = True
    applied: list[str] = []
    unknown = False
    for letter in args[0]:
        if letter in "+-":
            adding = letter == "+"
        elif letter == "i" or (letter == "o" and not adding):
            if core.set_user_mode(client, letter, adding):
                applied.append(("+" if adding else "-") + letter)
        elif letter != "o":
            unknown = True
    if unknown:
        core.reply(client, n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if applied:
        core.relay([client], client.source, "MODE", [client.nick, _compact(applied)])


def _compact(changes: list[str]) -> str:
    """['+i', '+o', '-v'] -> '+io-v'."""
    out = ""
    sign = ""
    for change in changes:
        if change[0] != sign:
            sign = change[0]
            out += sign
        out += change[1]
    return out


def channel_mode(
    core: ChatCore, client: Client, channel: Channel, modestring: str, args: list[str]
) -> None:
    """Apply a mode change, or answer a ban-list query; one MODE line goes to members."""
    if modestring.lstrip("+-") == "b" and not args:
        if not visible(channel, client) and "o" not in client.modes:
            core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
            return
        for mask, (setter, when) in channel.bans.items():
            core.reply(client, n.RPL_BANLIST, channel.name, mask, setter, str(int(when)))
        core.reply(client, n.RPL_ENDOFBANLIST, channel.name, "End of channel ban list")
        return
    if not is_operator(channel, client):
        core.reply(client, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    adding = True
    changes: list[str] = []
    params: list[str] = []
    pending = iter(args)
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
            continue
        sign = "+" if adding else "-"
        if letter in FLAG_MODES:
            if adding != (letter in channel.modes):
                (channel.modes.add if adding else channel.modes.discard)(letter)
                changes.append(sign + letter)
            continue
        if letter not in "ovbkl":
            core.reply(client, n.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
            continue
        if len(params) >= MAX_PARAM_MODES:
            break
        if letter == "l" and not adding:
            if channel.limit is not None:
                channel.limit = None
                changes.append("-l")
            continue
        arg = next(pending, None)
        if arg is None or not arg:
            continue
        applied = _apply_param_mode(core, client, channel, letter, adding, arg)
        if applied is not None:
            changes.append(sign + letter)
            params.append(applied)
    if changes:
        # A server operator acting from outside the channel sees the change too.
        recipients = channel.members if client in channel.members else [*channel.members, client]
        core.relay(recipients, client.source, "MODE", [channel.name, _compact(changes), *params])


def _apply_param_mode(
    core: ChatCore, client: Client, channel: Channel, letter: str, adding: bool, arg: str
) -> str | None:
    """Apply one mode that takes a parameter; the parameter to show, or None if nothing changed."""
    if letter in "ov":
        member = core.find_user(arg)
        if member is None:
            core.reply(client, n.ERR_NOSUCHNICK, arg, "No such nick/channel")
            return None
        if member not in channel.members:
            core.reply(
                client, n.ERR_USERNOTINCHANNEL, arg, channel.name, "They aren't on that channel"
            )
            return None
        status = channel.members[member]
        if adding == (letter in status):
            return None
        channel.members[member] = "".join(
            sorted(status + letter) if adding else status.replace(letter, "")
        )
        return member.nick
    if letter == "b":
        if " " in arg or arg.startswith(":"):
            return None  # could never match a nick!user@host, nor be shown in a reply
        mask = normalize_mask(arg)
        if adding:
            if mask in channel.bans or len(channel.bans) >= MAX_BANS:
                return None
            channel.bans[mask] = (client.source, core.clock())
        elif channel.bans.pop(mask, None) is None:
            return None
        return mask
    if letter == "k":
        if adding:
            if len(arg) > MAX_KEY_LENGTH or any(ch in arg for ch in " ,") or arg[0] == ":":
                core.reply(client, n.ERR_INVALIDKEY, channel.name, "Key is not well-formed")
                return None
            channel.key = arg
            return arg
        if channel.key is None:
            return None
        channel.key = None
        return "*"
    # letter == "l", adding
    if not arg.isdigit() or int(arg) <= 0:
        return None
    channel.limit = int(arg)
    return arg


HANDLERS = {"MODE": handle_mode}
