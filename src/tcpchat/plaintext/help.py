"""/help: a list short enough for a 24-row terminal, and `/help COMMAND` for the details.

Shared by the plain-text mode (people on nc and telnet) and the terminal client.
"""

from __future__ import annotations

import textwrap

_WIDTH = 78  # the details fit an 80-column terminal

HELP_TEXT = """\
Type a message and press Enter to say it in your current room. Commands:
  /join #room            join a room; it becomes your current room
  /part [#room]          leave a room (the current one if none is given)
  /switch #room          talk in another room you have joined
  /msg nick text         send a private message
  /me action             act something out, shown as: * you action
  /nick newname          change your nickname; /register password keeps it yours
  /names /list /who /whois /topic /away  rooms, people, topics; being away
  /history /search /forget  earlier messages; find words in them; forget yours
  /notify [nick]         be told when someone comes or goes (/unnotify nick)
  /quit [reason]         leave the chat (typing quit or over does the same)
  //text                 say a message that starts with a slash
Room operators: /kick /ban /unban /op /deop /voice /devoice /invite /key /mode
Server operators: /oper /kill /stats /account; rooms kept for good: /cs
/help COMMAND tells more about one, e.g. /help join"""

# One entry per command: its usage, then what it does, as shown by `/help COMMAND`.
COMMAND_HELP = {
    "join": (
        "/join #room [key]",
        "Join a room (created if it doesn't exist) and make it your current room. The key "
        "is the room's password, if it has one. /join #a,#b joins several.",
    ),
    "part": ("/part [#room] [reason]", "Leave a room, the current one if none is given."),
    "switch": (
        "/switch #room",
        "Talk in another room you have joined. /switch alone lists your rooms.",
    ),
    "msg": ("/msg nick text", "Send a private message: only nick sees it."),
    "me": ("/me action", "Act something out: /me waves is shown as * yournick waves."),
    "nick": ("/nick newname", "Change your nickname."),
    "names": (
        "/names [#room]",
        "Who is in a room (the current one if none is given); @ marks its operators.",
    ),
    "list": ("/list", "The rooms, with how many people are in each and their topics."),
    "topic": (
        "/topic [#room] [text]",
        "Show a room's topic, or set it (only its operators may, when the room has +t).",
    ),
    "who": ("/who #room|nick", "Who is in a room, or who someone is."),
    "whois": ("/whois nick", "Details about someone: address, rooms, idle time."),
    "search": (
        "/search [#room] words",
        "Find past messages with all these words, in the rooms you are in and your own "
        "private conversations (or in one room), the newest 50, each shown with its time "
        "(UTC): [14:02] #room alice says: ... Whole words match, whatever their case.",
    ),
    "forget": (
        "/forget",
        "Delete the messages you sent from the server's history (what /search and the "
        "history of rooms show). Logged in, all your account's messages; otherwise only "
        "those you sent since you connected. /forget asks first; /forget yes does it.",
    ),
    "away": (
        "/away [message]",
        "Mark yourself away; whoever messages you is told. Without a message, back again.",
    ),
    "notify": (
        "/notify [nick], /unnotify nick",
        "Be told when someone comes online or leaves (and when they go away or come back). "
        "/notify alone shows your list and who on it is online; /unnotify nick takes "
        "someone off it. Needs a server that offers MONITOR, as tcpchat does.",
    ),
    "register": (
        "/register password",
        "Make your nickname an account, with this password, and log in to it: from then "
        "on the nick is yours. Anyone else who takes it must log in within a short while "
        "or is renamed. Later, /login logs you in; /logout, /regain and /verify are there "
        "too.",
    ),
    "login": (
        "/login name password",
        "Log in to your account (/login password: the account named after your nick). "
        "Holding its nick, you keep it.",
    ),
    "logout": (
        "/logout",
        "Log out of your account. Keeping its nick, you must log in again soon or be renamed.",
    ),
    "regain": (
        "/regain [nick]",
        "Logged in, take your account's nick back from whoever has it; they get a guest nick.",
    ),
    "verify": (
        "/verify name code",
        "Finish registering when the server asked for approval, with the code an operator "
        "gave you.",
    ),
    "account": (
        "/account info|create|drop|suspend|unsuspend|pending|approve [name ...]",
        "Server operators: look after accounts. /account info name; /account create name "
        "password; /account drop name (and its channels); /account suspend name [reason] "
        "(no one can log in to it; /account unsuspend name lifts it); /account pending "
        "lists the accounts waiting for /verify, with their codes; /account approve name.",
    ),
    "history": (
        "/history [#room|nick] [N]",
        "Show the last N messages (20 if no N is given) of the current room, or of another "
        "room or a private conversation; they are shown dimmed, each with its time. Needs a "
        "server that keeps history for clients (IRCv3 draft/chathistory), as tcpchat does.",
    ),
    "quit": ("/quit [reason]", "Leave the chat. Typing quit or over does the same."),
    "help": ("/help [command]", "The list of commands, or more about one of them."),
    "kick": (
        "/kick [#room] nick [reason]",
        "Room operators: put someone out of the room (the current one if none is given).",
    ),
    "ban": (
        "/ban [#room] [mask]",
        "Room operators: ban a nick, or a nick!user@host mask where * and ? match "
        "anything. Without a mask, list the bans.",
    ),
    "unban": ("/unban [#room] mask", "Room operators: lift a ban."),
    "op": (
        "/op [#room] nick, /deop [#room] nick",
        "Room operators: make someone a room operator (@), or no longer one.",
    ),
    "voice": (
        "/voice [#room] nick, /devoice [#room] nick",
        "Room operators: let someone speak in a moderated (+m) room, or not.",
    ),
    "invite": (
        "/invite nick [#room]",
        "Invite someone: the only way into an invite-only (+i) room, and past a ban.",
    ),
    "key": (
        "/key [#room] [key]",
        "Room operators: set the room's key (the password to join it), or remove it.",
    ),
    "mode": (
        "/mode [#room] [flags [arguments]]",
        "Show the room's modes, or (room operators) change them: +i invite only, "
        "+m moderated, +s secret, +t topic set by operators, +n no messages from "
        "outside, +k key, +l 20 at most 20 people. E.g. /mode +im, /mode -t.",
    ),
    "cs": (
        "/cs REGISTER #room, /cs UNREGISTER #room, /cs INFO #room, "
        "/cs OP|DEOP|VOICE|DEVOICE #room account",
        "Rooms that last. Logged in to an account and an operator of a room, /cs register "
        "#room keeps it for you: its topic, modes, key, bans and access list stay, even "
        "when the server restarts, and nobody takes it over by coming first. /cs op #room "
        "account (or voice) puts someone on its access list: they get @ (or +) when they "
        "join; deop and devoice take them off. /cs info #room says who founded it. "
        "/cs unregister #room lets it go.",
    ),
    "oper": (
        "/oper name password",
        "Become a server operator, with a name and password from the server's config.",
    ),
    "kill": ("/kill nick [reason]", "Server operators: disconnect someone from the server."),
    "stats": (
        "/stats [u]",
        "Server operators: the server's statistics. /stats u, its uptime, is for anyone.",
    ),
}
_SAME_AS = {"deop": "op", "devoice": "voice", "unnotify": "notify", "chanserv": "cs"}


def help_text(topic: str = "") -> str:
    """The list of commands, or the usage and details of `topic` ('join' or '/join')."""
    name = topic.strip().lower().lstrip("/").split(" ")[0]
    if not name:
        return HELP_TEXT
    entry = COMMAND_HELP.get(_SAME_AS.get(name, name))
    if entry is None:
        return f"There is no /{name} command; /help lists them."
    usage, details = entry
    wrapped = textwrap.fill(details, _WIDTH, initial_indent="  ", subsequent_indent="  ")
    return f"{usage}\n{wrapped}"
