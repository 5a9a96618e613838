"""Server operators: OPER to become one, then KILL, STATS and WALLOPS; SQUIT and CONNECT,
which this server refuses because it does not link to others.

Operator passwords are stored only as scrypt hashes (`tcpchat.passwords`). Checking one takes
tens of milliseconds of CPU, so OPER hands the check to `core.later` (a worker thread, at the
edge) and finishes when it returns; meanwhile the client's next lines wait, so its replies
keep the order of its commands. Only a few checks run at once server-wide, and a client waits
a moment after a failure, so guessing costs the server little.
"""

from __future__ import annotations

import functools
import logging

from ...passwords import PasswordHash, hash_password, parse_hash, verify_password
from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..events import Killed, ModeChange, UserModeChanged, Wallops
from ..log_fields import about, about_session
from ..model import Session
from .bans import stats_bans

log = logging.getLogger("tcpchat.core")



@functools.cache
def _decoy() -> PasswordHash:
    """What an unknown operator name is checked against: a reply takes as long whether
    or not the name exists, so timing tells nothing about which names do."""
    return parse_hash(hash_password("not a password"))


def handle_oper(core: ChatBase, session: Session, msg: Message) -> None:
    name, password = msg.params[0], msg.params[1]
    user = session.user
    if not core.operators:
        log.warning(
            "failed OPER attempt as %r by %s from %s: no operators are configured",
            name, user.nick, user.host,
            extra=about_session("oper_failed", session, oper=name, reason="no operators"),
        )  # fmt: skip
        core.reply(session, n.ERR_NOOPERHOST, "No O-lines for your host")
        return
    if "o" in user.modes:
        core.reply(session, n.RPL_YOUREOPER, "You are already an IRC operator")
        return
    if core.password_gate.refuses(session, core.clock()):
        log.warning(
            "OPER attempt as %r by %s from %s refused: too soon", name, user.nick, user.host,
            extra=about_session("oper_failed", session, oper=name, reason="too soon"),
        )  # fmt: skip
        core.reply(
            session, n.ERR_PASSWDMISMATCH, "Too many attempts; wait a moment, then try again"
        )
        return
    hashed = core.operators.get(name)
    known = hashed is not None

    def check() -> bool:
        try:
            return verify_password(password, hashed or _decoy()) and known
        except Exception:  # a failure here must not leave the client's OPER pending
            log.exception("checking the OPER password of %r failed", name)
            return False

    def checked(core: ChatBase, session: Session, ok: bool) -> None:
        _oper_checked(core, session, name, ok)

    core.password_gate.start(session)
    core.off_loop(session, check, checked)


def _oper_checked(core: ChatBase, session: Session, name: str, ok: bool) -> None:
    core.password_gate.finish(session, ok, core.clock())
    user = session.user
    if not ok:
        log.warning("failed OPER attempt as %r by %s from %s", name, user.nick, user.host,
                    extra=about_session("oper_failed", session, oper=name,
                                        reason="wrong name or password"))  # fmt: skip
        core.reply(session, n.ERR_PASSWDMISMATCH, "Password incorrect")
        return
    log.warning("%s (%s) is now server operator %r", user.nick, user.host, name,
                extra=about_session("oper", session, oper=name))  # fmt: skip
    if "o" not in user.modes:
        core.reply(session, n.RPL_YOUREOPER, "You are now an IRC operator")
        change = (ModeChange(True, "o"),)
        core.emit(UserModeChanged(core.clock(), user.uid, user.source, user.nick, change))


def handle_kill(core: ChatBase, session: Session, msg: Message) -> None:
    if not msg.params[0]:
        core.reply(session, n.ERR_NEEDMOREPARAMS, "KILL", "Not enough parameters")
        return
    user = session.user
    victim = core.find_user(msg.params[0])
    if victim is None:
        core.reply(session, n.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        return
    if victim.console:
        core.reply(session, n.ERR_CANTKILLSERVER, "You can't kill the server's own console")
        return
    reason = msg.param(1) or "No reason given"
    victim_session = core.session_of(victim)
    log.warning(
        "%s killed %s (%s): %s", user.nick, victim.nick, victim.host, reason,
        extra=about("kill", victim, victim_session.addr if victim_session else None,
                    by=user.nick, by_conn=user.uid, reason=reason),
    )  # fmt: skip
    witnessed = victim is user or core.shares_channel(user, victim)
    core.emit(Killed(core.clock(), user.uid, user.source, victim.uid, victim.nick, reason))
    if victim_session is not None:
        core.close(victim_session, f"Killed ({user.nick} ({reason}))")
    if not witnessed:
        core.notice(session, f"{victim.nick} was killed: {reason}")


def uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days} days {hours}:{minutes:02d}:{secs:02d}"


def handle_stats(core: ChatBase, session: Session, msg: Message) -> None:
    """STATS u (uptime) for anyone; for operators, STATS alone (a summary), K and D (the
    K-lines and D-lines, handlers/bans.py)."""
    query = msg.param(0)[:1]
    if query == "u":
        core.reply(session, n.RPL_STATSUPTIME, f"Server Up {uptime(core.clock() - core.started)}")
    elif "o" not in session.user.modes:
        core.reply(session, n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    elif query in ("K", "k", "D", "d"):
        stats_bans(core, session, query)
    elif not query:
        state = core.state
        users = state.users
        lines = [
            f"Users: {users} (most at once: {state.max_users}), operators: "
            f"{state.user_modes['o']}, connections not registered: {len(core.sessions) - users}",
            f"Channels: {state.channel_count}, messages relayed: {core.messages_relayed}",
            _history_line(core),
            f"Up {uptime(core.clock() - core.started)}",
        ]
        for line in lines:
            core.reply(session, n.RPL_STATSDEBUG, line)
    core.reply(session, n.RPL_ENDOFSTATS, query or "*", "End of /STATS report")


def _history_line(core: ChatBase) -> str:
    history = core.history
    if not history.enabled:
        return "History: off"
    waiting = history.appended - history.committed
    return (
        f"History: {history.committed - history.failed} lines stored, {waiting} being written, "
        f"{history.failed} lost to failed writes"
    )


def handle_wallops(core: ChatBase, session: Session, msg: Message) -> None:
    """WALLOPS :text, from a server operator to every user with mode +w (and the sender)."""
    text = msg.params[0]
    if not text:
        core.reply(session, n.ERR_NEEDMOREPARAMS, "WALLOPS", "Not enough parameters")
        return
    user = session.user
    core.emit(Wallops(core.clock(), user.uid, user.source, text))


def handle_link(core: ChatBase, session: Session, msg: Message) -> None:
    """SQUIT and CONNECT (server operators only): this server links to no other."""
    core.notice(
        session,
        f"{msg.command}: {core.settings.server_name} does not link to other servers; "
        "there is nothing to connect or disconnect",
    )
