"""Talking: PRIVMSG, NOTICE, TAGMSG, AWAY and QUIT."""

from __future__ import annotations

from typing import Final

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase, safe_middle
from ..events import AwayChanged, StatusMessageSent, message_sent
from ..isupport import STATUS_MODES, STATUS_PREFIXES
from ..log_fields import message as log_message
from ..model import Channel, Session, User
from .channels import is_banned


def can_speak(channel: Channel, user: User) -> bool:
    """+n keeps outsiders out; +m and bans silence all but voiced members and operators."""
    status = channel.members.get(user.uid)
    if status is None:
        modes = channel.modes
        return "n" not in modes and "m" not in modes and not is_banned(channel, user)
    if status:
        return True
    return "m" not in channel.modes and not is_banned(channel, user)


def _client_tags(tags: dict[str, str]) -> dict[str, str] | None:
    """The tags a client may pass on to others: only client-only ('+') ones."""
    return {k: v for k, v in tags.items() if k.startswith("+")} or None


def handle_message(core: ChatBase, session: Session, msg: Message) -> None:
    """PRIVMSG and NOTICE. A NOTICE never draws an error reply, as the RFC requires.

    The hot path of every chat line, so the common case (one target, text) goes first."""
    params = msg.params
    if len(params) != 2 or not params[0] or not params[1] or "," in params[0]:
        _unusual_message(core, session, msg)
        return
    session.last_spoke = session.last_heard
    client_tags = _client_tags(msg.tags) if msg.tags else None
    say(core, session, msg.command, params[0], params[1], client_tags)


# Targets the quick lane leaves to the one path: a status message (@#room), a list, a prefix.
_NOT_QUICK: Final = ":" + STATUS_PREFIXES  # Final: compiled, a C static, not a dict lookup


