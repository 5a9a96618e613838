"""Channel membership and channel queries: JOIN, PART, TOPIC, NAMES, KICK, INVITE, KNOCK.
(LIST is in listing.py.)"""

from __future__ import annotations

import re

from ...protocol import Message, irc_lower
from .. import numerics as n
from ..base import ChatBase, safe_middle
from ..events import ChannelRestored, Invited, Joined, Kicked, Knocked, Parted, TopicSet
from ..model import Channel, Session, User, restored
from ..playback import play_back


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


def is_banned(channel: Channel, user: User) -> bool:
    """A ban (+b) matches, and no ban exception (+e) does."""
    if not channel.bans:  # the usual case, on every message of an unvoiced member
        return False
    source = user.source
    return any(mask_matches(mask, source) for mask in channel.bans) and not any(
        mask_matches(mask, source) for mask in channel.excepts
    )


def is_operator(channel: Channel, user: User) -> bool:
    """Channel operator, or a server operator (who may act in any channel)."""
    return "o" in channel.members.get(user.uid, "") or "o" in user.modes


def visible(channel: Channel, user: User) -> bool:
    """Secret channels are seen only by their members."""
    return "s" not in channel.modes or user.uid in channel.members


def handle_join(core: ChatBase, session: Session, msg: Message) -> None:
    user = session.user
    if msg.params[0] == "0":
        for channel in list(user.channels.values()):
            part_channel(core, user, channel, "Left all channels")
        return
    keys = msg.param(1).split(",")
    joined = []
    for i, name in enumerate(msg.params[0].split(",")):
        room = join_channel(core, session, name, keys[i] if i < len(keys) else "")
        if room is not None:
            joined.append(room)
    if joined:
        play_back(core, session, joined)


