"""HELP and HELPOP: the list of commands, and a short text about each (704, 705..., 706;
524 for a subject the server knows nothing about).

The list comes from the command table itself (`core.command_names()`), so it never drifts
from what the server really does. Each command's text is below; a test checks that every
command of the table has one.
"""

from __future__ import annotations

import textwrap

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..model import Session

# command -> (how it is written, what it does)
TOPICS: dict[str, tuple[str, str]] = {
    "ACCOUNT": (
        "ACCOUNT INFO|DROP|APPROVE|UNSUSPEND <name> | ACCOUNT SUSPEND <name> [:<reason>] | "
        "ACCOUNT CREATE <name> <password> | ACCOUNT PENDING",
        "Server operators: show, drop or suspend an account (its users are logged out), "
        "make one, list those waiting for VERIFY with their codes, or approve one.",
    ),
    "AUTHENTICATE": (
        "AUTHENTICATE <mechanism> | AUTHENTICATE <base64> | AUTHENTICATE *",
        "Log in with SASL (after CAP REQ :sasl): PLAIN, SCRAM-SHA-256, or EXTERNAL with a "
        "TLS client certificate (see CERTFP). * gives up.",
    ),
    "AWAY": ("AWAY [:<message>]", "Mark yourself away with a message, or back without one."),
    "BATCH": (
        "BATCH +<ref> draft/multiline <target> | BATCH -<ref>",
        "Send one message of several lines (draft/multiline): open a batch, send its PRIVMSG "
        "or NOTICE lines tagged batch=<ref>, then close it.",
    ),
    "CAP": (
        "CAP LS [302] | CAP REQ :<caps> | CAP LIST | CAP END",
        "Negotiate IRCv3 capabilities; registration waits for CAP END.",
    ),
    "CERTFP": (
        "CERTFP ADD [<fingerprint>] | CERTFP DEL <fingerprint> | CERTFP LIST",
        "Logged in: the TLS client certificates (SHA-256 fingerprints) that log you in with "
        "SASL EXTERNAL. ADD alone adds this connection's.",
    ),
    "CHATHISTORY": (
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <ref> <limit> | CHATHISTORY BETWEEN "
        "<target> <ref> <ref> <limit> | CHATHISTORY TARGETS <timestamp=...> <timestamp=...> "
        "<limit>",
        "What was said in a channel you are in, or in your conversation with a nick "
        "(draft/chathistory). A ref is msgid=<id>, timestamp=YYYY-MM-DDThh:mm:ss.sssZ, or * "
        "(LATEST: the newest). TARGETS: where you have spoken between two times.",
    ),
    "CHGHOST": (
        "CHGHOST <nick> [<user>] <host>",
        "Server operators: give someone another user name and host.",
    ),
    "CHANSERV": ("CHANSERV <subcommand> ...", "The same as CS."),
    "CONNECT": (
        "CONNECT <server> [<port>]",
        "Server operators: link to another server. This server does not link, and says so.",
    ),
    "DLINE": (
        "DLINE [<duration>] <address|network> [:<reason>]",
        "Server operators: ban an address or network (192.0.2.0/24, 2001:db8::/32) from "
        "the server; duration in minutes or as 30s, 2h, 1d, 1h30m; none: until UNDLINE.",
    ),
    "CS": (
        "CS REGISTER|UNREGISTER|INFO <#channel> | CS OP|DEOP|VOICE|DEVOICE <#channel> <account>",
        "Registered channels: a logged-in channel operator registers a channel to their "
        "account; it keeps its topic, modes, key, limit, bans and access list across "
        "restarts, and its founder and the accounts on its access list get @ (or +) when "
        "they join. CS HELP says more.",
    ),
    "HELP": ("HELP [<command>]", "The list of commands, or what one command does."),
    "HISTORY": (
        "HISTORY FORGET",
        "Delete the messages you sent from the history: all your account's when logged in, "
        "and those this connection sent while not logged in (never by nick alone).",
    ),
    "HELPOP": ("HELPOP [<command>]", "The same as HELP."),
    "INFO": ("INFO", "What this server is: its software, version and uptime."),
    "INVITE": (
        "INVITE <nick> <#channel> | INVITE",
        "Invite someone to a channel you are in (operators only under +i); it lets them "
        "past +i and +b once. Without parameters: the invitations you have (336, 337).",
    ),
    "ISON": ("ISON <nick> [<nick>...]", "Which of these nicks are online."),
    "JOIN": (
        "JOIN <#channel>{,<#channel>} [<key>{,<key>}] | JOIN 0",
        "Join channels, creating them if needed (their creator becomes operator); "
        "JOIN 0 leaves every channel.",
    ),
    "KICK": (
        "KICK <#channel> <nick>{,<nick>} [:<reason>]",
        "Channel operators: put someone out of the channel.",
    ),
    "KILL": (
        "KILL <nick> [:<reason>]",
        "Server operators: disconnect someone from the server.",
    ),
    "KLINE": (
        "KLINE [<duration>] <user@host|nick> [:<reason>]",
        "Server operators: ban matching people (* and ? wildcards; a nick bans *@their "
        "host); duration in minutes or as 30s, 2h, 1d, 1h30m; none: until UNKLINE.",
    ),
    "KNOCK": (
        "KNOCK <#channel> [:<message>]",
        "Ask the operators of an invite-only (+i) channel for an invitation; "
        "once per knock_interval (a minute by default).",
    ),
    "LINKS": ("LINKS", "The servers of the network: this one alone."),
    "LIST": (
        "LIST [<#channel>{,<#channel>}] [<filter>{,<filter>}]",
        "The channels with their users and topics. Filters: >n or <n users, C>n or C<n "
        "(created more or less than n minutes ago), T>n or T<n (topic set so long ago), "
        "#mask* and !#mask*.",
    ),
    "LOGOUT": (
        "LOGOUT",
        "Log out of your account. Keeping its nick, you are renamed after nick_grace seconds "
        "unless you log in again.",
    ),
    "LUSERS": ("LUSERS", "How many users, operators and channels there are."),
    "MODE": (
        "MODE <#channel> [<modes> [<args>]] | MODE <nick> [<modes>]",
        "Show or change modes. Channels: +o +v (operator, voice), +b +e +I (bans, ban "
        "exceptions, invite exceptions; the letter alone lists them), +k key, +l limit, "
        "+i +m +n +s +t. Users: +i (invisible), +w (receive WALLOPS), -o.",
    ),
    "MONITOR": (
        "MONITOR + <nicks> | - <nicks> | C | L | S",
        "Be told when the nicks on your list come online or go offline (730/731).",
    ),
    "MOTD": ("MOTD", "The message of the day."),
    "NAMES": (
        "NAMES <#channel>{,<#channel>}",
        "Who is in these channels, with @ for operators and + for voiced members.",
    ),
    "NICK": ("NICK <nick>", "Choose or change your nickname."),
    "NOTICE": (
        "NOTICE <target>{,<target>} :<text>",
        "Like PRIVMSG, but never answered with an error or an automatic reply.",
    ),
    "OPER": ("OPER <name> <password>", "Become a server operator."),
    "PART": ("PART <#channel>{,<#channel>} [:<reason>]", "Leave channels."),
    "PASS": ("PASS <password>", "The server password, sent before NICK and USER."),
    "PING": ("PING <token>", "The server answers PONG with the same token."),
    "PONG": ("PONG <token>", "The answer to the server's PING."),
    "PRIVMSG": (
        "PRIVMSG <target>{,<target>} :<text>",
        "Send a message to a channel or a nick. @#channel reaches only its operators, "
        "+#channel its voiced members and operators.",
    ),
    "QUIT": ("QUIT [:<reason>]", "Leave the server."),
    "REHASH": (
        "REHASH",
        "Server operators: reload the configuration file (as SIGHUP does). What can change "
        "live changes for new connections; what cannot is reported as needing a restart.",
    ),
    "REGAIN": (
        "REGAIN [<nick>]",
        "Logged in to an account, take its nick back from whoever holds it (they get a "
        "guest nick).",
    ),
    "REGISTER": (
        "REGISTER <account|*> <email|*> <password>",
        "Register an account named after your nick (draft/account-registration), and be "
        "logged in to it; its nick is yours from then on. Works before connecting too.",
    ),
    "SEARCH": (
        "SEARCH text=<words>[;in=<#channel|nick>][;from=<nick>][;after=<time>]"
        "[;before=<time>][;limit=<n>]",
        "Find past messages with all these words (draft/search), in the channels you are in "
        "and your own conversations; the newest first, up to 100. Spaces in the words are "
        "fine.",
    ),
    "SQUIT": (
        "SQUIT <server> [:<reason>]",
        "Server operators: unlink a server. This server does not link, and says so.",
    ),
    "SETNAME": ("SETNAME :<real name>", "Change your real name."),
    "STATS": (
        "STATS [u|K|D]",
        "STATS u: the uptime, for anyone. For server operators, STATS: users, channels and "
        "messages relayed; STATS K and STATS D: the K-lines and D-lines.",
    ),
    "TAGMSG": (
        "TAGMSG <target>",
        "A message made only of client tags (typing notifications), for message-tags clients.",
    ),
    "TIME": ("TIME", "The server's time."),
    "TOPIC": (
        "TOPIC <#channel> [:<topic>]",
        "Show the channel's topic, or set it (operators only under +t); an empty one clears it.",
    ),
    "USER": (
        "USER <username> 0 * :<realname>",
        "Register, with NICK; the realname may have spaces but not be empty.",
    ),
    "UNDLINE": ("UNDLINE <address|network>", "Server operators: lift a D-line."),
    "UNKLINE": ("UNKLINE <user@host>", "Server operators: lift a K-line."),
    "USERHOST": ("USERHOST <nick> [<nick>...]", "The user@host of up to five nicks."),
    "USERS": ("USERS", "Disabled here (446): use WHO, or LUSERS for the numbers."),
    "VERIFY": (
        "VERIFY <account> <code>",
        "Finish a registration that waits for approval, with the code an operator gave you.",
    ),
    "VERSION": ("VERSION", "The server's version, and what it supports (005)."),
    "WALLOPS": (
        "WALLOPS :<text>",
        "Server operators: a message to everyone with user mode +w (MODE <nick> +w).",
    ),
    "WHO": (
        "WHO <#channel|nick|mask> [%<fields>[,<token>]]",
        "Who is in a channel, or who matches. With %fields (WHOX, any of tcuihsnfdlaor) the "
        "answer is 354 lines with just those fields.",
    ),
    "WHOIS": ("WHOIS <nick>", "Who someone is: name, channels, server, idle time."),
    "WHOWAS": (
        "WHOWAS <nick> [<count>]",
        "Who had a nick that is no longer in use, most recent first.",
    ),
}

