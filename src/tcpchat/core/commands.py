"""The command table: every IRC command the core understands, in one place.

Each entry says which handler runs it, how many parameters it needs at least (fewer get
`461 ERR_NEEDMOREPARAMS` before the handler runs), whether it may come before registration
(else `451`), and whether only server operators may use it (else `481`). A handler only
checks what is particular to its command. Commands whose missing parameters have a numeric of
their own (PRIVMSG's 411 and 412, NICK's 431, PING's 409) check those themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .handlers import (
    account_admin,
    accounts,
    bans,
    batches,
    cap,
    certfp,
    channels,
    chanserv,
    chathistory,
    forget,
    help,
    identity,
    listing,
    messaging,
    modes,
    monitor,
    operators,
    ownership,
    queries,
    registration,
    rehash,
    sasl,
    search,
    serverinfo,
)

if TYPE_CHECKING:
    from ..protocol import Message
    from .base import ChatBase
    from .model import Session

Handler = Callable[["ChatBase", "Session", "Message"], None]


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    min_params: int = 0
    before_registration: bool = False
    oper_only: bool = False


COMMANDS: dict[str, Command] = {
    # registration
    "CAP": Command(cap.handle_cap, 1, before_registration=True),
    "PASS": Command(registration.handle_pass, 1, before_registration=True),
    "NICK": Command(registration.handle_nick, 0, before_registration=True),
    "USER": Command(registration.handle_user, 4, before_registration=True),
    "PING": Command(queries.handle_ping, 0, before_registration=True),
    "PONG": Command(queries.handle_pong, 0, before_registration=True),
    "QUIT": Command(messaging.handle_quit, 0, before_registration=True),
    "AUTHENTICATE": Command(sasl.handle_authenticate, 1, before_registration=True),
    # channels
    "JOIN": Command(channels.handle_join, 1),
    "PART": Command(channels.handle_part, 1),
    "TOPIC": Command(channels.handle_topic, 1),
    "NAMES": Command(channels.handle_names),
    "LIST": Command(listing.handle_list),
    "KICK": Command(channels.handle_kick, 2),
    "INVITE": Command(channels.handle_invite),
    "KNOCK": Command(channels.handle_knock, 1),
    "MODE": Command(modes.handle_mode, 1),
    "CS": Command(chanserv.handle_cs),
    "CHANSERV": Command(chanserv.handle_cs),
    # talking
    "PRIVMSG": Command(messaging.handle_message),
    "NOTICE": Command(messaging.handle_message),
    "TAGMSG": Command(messaging.handle_tagmsg),
    "BATCH": Command(batches.handle_batch, 1),
    "AWAY": Command(messaging.handle_away),
    "SETNAME": Command(identity.handle_setname, 1),
    # history (draft/chathistory): its own FAIL for missing parameters
    "CHATHISTORY": Command(chathistory.handle_chathistory),
    # history
    "SEARCH": Command(search.handle_search),
    "HISTORY": Command(forget.handle_history),
    # questions
    "WHO": Command(queries.handle_who),
    "WHOIS": Command(queries.handle_whois),
    "WHOWAS": Command(queries.handle_whowas, 1),
    "ISON": Command(queries.handle_ison, 1),
    "USERHOST": Command(queries.handle_userhost, 1),
    "MOTD": Command(queries.handle_motd),
    "LUSERS": Command(queries.handle_lusers),
    "VERSION": Command(queries.handle_version),
    "TIME": Command(queries.handle_time),
    "MONITOR": Command(monitor.handle_monitor, 1),
    "HELP": Command(help.handle_help),
    "HELPOP": Command(help.handle_help),
    "INFO": Command(serverinfo.handle_info),
    "LINKS": Command(serverinfo.handle_links),
    "USERS": Command(serverinfo.handle_users),
    # accounts
    "CERTFP": Command(certfp.handle_certfp, 1),
    # operators
    "OPER": Command(operators.handle_oper, 2),
    "KILL": Command(operators.handle_kill, 1, oper_only=True),
    "STATS": Command(operators.handle_stats),
    "CHGHOST": Command(identity.handle_chghost, 2, oper_only=True),
    "WALLOPS": Command(operators.handle_wallops, 1, oper_only=True),
    "REHASH": Command(rehash.handle_rehash, oper_only=True),
    "SQUIT": Command(operators.handle_link, 1, oper_only=True),
    "CONNECT": Command(operators.handle_link, 1, oper_only=True),
    "KLINE": Command(bans.handle_kline, 1, oper_only=True),
    "DLINE": Command(bans.handle_dline, 1, oper_only=True),
    "UNKLINE": Command(bans.handle_unkline, 1, oper_only=True),
    "UNDLINE": Command(bans.handle_undline, 1, oper_only=True),
    # accounts
    "REGISTER": Command(accounts.handle_register, 3, before_registration=True),
    "VERIFY": Command(accounts.handle_verify, 2, before_registration=True),
    "REGAIN": Command(ownership.handle_regain),
    "LOGOUT": Command(ownership.handle_logout),
    "ACCOUNT": Command(account_admin.handle_account, 1, oper_only=True),
}
