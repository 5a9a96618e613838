"""Server operators: OPER to become one, then KILL and STATS.

Operator passwords are stored only as scrypt hashes (`tcpchat.passwords`). Checking
one takes tens of milliseconds of CPU, so the core hands the check to
`core.run_blocking` (a worker thread, at the edge) and finishes OPER when it returns.
A client has one check under way at most, waits a moment after a failure, and only a
few checks run at once server-wide, so guessing costs the server little.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from ..passwords import PasswordHash, hash_password, parse_hash, verify_password
from ..protocol import Message
from . import numerics as n
from .records import Client

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger(__name__)

OPER_CHECKS_AT_ONCE = 4  # server-wide
OPER_RETRY_DELAY = 2.0  # seconds after a failed attempt before the client may try again


@functools.cache
def _decoy() -> PasswordHash:
    """What an unknown operator name is checked against: a reply takes as long whether
    or not the name exists, so timing tells nothing about which names do."""
    return parse_hash(hash_password("not a password"))


def handle_oper(core: ChatCore, client: Client, msg: Message) -> None:
    if len(msg.params) < 2:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "OPER", "Not enough parameters")
        return
    name, password = msg.params[0], msg.params[1]
    if not core.operators:
        log.warning(
            "failed OPER attempt as %r by %s from %s: no operators are configured",
            name,
            client.nick,
            client.host,
        )
        core.reply(client, n.ERR_NOOPERHOST, "No O-lines for your host")
        return
    if "o" in client.modes:
        core.reply(client, n.RPL_YOUREOPER, "You are already an IRC operator")
        return
    now = core.clock()
    failed_at = core.oper_failures.get(client)
    if (
        client in core.oper_checks
        or len(core.oper_checks) >= OPER_CHECKS_AT_ONCE
        or (failed_at is not None and now - failed_at < OPER_RETRY_DELAY)
    ):
        log.warning(
            "OPER attempt as %r by %s from %s refused: too soon", name, client.nick, client.host
        )
        core.reply(client, n.ERR_PASSWDMISMATCH, "Too many attempts; wait a moment, then try again")
        return
    hashed = core.operators.get(name)
    known = hashed is not None

    def check() -> bool:
        try:
            return verify_password(password, hashed or _decoy()) and known
        except Exception:  # a failure here must not leave the client's OPER pending
            log.exception("checking the OPER password of %r failed", name)
            return False

    core.oper_checks.add(client)
    core.run_blocking(check, lambda ok: _oper_checked(core, client, name, ok))


def _oper_checked(core: ChatCore, client: Client, name: str, ok: bool) -> None:
    core.oper_checks.discard(client)
    if client.gone:
        return
    if not ok:
        now = core.clock()
        for other, when in list(core.oper_failures.items()):  # forget old failures
            if now - when >= OPER_RETRY_DELAY:
                del core.oper_failures[other]
        core.oper_failures[client] = now
        log.warning("failed OPER attempt as %r by %s from %s", name, client.nick, client.host)
        core.reply(client, n.ERR_PASSWDMISMATCH, "Password incorrect")
        return
    core.oper_failures.pop(client, None)
    log.warning("%s (%s) is now server operator %r", client.nick, client.host, name)
    if core.set_user_mode(client, "o", True):
        core.reply(client, n.RPL_YOUREOPER, "You are now an IRC operator")
        core.relay([client], client.source, "MODE", [client.nick, "+o"])


def handle_kill(core: ChatCore, client: Client, msg: Message) -> None:
    if "o" not in client.modes:
        core.reply(client, n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    if not msg.params or not msg.params[0]:
        core.reply(client, n.ERR_NEEDMOREPARAMS, "KILL", "Not enough parameters")
        return
    victim = core.find_user(msg.params[0])
    if victim is None:
        core.reply(client, n.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        return
    if victim.console:
        core.reply(client, n.ERR_CANTKILLSERVER, "You can't kill the server's own console")
        return
    reason = msg.param(1) or "No reason given"
    log.warning("%s killed %s (%s): %s", client.nick, victim.nick, victim.host, reason)
    witnessed = victim is client or client in core.peers_of(victim)
    core.send_line(victim, Message("KILL", [victim.nick, reason], client.source))
    core.close(victim, f"Killed ({client.nick} ({reason}))")
    if not witnessed:
        core.notice(client, f"{victim.nick} was killed: {reason}")


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days} days {hours}:{minutes:02d}:{secs:02d}"


def handle_stats(core: ChatCore, client: Client, msg: Message) -> None:
    """STATS u (uptime) for anyone; STATS alone, a summary, for operators."""
    query = msg.param(0)[:1]
    if query == "u":
        core.reply(client, n.RPL_STATSUPTIME, f"Server Up {_uptime(core.clock() - core.started)}")
    elif "o" not in client.modes:
        core.reply(client, n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    elif not query:
        users = core.users
        lines = [
            f"Users: {users} (most at once: {core.max_registered}), operators: "
            f"{core.user_modes['o']}, connections not registered: {len(core.clients) - users}",
            f"Channels: {len(core.channels)}, messages relayed: {core.messages_relayed}",
            f"Up {_uptime(core.clock() - core.started)}",
        ]
        for line in lines:
            core.reply(client, n.RPL_STATSDEBUG, line)
    core.reply(client, n.RPL_ENDOFSTATS, query or "*", "End of /STATS report")


HANDLERS = {
    "OPER": handle_oper,
    "KILL": handle_kill,
    "STATS": handle_stats,
}
