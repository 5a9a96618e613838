"""MODE for channels (b e I k l i m n s t, o v) and for users (i w, and -o)."""

from __future__ import annotations

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..events import ChannelModeChanged, ModeChange, UserModeChanged
from ..isupport import (
    BAN_MODE,
    EXCEPT_MODE,
    FLAG_MODES,
    INVEX_MODE,
    LIST_MODES,
    PARAM_MODES,
    USER_SETTABLE_MODES,
)
from ..model import Channel, Session
from .channels import is_operator, normalize_mask, visible


def handle_mode(core: ChatBase, session: Session, msg: Message) -> None:
    target = msg.params[0]
    if not target.startswith("#"):
        user_mode(core, session, target, msg.params[1:])
        return
    channel = core.state.channel(target)
    if channel is None:
        core.reply(session, n.ERR_NOSUCHCHANNEL, target, "No such channel")
    elif len(msg.params) == 1:
        show_key = session.user.uid in channel.members
        core.reply(session, n.RPL_CHANNELMODEIS, channel.name, *channel.mode_string(show_key))
        core.reply(session, n.RPL_CREATIONTIME, channel.name, str(int(channel.created)))
    else:
        channel_mode(core, session, channel, msg.params[1], msg.params[2:])


def user_mode(core: ChatBase, session: Session, target: str, args: list[str]) -> None:
    user = session.user
    other = core.find_user(target)
    if other is None:
        core.reply(session, n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    if other is not user:
        core.reply(session, n.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    if not args:
        core.reply(session, n.RPL_UMODEIS, "+" + "".join(sorted(user.modes)))
        return
    adding = True
    modes = set(user.modes)
    changes: list[ModeChange] = []
    unknown = False
    for letter in args[0]:
        if letter in "+-":
            adding = letter == "+"
        elif letter in USER_SETTABLE_MODES or (letter == "o" and not adding):
            if adding != (letter in modes):
                (modes.add if adding else modes.discard)(letter)
                changes.append(ModeChange(adding, letter))
        elif letter != "o":
            unknown = True
    if unknown:
        core.reply(session, n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if changes:
        core.emit(UserModeChanged(core.clock(), user.uid, user.source, user.nick, tuple(changes)))


# How each list mode's entries are shown: the entry's numeric, the end's, the end's text.
LIST_REPLIES = {
    BAN_MODE: (n.RPL_BANLIST, n.RPL_ENDOFBANLIST, "End of channel ban list"),
    EXCEPT_MODE: (n.RPL_EXCEPTLIST, n.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    INVEX_MODE: (n.RPL_INVEXLIST, n.RPL_ENDOFINVEXLIST, "End of channel invite exception list"),
}


class _Draft:
    """A channel's modes as a MODE command is changing them, letter by letter, so that each
    letter is checked against the ones before it (`+b-b x x`, a second `+k`)."""

    def __init__(self, channel: Channel) -> None:
        self.flags = set(channel.modes)
        self.statuses = dict(channel.members)
        self.masks = {letter: set(channel.mask_list(letter)) for letter in LIST_MODES}
        self.key = channel.key
        self.limit = channel.limit
        self.changes: list[ModeChange] = []
        self.with_param = 0  # changes with a parameter: at most `modes_per_command`


def channel_mode(
    core: ChatBase, session: Session, channel: Channel, modestring: str, args: list[str]
) -> None:
    """Apply a mode change, or answer list queries (`MODE #room b`, `e`, `I`); one MODE
    line goes to members."""
    user = session.user
    letters = modestring.lstrip("+-")
    if letters and not args and all(letter in LIST_MODES for letter in letters):
        for letter in dict.fromkeys(letters):
            show_list(core, session, channel, letter)
        return
    if not is_operator(channel, user):
        core.reply(session, n.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
        return
    draft = _Draft(channel)
    adding = True
    pending = iter(args)
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
        elif letter in FLAG_MODES:
            if adding != (letter in draft.flags):
                (draft.flags.add if adding else draft.flags.discard)(letter)
                draft.changes.append(ModeChange(adding, letter))
        elif letter not in PARAM_MODES:
            core.reply(session, n.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
        elif draft.with_param >= core.settings.modes_per_command:
            break
        elif letter == "l" and not adding:
            if draft.limit is not None:
                draft.limit = None
                draft.changes.append(ModeChange(False, "l"))
        else:
            arg = next(pending, None)
            if not arg and letter in LIST_MODES:
                show_list(core, session, channel, letter)  # a list mode without a mask
            elif arg:
                change = _param_mode(core, session, channel, draft, letter, adding, arg)
                if change is not None:
                    draft.changes.append(change)
                    draft.with_param += 1
    if draft.changes:
        core.emit(
            ChannelModeChanged(core.clock(), user.uid, user.source, channel.name,
                               channel.folded, tuple(draft.changes))
        )  # fmt: skip


def show_list(core: ChatBase, session: Session, channel: Channel, letter: str) -> None:
    """The entries of one list mode (367/368 for bans, 348/349, 346/347), to anyone who
    may see the channel."""
    user = session.user
    if not visible(channel, user) and "o" not in user.modes:
        core.reply(session, n.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        return
    entry, end, text = LIST_REPLIES[letter]
    for mask, (setter, when) in channel.mask_list(letter).items():
        core.reply(session, entry, channel.name, mask, setter, str(int(when)))
    core.reply(session, end, channel.name, text)


def _param_mode(
    core: ChatBase,
    session: Session,
    channel: Channel,
    draft: _Draft,
    letter: str,
    adding: bool,
    arg: str,
) -> ModeChange | None:
    """One mode that takes a parameter, checked against the draft; None if nothing changes."""
    if letter in "ov":
        member = core.find_user(arg)
        if member is None:
            core.reply(session, n.ERR_NOSUCHNICK, arg, "No such nick/channel")
            return None
        status = draft.statuses.get(member.uid)
        if status is None:
            core.reply(
                session, n.ERR_USERNOTINCHANNEL, arg, channel.name, "They aren't on that channel"
            )
            return None
        if adding == (letter in status):
            return None
        draft.statuses[member.uid] = status + letter if adding else status.replace(letter, "")
        return ModeChange(adding, letter, member.nick, member.uid)
    if letter in LIST_MODES:
        if " " in arg or arg.startswith(":"):
            return None  # could never match a nick!user@host, nor be shown in a reply
        mask = normalize_mask(arg)
        masks = draft.masks[letter]
        if adding:
            # MAXLIST=beI:n: the three lists share one limit.
            entries = sum(len(each) for each in draft.masks.values())
            if mask in masks or entries >= core.settings.max_list_entries:
                return None
            masks.add(mask)
        elif mask in masks:
            masks.discard(mask)
        else:
            return None
        return ModeChange(adding, letter, mask)
    if letter == "k":
        if adding:
            malformed = any(ch in arg for ch in " ,") or arg[0] == ":"
            if malformed or len(arg) > core.settings.key_length:
                core.reply(session, n.ERR_INVALIDKEY, channel.name, "Key is not well-formed")
                return None
            draft.key = arg
            return ModeChange(True, "k", arg)
        if draft.key is None:
            return None
        draft.key = None
        return ModeChange(False, "k", "*")
    # letter == "l", adding
    if not arg.isdigit() or int(arg) <= 0:
        return None
    draft.limit = int(arg)
    return ModeChange(True, "l", arg)
