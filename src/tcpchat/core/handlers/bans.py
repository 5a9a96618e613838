"""KLINE, DLINE, UNKLINE, UNDLINE and STATS K/D: server operators ban people from the server.

    KLINE [duration] <user@host | nick> [:reason]    DLINE [duration] <address | network> [:reason]
    UNKLINE <user@host>                             UNDLINE <address | network>
    STATS K   (216 RPL_STATSKLINE rows)             STATS D   (225 RPL_STATSDLINE rows)

A duration is minutes (`30`, solanum's convention) or units (`30s`, `10m`, `2h`, `1d`, `1w`,
`1h30m`); without one, or 0, the ban lasts until lifted. KLINE with a nick bans `*@` that
person's host, as solanum does; the user part is not kept, since it is whatever the client
said (there are no ident lookups). Rows show `K`/`D` for a permanent ban and `k`/`d` for a
timed one, whose reason ends with when it ends.

A new ban is stored first (it outlasts a restart; in a cluster the store's change reaches
every node, which loads it too: `reload`). Then it is in force: whoever matches it here is
disconnected at once (465 with the reason, then ERROR; the others see `QUIT :K-lined`), a
K-line refuses anyone who registers as a match (465, ERROR), and the edge refuses a D-lined
address before it says a word. The operator gets a NOTICE with the expiry. A ban past its
end stops applying at once, and `expire` deletes it from the store.
"""

from __future__ import annotations

import logging
from typing import Any

from ...protocol import Message
from ...store.bans import Ban, delete_ban, delete_expired, save_ban
from .. import numerics as n
from ..bans import (
    ban_text,
    describe_duration,
    dline_mask,
    kline_mask,
    looks_like_duration,
    parse_duration,
    stamp,
)
from ..base import ChatBase
from ..model import Session

__all__ = [
    "expire",
    "handle_dline",
    "handle_kline",
    "handle_undline",
    "handle_unkline",
    "refused_at_registration",
    "reload",
    "stats_bans",
]

log = logging.getLogger("tcpchat.core")

NAMES = {"K": "K-line", "D": "D-line"}
QUITS = {"K": "K-lined", "D": "D-lined"}


def handle_kline(core: ChatBase, session: Session, msg: Message) -> None:
    _add(core, session, msg, "K")


def handle_dline(core: ChatBase, session: Session, msg: Message) -> None:
    _add(core, session, msg, "D")


def handle_unkline(core: ChatBase, session: Session, msg: Message) -> None:
    _remove(core, session, msg, "K")


def handle_undline(core: ChatBase, session: Session, msg: Message) -> None:
    _remove(core, session, msg, "D")


def _add(core: ChatBase, session: Session, msg: Message, kind: str) -> None:
    params = list(msg.params)
    seconds = 0
    if len(params) > 1 and looks_like_duration(params[0]):
        try:
            seconds = parse_duration(params.pop(0))
        except ValueError as exc:
            core.notice(session, f"{msg.command}: {exc}")
            return
    mask = _mask(core, session, msg.command, kind, params[0])
    if mask is None:
        return
    reason = (params[1] if len(params) > 1 else "").strip() or "No reason given"
    now = core.clock()
    ban = Ban(kind, mask, reason[: core.settings.kick_length], session.user.nick, now,
              now + seconds if seconds else None)  # fmt: skip

    def stored(core: ChatBase, session: Session, ok: Any) -> None:
        _added(core, session, ban, ok)

    core.later(session, lambda done: core.accounts.update(lambda c: save_ban(c, ban), done),
               stored)  # fmt: skip


def _mask(core: ChatBase, session: Session, command: str, kind: str, text: str) -> str | None:
    """The mask a KLINE or DLINE names, or None when the operator was told what is wrong."""
    try:
        if kind == "D":
            return dline_mask(text)
        if "@" in text:
            return kline_mask(text)
    except ValueError as exc:
        core.notice(session, f"{command}: {exc}")
        return None
    target = core.find_user(text)  # a nick: their host, whatever user name they gave
    if target is None or target.console:
        core.reply(session, n.ERR_NOSUCHNICK, text,
                   "No such nick; a K-line takes a nick or a user@host mask")  # fmt: skip
        return None
    return kline_mask(f"*@{target.host}")


def _added(core: ChatBase, session: Session, ban: Ban, ok: Any) -> None:
    name = NAMES[ban.kind]
    if not ok:
        core.notice(session, f"The {name} for {ban.mask} could not be stored, so it is not in "
                             "force; the server log says why")  # fmt: skip
        return
    replaced = core.bans.add(ban)
    now = core.clock()
    until = "until lifted" if ban.expires is None else (
        f"for {describe_duration(ban.expires - now)}, until {stamp(ban.expires)}")  # fmt: skip
    log.warning("%s set a %s on %s %s: %s", session.user.nick, name, ban.mask, until, ban.reason)
    count = enforce(core, ban)
    verb = "Updated" if replaced is not None else "Added"
    gone = f"; {count} disconnected" if count else ""
    if not session.gone:
        core.notice(session, f"{verb} {name} on {ban.mask} {until}: {ban.reason}{gone}")


