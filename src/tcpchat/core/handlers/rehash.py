"""REHASH: a server operator reloads the configuration file (as SIGHUP and the console's
/rehash do). The edge does the reading (edge/reload.py, `core.rehash`); this answers as
Ergo and InspIRCd do: 382 RPL_REHASHING with the file's name, then one NOTICE per change
or per setting that needs a restart; a file with an error is 400 ERR_UNKNOWNERROR with the
error, and nothing changed."""

from __future__ import annotations

import logging

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..model import Session

log = logging.getLogger("tcpchat.core")


def handle_rehash(core: ChatBase, session: Session, msg: Message) -> None:
    user = session.user
    if core.rehash is None:
        core.reply(session, n.ERR_UNKNOWNERROR, "REHASH", "This server cannot reload its settings")
        return
    log.warning("%s (%s) reloads the configuration", user.nick, user.host)
    outcome = core.rehash()
    if not outcome.ok:
        for line in outcome.lines:
            core.reply(session, n.ERR_UNKNOWNERROR, "REHASH", line)
        return
    core.reply(session, n.RPL_REHASHING, outcome.source, "Rehashing")
    for line in outcome.lines:
        core.notice(session, line)