def join_channel(core: ChatBase, session: Session, name: str, key: str = "") -> Channel | None:
    """Join (creating if needed) a channel; its creator becomes its operator, unless it is
    a registered one: that comes back as it was kept, and its access list says who gets
    @ or + (the founder and its operators, logged in), whoever is first. Returns the
    channel when it was joined now."""
    if not core.valid_channel_name(name):
        core.reply(session, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        return None
    user = session.user
    folded = irc_lower(name)
    if folded in user.channels:
        return None
    if len(user.channels) >= core.settings.channels_per_user:
        core.reply(session, n.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
        return None
    channel = core.state.channel(folded)
    registry = core.channel_registry
    kept = registry.records.get(folded) if registry.records else None
    if kept is not None:
        status = registry.status_of(kept, user.account)
    else:
        status = "o" if channel is None else ""
    checked = restored(kept) if channel is None and kept is not None else channel
    # The founder and operators of a registered channel are let in past its key, limit,
    # +i and bans (as Ergo does): nobody else could let them into their own room.
    if checked is not None and not (kept is not None and status == "o"):
        refusal = _refusal(checked, user, key)
        if refusal is not None:
            core.reply(session, refusal[0], checked.name, refusal[1])
            return None
    now = core.clock()
    if kept is not None and channel is None:
        core.emit(ChannelRestored(now, kept.name, folded, kept))
    shown = name if checked is None else checked.name
    core.emit(Joined(now, user.uid, user.source, shown, folded, status))
    joined = core.state.channel(folded)
    assert joined is not None
    if joined.topic:
        send_topic(core, session, joined)
    send_names(core, session, joined)
    return joined


def _refusal(channel: Channel, user: User, key: str) -> tuple[str, str] | None:
    """Why `user` may not join `channel`, if they may not."""
    invited = user.uid in channel.invited
    if is_banned(channel, user) and not invited:
        return n.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"
    if "i" in channel.modes and not invited and not _invite_exempt(channel, user):
        return n.ERR_INVITEONLYCHAN, "Cannot join channel (+i)"
    if channel.key is not None and key != channel.key:
        return n.ERR_BADCHANNELKEY, "Cannot join channel (+k)"
    if channel.limit is not None and len(channel.members) >= channel.limit:
        return n.ERR_CHANNELISFULL, "Cannot join channel (+l)"
    return None


def _invite_exempt(channel: Channel, user: User) -> bool:
    return any(mask_matches(mask, user.source) for mask in channel.invex)


def handle_part(core: ChatBase, session: Session, msg: Message) -> None:
    reason = msg.param(1)
    user = session.user
    for name in msg.params[0].split(","):
        channel = core.state.channel(name)
        if channel is None:
            core.reply(session, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        elif user.uid not in channel.members:
            core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        else:
            part_channel(core, user, channel, reason)


def part_channel(core: ChatBase, user: User, channel: Channel, reason: str) -> None:
    core.emit(Parted(core.clock(), user.uid, user.source, channel.name, channel.folded, reason))


def handle_topic(core: ChatBase, session: Session, msg: Message) -> None:
    channel = core.channel_or_reply(session, msg.params[0])
    if channel is None:
        return
    user = session.user
    member = user.uid in channel.members
    if len(msg.params) < 2:
        if not member and "s" in channel.modes:
            core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        elif channel.topic:
            send_topic(core, session, channel)
        else:
            core.reply(session, n.RPL_NOTOPIC, channel.name, "No topic is set")
        return
    if not member:
        core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if "t" in channel.modes and not is_operator(channel, user):
        core.reply(session, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    topic = msg.params[1][: core.settings.topic_length]
    core.emit(TopicSet(core.clock(), user.uid, user.source, channel.name, channel.folded, topic))


def send_topic(core: ChatBase, session: Session, channel: Channel) -> None:
    core.reply(session, n.RPL_TOPIC, channel.name, channel.topic)
    core.reply(
        session,
        n.RPL_TOPICWHOTIME,
        channel.name,
        channel.topic_setter,
        str(int(channel.topic_time)),
    )


def handle_names(core: ChatBase, session: Session, msg: Message) -> None:
    """NAMES #a: its 353s and a 366 naming it. NAMES #a,#b: the 353s of each channel one
    may see, then one 366 naming the whole list (RFC 2812); a channel that doesn't exist or
    is secret adds nothing."""
    wanted = msg.param(0)
    if not wanted:
        core.reply(session, n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    names = wanted.split(",")
    for name in names:
        channel = core.state.channel(name)
        if channel is not None and visible(channel, session.user):
            send_names(core, session, channel, len(names) == 1)
        elif len(names) == 1:
            core.reply(session, n.RPL_ENDOFNAMES, safe_middle(name), "End of /NAMES list")
    if len(names) > 1:
        core.reply(session, n.RPL_ENDOFNAMES, safe_middle(wanted), "End of /NAMES list")


def send_names(core: ChatBase, session: Session, channel: Channel, end: bool = True) -> None:
    """353 lines packed up to the line limit, then 366 (unless `end` is False). Invisible
    (+i) members are shown only to those in the channel."""
    multi = "multi-prefix" in session.caps
    full = "userhost-in-names" in session.caps
    symbol = "@" if "s" in channel.modes else "="
    state = core.state
    outsider = session.user.uid not in channel.members
    entries = []
    for uid in channel.members:
        member = state.user(uid)
        if member is not None and not (outsider and "i" in member.modes):
            shown = member.source if full else member.nick
            entries.append(channel.status_prefix(uid, multi) + shown)
    head = len(core.settings.server_name) + len(session.user.nick) + len(channel.name) + 16
    budget = core.settings.max_line_bytes - head
    batch: list[str] = []
    used = 0
    for entry in entries:
        if batch and used + len(entry) + 1 > budget:
            core.reply(session, n.RPL_NAMREPLY, symbol, channel.name, " ".join(batch))
            batch, used = [], 0
        batch.append(entry)
        used += len(entry) + 1
    if batch:
        core.reply(session, n.RPL_NAMREPLY, symbol, channel.name, " ".join(batch))
    if end:
        core.reply(session, n.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def handle_kick(core: ChatBase, session: Session, msg: Message) -> None:
    channel = core.channel_or_reply(session, msg.params[0])
    if channel is None:
        return
    user = session.user
    if user.uid not in channel.members and "o" not in user.modes:
        core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if not is_operator(channel, user):
        core.reply(session, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    reason = (msg.param(2) or user.nick)[: core.settings.kick_length]
    for nick in msg.params[1].split(","):
        target = core.find_user(nick)
        if target is None or target.uid not in channel.members:
            core.reply(
                session, n.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel"
            )
            continue
        core.emit(
            Kicked(core.clock(), user.uid, user.source, channel.name, channel.folded,
                   target.uid, target.nick, reason)
        )  # fmt: skip


def handle_invite(core: ChatBase, session: Session, msg: Message) -> None:
    """INVITE nick #channel; INVITE alone lists one's pending invitations (336, 337)."""
    if not msg.params:
        for invited in core.state.invitations(session.user.uid):
            core.reply(session, n.RPL_INVITELIST, invited.name)
        core.reply(session, n.RPL_ENDOFINVITELIST, "End of /INVITE list")
        return
    if len(msg.params) < 2:
        core.reply(session, n.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    target = core.find_user(msg.params[0])
    if target is None:
        core.reply(session, n.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        return
    channel = core.channel_or_reply(session, msg.params[1])
    if channel is None:
        return
    user = session.user
    if user.uid not in channel.members:
        core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    if target.uid in channel.members:
        core.reply(
            session, n.ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel"
        )
        return
    if "i" in channel.modes and not is_operator(channel, user):
        core.reply(session, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    core.reply(session, n.RPL_INVITING, target.nick, channel.name)
    core.emit(
        Invited(core.clock(), user.uid, user.source, target.uid, target.nick, channel.name,
                channel.folded)
    )  # fmt: skip


def handle_knock(core: ChatBase, session: Session, msg: Message) -> None:
    """KNOCK #room [:message]: ask the operators of an invite-only room for an invitation
    (710 to them, 711 to the knocker); once per `knock_interval` per user."""
    user = session.user
    channel = core.state.channel(msg.params[0])
    if channel is None or not visible(channel, user):
        core.reply(session, n.ERR_NOSUCHCHANNEL, safe_middle(msg.params[0]), "No such channel")
        return
    name = channel.name
    if user.uid in channel.members:
        core.reply(session, n.ERR_KNOCKONCHAN, name, "You're already on that channel")
    elif "i" not in channel.modes:
        core.reply(session, n.ERR_CHANOPEN, name, "Channel is open; just join it")
    elif is_banned(channel, user):
        core.reply(session, n.ERR_CANNOTSENDTOCHAN, name, "Cannot knock: you are banned")
    else:
        now = core.clock()
        interval = core.settings.knock_interval
        last = core.knocks.get(user.uid)
        if last is not None and now - last < interval:
            core.reply(session, n.ERR_TOOMANYKNOCK, name, "Too many KNOCKs (user); wait a bit")
            return
        for uid, when in list(core.knocks.items()):  # forget knocks that no longer count
            if now - when >= interval:
                del core.knocks[uid]
        core.knocks[user.uid] = now
        core.reply(session, n.RPL_KNOCKDLVR, name, "Your KNOCK has been delivered")
        core.emit(Knocked(now, user.uid, user.source, name, channel.folded, msg.param(1)))
