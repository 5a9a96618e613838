"""MONITOR (IRCv3): a client's list of nicks it hears about as they come and go.

`MONITOR + a,b` adds (and says at once who is online, 730, and who is not, 731),
`MONITOR - a,b` removes, `C` clears, `L` lists (732, 733) and `S` gives every status
again. The list is the session's own, kept by the router beside its other per-node
indexes (`core/monitor.py`), which sends the news as users register, quit or change nick.
"""

from __future__ import annotations

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..model import Session


def handle_monitor(core: ChatBase, session: Session, msg: Message) -> None:
    modifier = msg.params[0]
    monitors = core.router.monitors
    if modifier in ("+", "-"):
        targets = [target for target in msg.param(1).split(",") if target]
        if not targets:
            core.reply(session, n.ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters")
        elif modifier == "+":
            _add(core, session, targets)
        else:
            for target in targets:
                monitors.remove(session, target)
        return
    letter = modifier.upper()
    if letter == "C":
        monitors.forget(session)
    elif letter == "L":
        _listed(core, session, n.RPL_MONLIST, monitors.listed(session))
        core.reply(session, n.RPL_ENDOFMONLIST, "End of MONITOR list")
    elif letter == "S":
        _statuses(core, session, monitors.listed(session))
    else:
        reason = "Unknown MONITOR modifier; use +, -, C, L or S"
        core.fail(session, "MONITOR", "INVALID_PARAMS", modifier, reason)


def _add(core: ChatBase, session: Session, targets: list[str]) -> None:
    """Add what fits under `monitor_limit` (734 names the rest), then say who is online."""
    monitors = core.router.monitors
    limit = core.settings.monitor_limit
    added: list[str] = []
    for index, target in enumerate(targets):
        if not core.valid_nick(target):
            continue  # the spec's targets are nicks; a mask or a room is never one
        if not monitors.has(session, target):
            if monitors.count(session) >= limit:
                core.reply(
                    session,
                    n.ERR_MONLISTFULL,
                    str(limit),
                    ",".join(targets[index:]),
                    "Monitor list is full",
                )
                break
            monitors.add(session, target)
        added.append(target)
    _statuses(core, session, added)


def _statuses(core: ChatBase, session: Session, nicks: list[str]) -> None:
    online: list[str] = []
    offline: list[str] = []
    for nick in nicks:
        user = core.find_user(nick)
        if user is None:
            offline.append(nick)
        else:
            online.append(user.source)
    _listed(core, session, n.RPL_MONONLINE, online)
    _listed(core, session, n.RPL_MONOFFLINE, offline)


def _listed(core: ChatBase, session: Session, numeric: str, items: list[str]) -> None:
    """`items`, comma-separated, in as few replies as fit the line limit."""
    budget = core.settings.max_line_bytes - len(core.settings.server_name)
    budget -= len(session.user.nick) + len(":  000  :\r\n")
    line: list[str] = []
    used = 0
    for item in items:
        if line and used + 1 + len(item) > budget:
            core.reply(session, numeric, ",".join(line))
            line, used = [], 0
        used += len(item) + (1 if line else 0)
        line.append(item)
    if line:
        core.reply(session, numeric, ",".join(line))