WIDTH = 100  # characters per line of help text


def _subject(wanted: str) -> str:
    """The subject as the replies name it: as asked, or `*` when it can't be a parameter."""
    if not wanted or " " in wanted or wanted.startswith(":"):
        return "*"
    return wanted


def handle_help(core: ChatBase, session: Session, msg: Message) -> None:
    wanted = msg.param(0)
    if not wanted:
        names = " ".join(core.command_names())
        lines = ["", "HELP <command> tells more about one. The commands:"]
        lines += textwrap.wrap(names, WIDTH)
        _send(core, session, "*", "** Help System **", lines)
        return
    command = wanted.upper()
    if command not in core.command_names():
        subject = _subject(wanted)
        core.reply(session, n.ERR_HELPNOTFOUND, subject, "No help available on this topic")
        return
    syntax, text = TOPICS.get(command, (command, "No description yet."))
    lines = ["", syntax, *textwrap.wrap(text, WIDTH)]
    _send(core, session, _subject(wanted), f"** {command} **", lines)


def _send(core: ChatBase, session: Session, subject: str, title: str, lines: list[str]) -> None:
    core.reply(session, n.RPL_HELPSTART, subject, title)
    for line in lines:
        core.reply(session, n.RPL_HELPTXT, subject, line)
    core.reply(session, n.RPL_ENDOFHELP, subject, "End of /HELP")
