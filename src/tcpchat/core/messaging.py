"""Talking: PRIVMSG, NOTICE, TAGMSG, AWAY and QUIT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import Message
from . import numerics as n
from .channels import is_banned
from .records import WANTS_CLIENT_TAGS, Channel, Client

if TYPE_CHECKING:
    from .chat import ChatCore


def can_speak(channel: Channel, client: Client) -> bool:
    """+n keeps outsiders out; +m and bans silence all but voiced members and operators."""
    status = channel.members.get(client)
    if status is None:
        modes = channel.modes
        return "n" not in modes and "m" not in modes and not is_banned(channel, client)
    if status:
        return True
    return "m" not in channel.modes and not is_banned(channel, client)


def _client_tags(tags: dict[str, str]) -> dict[str, str] | None:
    """The tags a client may pass on to others: only client-only ('+') ones."""
    return {k: v for k, v in tags.items() if k.startswith("+")} or None


def handle_message(core: ChatCore, client: Client, msg: Message) -> None:
    """PRIVMSG and NOTICE. A NOTICE never draws an error reply, as the RFC requires."""
    command = msg.command
    quiet = command == "NOTICE"
    if not msg.params or not msg.params[0]:
        if not quiet:
            core.reply(client, n.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    if len(msg.params) < 2 or not msg.params[1]:
        if not quiet:
            core.reply(client, n.ERR_NOTEXTTOSEND, "No text to send")
        return
    targets = msg.params[0].split(",")
    if len(targets) > core.settings.targets_per_message:
        if not quiet:
            core.reply(client, n.ERR_TOOMANYTARGETS, msg.params[0], "Too many targets")
        return
    text = msg.params[1]
    client_tags = _client_tags(msg.tags) if msg.tags else None
    for target in targets:
        send_text(core, client, command, target, text, client_tags)


def send_text(
    core: ChatCore,
    client: Client,
    command: str,
    target: str,
    text: str,
    client_tags: dict[str, str] | None = None,
) -> None:
    """One PRIVMSG or NOTICE to one target. `text` is a parsed parameter: no CR, LF or NUL.

    Also the whole handling of a plain one-target PRIVMSG, which ChatCore.receive sends here
    without building a Message: the most common line there is.
    """
    quiet = command == "NOTICE"
    echo = "echo-message" in client.caps
    client.last_spoke = client.last_heard  # set by receive for this very line
    if target[:1] == "#":
        channel = core.find_channel(target)
        if channel is None:
            if not quiet:
                core.reply(client, n.ERR_NOSUCHCHANNEL, target, "No such channel")
        elif not can_speak(channel, client):
            if not quiet:
                core.reply(client, n.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
        else:
            line = f":{client.source} {command} {channel.name} :{text}\r\n".encode()
            core.deliver(channel.members, line, client_tags, None if echo else client)
            core.messages_relayed += 1
        return
    user = core.find_user(target)
    if user is None:
        if not quiet:
            core.reply(client, n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    line = f":{client.source} {command} {user.nick} :{text}\r\n".encode()
    if echo and user is not client:
        core.deliver([user, client], line, client_tags)
    elif user.tag_mask:
        core.deliver([user], line, client_tags)
    else:
        user.write(line)
    core.messages_relayed += 1
    if user.away is not None and not quiet:
        core.reply(client, n.RPL_AWAY, user.nick, user.away)


def handle_tagmsg(core: ChatCore, client: Client, msg: Message) -> None:
    """A message that is only tags (typing notifications); reaches message-tags clients only."""
    if not msg.params or not msg.params[0]:
        core.reply(client, n.ERR_NORECIPIENT, "No recipient given (TAGMSG)")
        return
    client_tags = _client_tags(msg.tags)
    if not client_tags:
        return
    target = msg.params[0].split(",")[0]
    echo = "echo-message" in client.caps
    if target.startswith("#"):
        channel = core.channel_or_reply(client, target)
        if channel is None:
            return
        if not can_speak(channel, client):
            core.reply(client, n.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
            return
        recipients = [m for m in channel.members if m.tag_mask & WANTS_CLIENT_TAGS]
        name = channel.name
    else:
        user = core.find_user(target)
        if user is None:
            core.reply(client, n.ERR_NOSUCHNICK, target, "No such nick/channel")
            return
        recipients = [user] if user.tag_mask & WANTS_CLIENT_TAGS else []
        if echo and user is not client:
            recipients.append(client)
        name = user.nick
    core.relay(
        recipients, client.source, "TAGMSG", [name], client_tags, exclude=None if echo else client
    )


def handle_away(core: ChatCore, client: Client, msg: Message) -> None:
    text = msg.param(0)[: core.settings.away_length]
    if text:
        client.away = text
        core.reply(client, n.RPL_NOWAWAY, "You have been marked as being away")
        params = [text]
    else:
        client.away = None
        core.reply(client, n.RPL_UNAWAY, "You are no longer marked as being away")
        params = []
    watchers = [peer for peer in core.peers_of(client) if "away-notify" in peer.caps]
    core.relay(watchers, client.source, "AWAY", params)


def handle_quit(core: ChatCore, client: Client, msg: Message) -> None:
    reason = msg.param(0)
    core.close(client, f"Quit: {reason}" if reason else "Quit")


HANDLERS = {
    "PRIVMSG": handle_message,
    "NOTICE": handle_message,
    "TAGMSG": handle_tagmsg,
    "AWAY": handle_away,
    "QUIT": handle_quit,
}
