"""Who someone is, changed while connected: SETNAME (a user's own real name, IRCv3
setname) and CHGHOST (an operator gives someone another user name and host, which
IRCv3 chghost clients see as such and others as a simulated reconnect)."""

from __future__ import annotations

import logging
import re

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..events import HostChanged, RealnameChanged
from ..log_fields import about
from ..model import Session

log = logging.getLogger("tcpchat.core")

# A host an operator may give: letters, digits and . - : / (for cloaks such as
# user/alice), starting with a letter or digit so that it is never a trailing parameter.
_HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:/-]*\Z")


def handle_setname(core: ChatBase, session: Session, msg: Message) -> None:
    """A new real name, told to the user and their peers that negotiated setname (a
    client without it is served silently, as the spec says)."""
    realname = msg.params[0]
    if not realname or len(realname) > core.settings.realname_length:
        core.fail(session, "SETNAME", "INVALID_REALNAME", "Realname is not valid")
        return
    user = session.user
    core.emit(RealnameChanged(core.clock(), user.uid, user.source, realname))


def valid_username(name: str, length: int) -> bool:
    """What USER would keep of a user name: letters, digits and - _ . ~."""
    return 0 < len(name) <= length and all(ch.isalnum() or ch in "-_.~" for ch in name)


def handle_chghost(core: ChatBase, session: Session, msg: Message) -> None:
    """`CHGHOST nick user host`, or `CHGHOST nick host` (InspIRCd's and UnrealIRCd's
    form) keeping the user name; server operators only (the command table checks)."""
    nick = msg.params[0]
    target = core.find_user(nick)
    if target is None:
        core.reply(session, n.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    if len(msg.params) >= 3:
        username, host = msg.params[1], msg.params[2]
    else:
        username, host = target.user, msg.params[1]
    settings = core.settings
    if not valid_username(username, settings.user_length):
        reason = f"A user name is letters, digits and -_.~, at most {settings.user_length}"
        core.fail(session, "CHGHOST", "INVALID_USERNAME", username, reason)
        return
    if len(host) > settings.host_length or _HOST_RE.match(host) is None:
        reason = (
            "A host is letters, digits and .-:/ starting with a letter or digit, "
            f"at most {settings.host_length}"
        )
        core.fail(session, "CHGHOST", "INVALID_HOST", host, reason)
        return
    if (username, host) != (target.user, target.host):
        user = session.user
        log.info("%s changed %s to %s@%s", user.nick, target.source, username, host,
                 extra=about("host_changed", target, by=user.nick, username=username,
                             host=host))  # fmt: skip
        core.emit(HostChanged(core.clock(), target.uid, target.source, username, host))
    core.notice(session, f"{target.nick} is now {target.source}")
