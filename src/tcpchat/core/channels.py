"""Channel membership and channel queries: JOIN, PART, TOPIC, NAMES, LIST, KICK, INVITE."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..protocol import Message, irc_lower
from . import numerics as n
from .records import Channel, Client

if TYPE_CHECKING:
    from .chat import ChatCore


def normalize_mask(mask: str) -> str:
    """Complete a ban mask to nick!user@host form: 'bob' -> 'bob!*@*'."""
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask


def mask_matches(mask: str, text: str) -> bool:
    """IRC wildcard match ('*' and '?'), case-insensitive under rfc1459."""
    pattern = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in irc_lower(mask)
    )
    return re.fullmatch(pattern, irc_lower(text), re.DOTALL) is not None


def is_banned(channel: Channel, client: Client) -> bool:
    return any(mask_matches(mask, client.source) for mask in channel.bans)


def is_operator(channel: Channel, client: Client) -> bool:
    """Channel operator, or a server operator (who may act in any channel)."""
    return "o" in channel.members.get(client, "") or "o" in client.modes


def handle_join(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "JOIN", "Not enough parameters")
        return
    if msg.params[0] == "0":
        for channel in list(client.channels.values()):
            part_channel(core, client, channel, "Left all channels")
        return
    keys = msg.param(1).split(",")
    for i, name in enumerate(msg.params[0].split(",")):
        join_channel(core, client, name, keys[i] if i < len(keys) else "")


def join_channel(core: ChatCore, client: Client, name: str, key: str = "") -> None:
    """Join (creating if needed) a channel; its creator becomes its operator."""
    if not core.valid_channel_name(name):
        core.reply(client, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        return
    folded = irc_lower(name)
    if folded in client.channels:
        return
    if len(client.channels) >= core.settings.channels_per_user:
        core.reply(client, n.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
        return
    channel = core.channels.get(folded)
    if channel is None:
        channel = core.channels[folded] = Channel(name=name, created=core.clock())
        channel.members[client] = "o"
    else:
        invited = client in channel.invited
        refusal = None
        if is_banned(channel, client) and not invited:
            refusal = (n.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)")
        elif "i" in channel.modes and not invited:
            refusal = (n.ERR_INVITEONLYCHAN, "Cannot join channel (+i)")
        elif channel.key is not None and key != channel.key:
            refusal = (n.ERR_BADCHANNELKEY, "Cannot join channel (+k)")
        elif channel.limit is not None and len(channel.members) >= channel.limit:
            refusal = (n.ERR_CHANNELISFULL, "Cannot join channel (+l)")
        if refusal is not None:
            core.reply(client, refusal[0], channel.name, refusal[1])
            return
        channel.invited.discard(client)
        channel.members[client] = ""
    client.channels[folded] = channel
    core.relay(channel.members, client.source, "JOIN", [channel.name])
    if channel.topic:
        send_topic(core, client, channel)
    send_names(core, client, channel)


def handle_part(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "PART", "Not enough parameters")
        return
    reason = msg.param(1)
    for name in msg.params[0].split(","):
        channel = core.find_channel(name)
        if channel is None:
            core.reply(client, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        elif client not in channel.members:
            core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        else:
            part_channel(core, client, channel, reason)


def part_channel(core: ChatCore, client: Client, channel: Channel, reason: str) -> None:
    params = [channel.name, reason] if reason else [channel.name]
    core.relay(channel.members, client.source, "PART", params)
    core.remove_member(channel, client)


def handle_topic(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "TOPIC", "Not enough parameters")
        return
    channel = core.channel_or_reply(client, msg.params[0])
    if channel is None:
        return
    member = client in channel.members
    if len(msg.params) < 2:
        if not member and "s" in channel.modes:
            core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        elif channel.topic:
            send_topic(core, client, channel)
        else:
            core.reply(client, n.RPL_NOTOPIC, channel.name, "No topic is set")
        return
    if not member:
        core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if "t" in channel.modes and not is_operator(channel, client):
        core.reply(client, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    channel.topic = msg.params[1][: core.settings.topic_length]
    channel.topic_setter = client.source
    channel.topic_time = core.clock()
    core.relay(channel.members, client.source, "TOPIC", [channel.name, channel.topic])


def send_topic(core: ChatCore, client: Client, channel: Channel) -> None:
    core.reply(client, n.RPL_TOPIC, channel.name, channel.topic)
    core.reply(
        client, n.RPL_TOPICWHOTIME, channel.name, channel.topic_setter, str(int(channel.topic_time))
    )


def visible(channel: Channel, client: Client) -> bool:
    """Secret channels are seen only by their members."""
    return "s" not in channel.modes or client in channel.members


def handle_names(core: ChatCore, client: Client, msg: Message) -> None:
    if not msg.params:
        core.reply(client, n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for name in msg.params[0].split(","):
        channel = core.find_channel(name)
        if channel is not None and visible(channel, client):
            send_names(core, client, channel)
        else:
            core.reply(client, n.RPL_ENDOFNAMES, name or "*", "End of /NAMES list")


def send_names(core: ChatCore, client: Client, channel: Channel) -> None:
    """353 lines packed up to the line limit, then 366."""
    multi = "multi-prefix" in client.caps
    full = "userhost-in-names" in client.caps
    symbol = "@" if "s" in channel.modes else "="
    entries = [
        channel.status_prefix(member, multi) + (member.source if full else member.nick)
        for member in channel.members
    ]
    head = len(core.settings.server_name) + len(client.nick) + len(channel.name) + 16
    budget = core.settings.max_line_bytes - head
    batch: list[str] = []
    used = 0
    for entry in entries:
        if batch and used + len(entry) + 1 > budget:
            core.reply(client, n.RPL_NAMREPLY, symbol, channel.name, " ".join(batch))
            batch, used = [], 0
        batch.append(entry)
        used += len(entry) + 1
    if batch:
        core.reply(client, n.RPL_NAMREPLY, symbol, channel.name, " ".join(batch))
    core.reply(client, n.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def handle_list(core: ChatCore, client: Client, msg: Message) -> None:
    if msg.params and msg.params[0]:
        found = (core.find_channel(name) for name in msg.params[0].split(","))
        channels = [c for c in found if c is not None]
    else:
        channels = sorted(core.channels.values(), key=lambda c: irc_lower(c.name))
    core.reply(client, n.RPL_LISTSTART, "Channel", "Users  Name")
    for channel in channels:
        if visible(channel, client):
            core.reply(client, n.RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
    core.reply(client, n.RPL_LISTEND, "End of /LIST")


def handle_kick(core: ChatCore, client: Client, msg: Message) -> None:
    if len(msg.params) < 2:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "KICK", "Not enough parameters")
        return
    channel = core.channel_or_reply(client, msg.params[0])
    if channel is None:
        return
    if client not in channel.members and "o" not in client.modes:
        core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if not is_operator(channel, client):
        core.reply(client, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    reason = (msg.param(2) or client.nick)[: core.settings.kick_length]
    for nick in msg.params[1].split(","):
        target = core.find_user(nick)
        if target is None or target not in channel.members:
            core.reply(
                client, n.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel"
            )
            continue
        # A server operator kicking from outside the channel sees the KICK too.
        recipients = channel.members if client in channel.members else [*channel.members, client]
        core.relay(recipients, client.source, "KICK", [channel.name, target.nick, reason])
        core.remove_member(channel, target)


def handle_invite(core: ChatCore, client: Client, msg: Message) -> None:
    if len(msg.params) < 2:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    target = core.find_user(msg.params[0])
    if target is None:
        core.reply(client, n.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        return
    channel = core.channel_or_reply(client, msg.params[1])
    if channel is None:
        return
    if client not in channel.members:
        core.reply(client, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if target in channel.members:
        core.reply(client, n.ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
        return
    if "i" in channel.modes and not is_operator(channel, client):
        core.reply(client, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    channel.invited.add(target)
    core.reply(client, n.RPL_INVITING, target.nick, channel.name)
    core.relay([target], client.source, "INVITE", [target.nick, channel.name])


HANDLERS = {
    "JOIN": handle_join,
    "PART": handle_part,
    "TOPIC": handle_topic,
    "NAMES": handle_names,
    "LIST": handle_list,
    "KICK": handle_kick,
    "INVITE": handle_invite,
}