def _remove(core: ChatBase, session: Session, msg: Message, kind: str) -> None:
    name = NAMES[kind]
    try:
        mask = dline_mask(msg.params[0]) if kind == "D" else kline_mask(msg.params[0])
    except ValueError as exc:
        core.notice(session, f"{msg.command}: {exc}")
        return
    if core.bans.get(kind, mask) is None:
        core.notice(session, f"There is no {name} on {mask}; STATS {kind} lists them")
        return

    def removed(core: ChatBase, session: Session, ok: Any) -> None:
        if ok is None:
            core.notice(session, f"The {name} on {mask} could not be removed from the store; "
                                 "the server log says why")  # fmt: skip
            return
        core.bans.remove(kind, mask)
        log.warning("%s lifted the %s on %s", session.user.nick, name, mask)
        core.notice(session, f"Removed the {name} on {mask}")

    core.later(session, lambda done: core.accounts.update(
        lambda c: delete_ban(c, kind, mask), done), removed)  # fmt: skip


# ---------------------------------------------------------------- in force


def _covered(core: ChatBase, ban: Ban, session: Session) -> bool:
    """Whether `ban` covers this connection (a K-line: once it has registered)."""
    user = session.user
    if session.console or session.gone or (ban.kind == "K" and not user.registered):
        return False
    return core.bans.covers(ban, user.user, user.host)


def enforce(core: ChatBase, ban: Ban) -> int:
    """Disconnect everyone connected here whom `ban` covers; how many."""
    now = core.clock()
    if not ban.active(now):
        return 0
    hit = [session for session in core.sessions if _covered(core, ban, session)]
    for session in hit:
        _throw_out(core, session, ban, now)
    return len(hit)


def _throw_out(core: ChatBase, session: Session, ban: Ban, now: float) -> None:
    log.warning("disconnecting %s (%s): %s", session.user.nick, session.user.host, QUITS[ban.kind])
    core.reply(session, n.ERR_YOUREBANNEDCREEP, ban_text(ban, now))
    core.close(session, f"{QUITS[ban.kind]}: {ban.reason}", others=QUITS[ban.kind])


def refused_at_registration(core: ChatBase, session: Session) -> bool:
    """A ban covers whoever is registering (a K-line; or a D-line set while the connection
    was still silent, before it was a session): they are told why and disconnected."""
    user = session.user
    now = core.clock()
    ban = core.bans.kline_for(user.user, user.host, now) or core.bans.dline_for(user.host, now)
    if ban is None:
        return False
    log.warning("refused %s!%s@%s: %s", user.nick, user.user, user.host, QUITS[ban.kind])
    core.reply(session, n.ERR_YOUREBANNEDCREEP, ban_text(ban, now))
    core.close(session, f"{QUITS[ban.kind]}: {ban.reason}")
    return True


def reload(core: ChatBase, bans: list[Ban] | None) -> None:
    """Every ban as the store has it now (another cluster node changed them): the new ones
    are enforced here too."""
    if bans is None:
        return
    known = set(core.bans.bans())
    core.bans.load(bans)
    for ban in bans:
        if ban not in known:
            enforce(core, ban)


def expire(core: ChatBase) -> None:
    """Bans past their end are dropped, here and from the store."""
    now = core.clock()
    gone = core.bans.expire(now)
    if gone:
        log.info("expired: %s", ", ".join(f"{NAMES[ban.kind]} on {ban.mask}" for ban in gone))
        core.accounts.update(lambda c: delete_expired(c, now), lambda _: None)


# ---------------------------------------------------------------- STATS


def stats_bans(core: ChatBase, session: Session, letter: str) -> None:
    """STATS K or D (either case): every ban of that kind in force, oldest first."""
    kind = letter.upper()
    now = core.clock()
    for ban in core.bans.listed(kind, now):
        timed = ban.expires is not None
        shown = kind.lower() if timed else kind
        note = f"{ban.reason} (set by {ban.setter} {stamp(ban.set_at)}"
        note += f"; ends {stamp(ban.expires)})" if ban.expires is not None else ")"
        if kind == "K":
            user, _, host = ban.mask.partition("@")
            core.reply(session, n.RPL_STATSKLINE, shown, host, "*", user, note)
        else:
            core.reply(session, n.RPL_STATSDLINE, shown, ban.mask, note)