def quick_message(core: ChatBase, session: Session, raw: bytes) -> bool:
    """`PRIVMSG target :text` from a registered user, to a channel they may speak in or
    to someone present and not away: the commonest line there is. It emits the very event
    `handle_message` emits for it, without a Message, the command table or a reply buffer
    (it has no reply). False, having done nothing, for any other line, which then takes
    the one path (`ChatCore.receive`). tests/test_quick_messages.py feeds random lines
    both ways and compares every byte out.

    Private messages are where tcpchat loses to a C server (README, "The floor"): this
    skips about a third of the core's work for each message (bench/core_steps.py)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    colon = text.find(" :", 8)  # two slices, where a partition made four objects
    if colon <= 8 or colon + 2 == len(text):
        return False  # no text, or no target
    target, body = text[8:colon], text[colon + 2 :]
    if (
        target[0] in _NOT_QUICK
        or " " in target
        or "," in target
        or "\0" in text
        or "\r" in text
    ):
        return False
    user = session.user
    if target[0] == "#":
        channel = core.state.channel(target)
        if channel is None or not can_speak(channel, user):
            return False
        shown, key, recipient = channel.name, channel.folded, None
    else:
        other = core.state.user_by_nick(target)
        if other is None or other.away is not None:
            return False
        shown, key, recipient = other.nick, None, other.uid
    core.quick_privmsgs += 1
    session.last_spoke = session.last_heard
    try:
        core.emit_message(
            message_sent((session.last_heard, core.msgid_origin, next(core.serials), "PRIVMSG",
                          user.uid, user.source, shown, key, recipient, body, None,
                          session.echo))
        )  # fmt: skip
        if core.settings.log_messages:
            log_message(session, "PRIVMSG", shown, body)
    except Exception:
        core.failed(session, "PRIVMSG")
    return True


def _unusual_message(core: ChatBase, session: Session, msg: Message) -> None:
    """What is missing, or several targets: checked in the order the RFC lists them."""
    command = msg.command
    quiet = command == "NOTICE"
    params = msg.params
    if not params or not params[0]:
        if not quiet:
            core.reply(session, n.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    if len(params) < 2 or not params[1]:
        if not quiet:
            core.reply(session, n.ERR_NOTEXTTOSEND, "No text to send")
        return
    targets = params[0].split(",")
    if len(targets) > core.settings.targets_per_message:
        if not quiet:
            core.reply(session, n.ERR_TOOMANYTARGETS, params[0], "Too many targets")
        return
    session.last_spoke = session.last_heard
    client_tags = _client_tags(msg.tags) if msg.tags else None
    for target in targets:
        say(core, session, command, target, params[1], client_tags)


Destination = tuple[str, str | None, str | None, str | None]


def destination(core: ChatBase, session: Session, command: str, target: str) -> Destination | None:
    """Where a message to `target` goes, if it may: (name shown, channel key, recipient uid,
    the recipient's away text). Else None, and the sender is told why, but for a NOTICE."""
    quiet = command == "NOTICE"
    if target[0] == "#":
        channel = core.state.channel(target)
        if channel is None:
            if not quiet:
                core.reply(session, n.ERR_NOSUCHCHANNEL, target, "No such channel")
            return None
        if not can_speak(channel, session.user):
            if not quiet:
                core.reply(session, n.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
            return None
        return channel.name, channel.folded, None, None
    other = core.state.user_by_nick(target)
    if other is None:
        if not quiet:
            core.reply(session, n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return None
    return other.nick, None, other.uid, other.away


def say(
    core: ChatBase,
    session: Session,
    command: str,
    target: str,
    text: str,
    client_tags: dict[str, str] | None,
) -> None:
    """One PRIVMSG, NOTICE or TAGMSG (`text` empty) to one target, if it may be sent.
    Its time is when its line arrived (`last_heard`, read for this very line)."""
    if target[0] in STATUS_PREFIXES and core.state.user_by_nick(target) is None:
        _status_message(core, session, command, target, text, client_tags)  # @#room, +#room
        return
    found = destination(core, session, command, target)
    if found is None:
        return
    shown, key, recipient, away = found
    user = session.user
    core.emit(
        message_sent((session.last_heard, core.msgid_origin, core.next_serial(), command,
                      user.uid, user.source, shown, key, recipient, text, client_tags,
                      session.echo))
    )  # fmt: skip
    if core.settings.log_messages and text:  # off by default: what people say is theirs
        log_message(session, command, shown, text)
    if away is not None and command == "PRIVMSG":
        core.reply(session, n.RPL_AWAY, shown, away)


def _status_message(
    core: ChatBase,
    session: Session,
    command: str,
    target: str,
    text: str,
    client_tags: dict[str, str] | None,
) -> None:
    """STATUSMSG: `@#room` reaches the room's operators, `+#room` its voiced members and
    operators. The sender must be allowed to speak in the room."""
    quiet = command == "NOTICE"
    name = target.lstrip(STATUS_PREFIXES)
    prefixes = target[: len(target) - len(name)]
    channel = core.state.channel(name) if name[:1] == "#" else None
    if channel is None:
        if not quiet:
            core.reply(session, n.ERR_NOSUCHCHANNEL, safe_middle(name), "No such channel")
        return
    user = session.user
    if not can_speak(channel, user):
        if not quiet:
            core.reply(session, n.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
        return
    lowest = max(STATUS_PREFIXES.index(prefix) for prefix in prefixes)  # the widest asked
    shown = STATUS_PREFIXES[lowest] + channel.name
    message = message_sent(
        (session.last_heard, core.msgid_origin, core.next_serial(), command, user.uid,
         user.source, shown, channel.folded, None, text, client_tags, session.echo)
    )  # fmt: skip
    core.emit(StatusMessageSent(message.time, STATUS_MODES[: lowest + 1], message))
    if core.settings.log_messages and text:
        log_message(session, command, shown, text)


def handle_tagmsg(core: ChatBase, session: Session, msg: Message) -> None:
    """A message that is only tags (typing notifications); reaches message-tags clients only."""
    if not msg.params or not msg.params[0]:
        core.reply(session, n.ERR_NORECIPIENT, "No recipient given (TAGMSG)")
        return
    client_tags = _client_tags(msg.tags)
    if client_tags:
        say(core, session, "TAGMSG", msg.params[0].split(",")[0], "", client_tags)


def handle_away(core: ChatBase, session: Session, msg: Message) -> None:
    text = msg.param(0)[: core.settings.away_length]
    user = session.user
    if text:
        core.reply(session, n.RPL_NOWAWAY, "You have been marked as being away")
    else:
        core.reply(session, n.RPL_UNAWAY, "You are no longer marked as being away")
    core.emit(AwayChanged(core.clock(), user.uid, user.source, text or None))


def handle_quit(core: ChatBase, session: Session, msg: Message) -> None:
    reason = msg.param(0)
    core.close(session, f"Quit: {reason}" if reason else "Quit")
