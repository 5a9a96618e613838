"""Plain-text mode: lets someone on `nc` or `telnet` chat on the IRC port.

The IRC core only speaks IRC. `PlainSession` sits between the person and the
core, translating typed lines into IRC commands and IRC replies into sentences,
so the core needs no special case for plain clients. Like the rest of the core
it does no I/O: the edge hands it text and bytes and writes back what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from .protocol import Message, irc_lower, parse

__all__ = [
    "CONNECTED_TEXT",
    "HELP_TEXT",
    "MESSAGE_CHUNK_BYTES",
    "PlainSession",
    "displayable",
    "sane_nick",
    "strip_telnet",
]

# A relayed PRIVMSG gains ":nick!user@host PRIVMSG #channel :" in front, and the
# whole line must fit in 512 bytes, so longer text is sent as several messages.
MESSAGE_CHUNK_BYTES = 350

NOT_IN_A_ROOM = "You are not in any room; /join #room first."
NICK_PROMPT = "What's your nickname? "
CONNECTED_TEXT = "Connected to the server. Type 'quit' to end the chat."
STILL_CONNECTING = "Still connecting to the server; try again in a moment."

HELP_TEXT = """\
Type a message and press Enter to say it in your current room. Commands:
  /join #room [key]      join a room; it becomes your current room
  /part [#room] [reason] leave a room (the current one if none is given)
  /switch #room          talk in another room you have joined
  /msg nick text         send a private message
  /me action             act something out, shown as: * you action
  /nick newname          change your nickname
  /names [#room]         who is in a room
  /list                  list the rooms
  /topic [#room] [text]  show a room's topic, or set it
  /who #room|nick        who is in a room, or who someone is
  /whois nick            details about someone
  /away [message]        mark yourself away; without a message, back again
  /quit [reason]         leave the chat (typing quit or over does the same)
  /help                  this list
  //text                 say a message that starts with a slash
Room operators (@), in the current room or a #room given first:
  /kick nick [reason]    put someone out of the room
  /ban [mask]            ban a nick or nick!user@host mask (* and ? match anything);
                         without a mask, list the bans
  /unban mask            lift a ban
  /op nick, /deop nick   make someone a room operator, or no longer one
  /voice nick, /devoice nick  let someone speak in a moderated (+m) room, or not
  /invite nick [#room]   invite someone (needed to join an invite-only (+i) room)
  /key [key]             set the room's key (password), or remove it
  /mode [flags [args]]   show or change the room's modes, e.g. /mode +im, /mode +l 20
Server operators:
  /oper name password    become a server operator
  /kill nick [reason]    disconnect someone from the server
  /stats                 the server's statistics (/stats u: uptime, for anyone)"""

# mIRC-style colours and formatting, then anything a terminal could act on.
_FORMATTING = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKERS = str.maketrans("", "", "\r\n\0")
_STATUS_PREFIXES = "~&@%+"

# Numerics that only matter to programs (registration burst, counts, ends of lists).
_SILENT_NUMERICS = frozenset(
    {"002", "003", "004", "042", "221", "250", "251", "252", "253", "254", "255"}
    | {str(code) for code in range(256, 267)}
    | {"219", "318", "321", "329", "333", "369", "375", "376", "396", "422"}
)
# WHOIS lines whose text reads well after the nick: "alice is an IRC operator".
_WHOIS_SENTENCES = frozenset({"276", "307", "313", "320", "335", "338", "378", "379", "671"})
_NICK_REJECTED = frozenset({"431", "432", "433", "436", "437"})

# Client mode: capabilities we ask for when offered (NAMES then shows every status).
_WANTED_CAPS = ("multi-prefix",)
# Before the welcome, replies to a CAP the server doesn't know are no news to a person.
_SILENT_BEFORE_WELCOME = frozenset({"020", "421", "451"})
# RFC 1459's NICKLEN, which every server allows; ISUPPORT only comes after the welcome.
_SAFE_NICK_LENGTH = 9
_MAX_NICK_TRIES = 30
_NICK_CHARS = re.compile(r"[^A-Za-z0-9\[\]\\`_^{|}-]")


# Telnet commands: IAC IAC (a literal 0xFF), option negotiation (IAC WILL/WONT/DO/DONT
# opt), subnegotiation (IAC SB ... IAC SE) and the two-byte commands.
_TELNET = re.compile(rb"\xff(\xff|[\xfb-\xfe][\s\S]?|\xfa[\s\S]*?(?:\xff\xf0|\Z)|[\xf0-\xf9])")


def strip_telnet(line: bytes) -> bytes:
    """Remove telnet negotiation from what a person typed; `telnet` may send it unasked."""
    if b"\xff" not in line:
        return line
    return _TELNET.sub(lambda m: b"\xff" if m.group(1) == b"\xff" else b"", line)


def _clean_input(text: str) -> str:
    """Drop CR, LF and NUL so nothing typed can end an IRC line early."""
    return text.translate(_LINE_BREAKERS)


def displayable(text: str) -> str:
    """Text safe to put on a terminal: no colour codes, no escape sequences."""
    return _CONTROLS.sub("", _FORMATTING.sub("", text))


def _is_middle(param: str) -> bool:
    """Whether `param` can be a non-final IRC parameter (or a bare final one)."""
    return bool(param) and not param.startswith(":") and not any(c in param for c in " \r\n\0")


def _nick_of(source: str | None) -> str:
    """The nick in `nick!user@host` (or a server name, which has no `!`)."""
    if not source:
        return ""
    return source.partition("!")[0].partition("@")[0]


def sane_nick(name: str, limit: int = 30) -> str:
    """A nick every IRC server accepts, made from `name` (a login name, a rejected nick)."""
    nick = _NICK_CHARS.sub("", name.replace(".", "_").replace(" ", "_"))
    if not nick or nick[0].isdigit() or nick[0] == "-":
        nick = "_" + nick if nick else "guest"
    return nick[:limit]


def _nick_candidates(base: str, limit: int) -> Iterator[str]:
    """alice, alice_, alice__, alice1, alice2, ...: each cut to `limit`, suffix kept."""
    for suffix in ("", "_", "__", *(str(n) for n in range(1, _MAX_NICK_TRIES))):
        yield base[: limit - len(suffix)] + suffix


def _chunks(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` UTF-8 bytes, at spaces when possible."""
    pieces: list[str] = []
    while len(text.encode("utf-8")) > limit:
        cut = max(1, len(text.encode("utf-8")[:limit].decode("utf-8", "ignore")))
        space = text.rfind(" ", 0, cut + 1)
        if space > cut // 2:
            pieces.append(text[:space])
            text = text[space + 1 :]
        else:
            pieces.append(text[:cut])
            text = text[cut:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def _duration(seconds: int) -> str:
    """12345 -> '3h 25m 45s': idle times people can read at a glance."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def _reason(reason: str) -> str:
    """' (reason)' to end a sentence with, or nothing."""
    return f" ({reason})" if reason else ""


@dataclass(frozen=True, slots=True)
class _Nick:
    """A nick inside a sentence: shown through the session's `style_nick`, if any."""

    name: str


@dataclass(slots=True)
class _ClientMode:
    """What a terminal client adds: a nick chosen up front, rooms to (re)join, CAP."""

    wanted_nick: str
    trying: str
    channels: list[str]
    prefer_current: str | None
    welcome_text: str
    tried: set[str] = field(default_factory=set)
    nick_limit: int = 30
    nick_base: str = ""
    nick_problem: str = ""  # "taken" or "not allowed", told once we are welcomed
    refusals: int = 0  # 431/432 replies: the server found our nick malformed
    caps_offered: set[str] = field(default_factory=set)
    cap_done: bool = False
    autojoin_pending: set[str] = field(default_factory=set)
    quitting: bool = False


class PlainSession:
    """One plain-text person's side of the conversation with the IRC core.

    Feed what the person types to `from_person` and what the core writes to
    `from_server`; both return IRC lines for the core. Text for the person
    collects until `take_text` (or `take_lines`).

    The terminal client reuses it in client mode (`start`): it registers with a
    nick given up front, negotiates CAP, picks another nick when one is taken,
    and joins its rooms, talking to any IRC server instead of our core alone.
    `style_nick` decorates every nick shown (colour, for the client).
    """

    def __init__(
        self,
        default_channel: str = "#lobby",
        server_name: str = "tcpchat",
        *,
        nick_length: int = 30,
        style_nick: Callable[[str], str] | None = None,
    ) -> None:
        self._default_channel = default_channel
        self._server_name = server_name
        self._nick_length = nick_length
        self._style_nick = style_nick
        self._client: _ClientMode | None = None
        self._chantypes = "#"
        self._status_prefixes = _STATUS_PREFIXES
        self._nick: str | None = None
        self._user_sent = False
        # Joined rooms by folded name, in joining order, so the newest is last.
        self._joined: dict[str, str] = {}
        self._current: str | None = None
        self._pending_names: dict[str, list[str]] = {}
        self._pending_rooms: list[tuple[str, str, str]] = []
        self._who_count = 0
        self._ban_count = 0
        self._out: list[str] = []
        self._commands: dict[str, Callable[[str], list[str]]] = {
            "join": self._cmd_join,
            "part": self._cmd_part,
            "switch": self._cmd_switch,
            "msg": self._cmd_msg,
            "me": self._cmd_me,
            "nick": self._cmd_nick,
            "names": self._cmd_names,
            "list": self._cmd_list,
            "topic": self._cmd_topic,
            "who": self._cmd_who,
            "whois": self._cmd_whois,
            "away": self._cmd_away,
            "quit": self._cmd_quit,
            "help": self._cmd_help,
            "kick": self._cmd_kick,
            "ban": self._cmd_ban,
            "unban": self._cmd_unban,
            "op": lambda args: self._cmd_status(args, "+o", "/op nick"),
            "deop": lambda args: self._cmd_status(args, "-o", "/deop nick"),
            "voice": lambda args: self._cmd_status(args, "+v", "/voice nick"),
            "devoice": lambda args: self._cmd_status(args, "-v", "/devoice nick"),
            "invite": self._cmd_invite,
            "key": self._cmd_key,
            "mode": self._cmd_mode,
            "oper": self._cmd_oper,
            "kill": self._cmd_kill,
            "stats": self._cmd_stats,
        }
        self._server_commands: dict[str, Callable[[Message], list[str]]] = {
            "PING": self._on_ping,
            "PRIVMSG": self._on_privmsg,
            "NOTICE": self._on_notice,
            "JOIN": self._on_join,
            "PART": self._on_part,
            "KICK": self._on_kick,
            "QUIT": self._on_quit,
            "NICK": self._on_nick,
            "TOPIC": self._on_topic,
            "MODE": self._on_mode,
            "INVITE": self._on_invite,
            "ERROR": self._on_error,
            "CAP": self._on_cap,
            "FAIL": self._on_standard_reply,
            "WARN": self._on_standard_reply,
        }
        self._numerics: dict[str, Callable[[Message], list[str]]] = {
            "001": self._on_welcome,
            "005": self._on_isupport,
            "301": self._on_target_away,
            "305": lambda _: self._say("You are no longer away."),
            "306": lambda _: self._say("You are now marked away."),
            "311": self._on_whois_user,
            "312": self._on_whois_server,
            "315": self._on_end_of_who,
            "317": self._on_whois_idle,
            "319": self._on_whois_channels,
            "322": self._on_list_entry,
            "323": self._on_list_end,
            "324": self._on_channel_mode,
            "330": self._on_whois_account,
            "331": lambda m: self._say(f"{m.param(1)} has no topic."),
            "332": lambda m: self._say(f"Topic of {m.param(1)}: {m.param(2)}"),
            "341": lambda m: self._tell("You invited ", _Nick(m.param(1)), f" to {m.param(2)}."),
            "352": self._on_who_entry,
            "353": self._on_names_entry,
            "366": self._on_names_end,
            "367": self._on_ban_entry,
            "368": self._on_ban_list_end,
            "372": self._on_motd_line,
        }

    # -- what the edge calls ------------------------------------------------

    def greeting(self) -> bytes:
        """The first thing a person sees, so a bare `nc` session is not a mystery."""
        return (
            f"Welcome to {self._server_name}, a chat server. You are in plain-text mode.\r\n"
            "Type /help at any time to list the commands.\r\n"
            f"{NICK_PROMPT}"
        ).encode()

    def start(
        self,
        nick: str,
        channels: Sequence[str] = ("#lobby",),
        current: str | None = None,
        *,
        username: str | None = None,
        realname: str = "tcpchat client",
        welcome_text: str = CONNECTED_TEXT,
    ) -> list[str]:
        """Client mode: the lines that open registration as `nick`.

        After the welcome the session says `welcome_text` and joins `channels`;
        `current` (one of them) becomes the current room, else the first joined.
        """
        nick = nick if _is_middle(nick) else sane_nick(nick)
        self._client = _ClientMode(
            wanted_nick=nick,
            trying=nick,
            channels=[room for room in channels if _is_middle(room)],
            prefer_current=irc_lower(current) if current else None,
            welcome_text=welcome_text,
            nick_base=nick,
            tried={irc_lower(nick)},
        )
        self._user_sent = True
        user = sane_nick(username or nick, 18)
        return ["CAP LS 302", f"NICK {nick}", f"USER {user} 0 * :{realname or nick}"]

    def from_person(self, line: str) -> list[str]:
        """One typed line (decoded, no line ending) -> IRC lines for the core."""
        line = _clean_input(line)
        stripped = line.strip()
        if not stripped:
            return []
        if stripped.lower() in ("quit", "over"):
            return self._quit_lines(["QUIT :Leaving"])
        if self._nick is None and self._client is not None:
            return self._before_welcome(stripped)
        if self._nick is None:
            return self._registration_line(stripped)
        if line.startswith("//"):
            return self._say_in_current(line[1:])
        if line.startswith("/"):
            return self._slash_command(line)
        return self._say_in_current(line)

    def from_server(self, data: bytes) -> list[str]:
        """Complete IRC lines the core wrote to this client -> IRC lines to feed back.

        Text for the person is queued. A final line without CRLF is taken as
        complete too: the core always writes whole lines.
        """
        replies: list[str] = []
        for raw in data.split(b"\n"):
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                msg = parse(raw.decode("utf-8", "replace"))
            except ValueError:
                continue  # not IRC; a person must never see it raw
            replies.extend(self._handle(msg))
        return replies

    def take_text(self) -> bytes:
        """Everything queued for the person, with CRLF line ends for telnet."""
        text, self._out = "".join(self._out), []
        return text.encode("utf-8")

    def take_lines(self) -> list[str]:
        """Everything queued for the person, as lines without their ends (for the client)."""
        text, self._out = "".join(self._out), []
        return text.removesuffix("\r\n").split("\r\n") if text else []

    @property
    def joined_channels(self) -> list[str]:
        """The rooms we are in, oldest first: what a reconnecting client rejoins."""
        return list(self._joined.values())

    @property
    def ready(self) -> bool:
        """Welcomed and done with the rooms joined on connect: typed lines can go out."""
        pending = self._client is not None and self._client.autojoin_pending
        return self._nick is not None and not pending

    @property
    def quitting(self) -> bool:
        """Client mode: a QUIT has gone out, so the server closing is expected."""
        return self._client is not None and self._client.quitting

    @property
    def current_channel(self) -> str | None:
        """The room plain lines are said in, or None when in none."""
        return self._current

    @property
    def nick(self) -> str | None:
        """Our nick once the server has welcomed us, None before."""
        return self._nick

    # -- output helpers -------------------------------------------------------

    def _say(self, *lines: str) -> list[str]:
        """Queue whole lines for the person; returns no IRC lines, for handler brevity."""
        for line in lines:
            self._out.extend(displayable(part) + "\r\n" for part in line.split("\n"))
        return []

    def _tell(self, *parts: str | _Nick) -> list[str]:
        """Queue one sentence made of text and nicks; each nick goes through `style_nick`.

        Parts are made safe one by one, so the escape sequences that styling adds
        survive while anything a peer sent is still stripped of them.
        """
        shown = []
        for part in parts:
            if isinstance(part, _Nick):
                nick = displayable(part.name).replace("\n", " ")
                shown.append(self._style_nick(nick) if self._style_nick and nick else nick)
            else:
                shown.append(displayable(part).replace("\n", " "))
        self._out.append("".join(shown) + "\r\n")
        return []

    def _prompt(self, text: str) -> None:
        """Queue a question left open on its line, as the nickname prompt is."""
        self._out.append(displayable(text))

    # -- lines typed by the person --------------------------------------------

    def _registration_line(self, line: str) -> list[str]:
        """Before the welcome, everything typed is a try at a nickname."""
        words = line.split()
        wanted = words[0]
        if wanted.startswith("/"):
            command = wanted[1:].lower()
            if command == "help":
                self._say(HELP_TEXT)
                self._prompt(NICK_PROMPT)
                return []
            if command == "quit":
                return self._cmd_quit(line[len(wanted) :])
            if command != "nick" or len(words) < 2:
                self._prompt("Pick a nickname first. " + NICK_PROMPT)
                return []
            wanted = words[1]
        if not _is_middle(wanted):
            self._prompt(self._nick_not_allowed())
            return []
        lines = [f"NICK {wanted}"]
        if not self._user_sent:
            username = wanted.replace("@", "").lstrip(":") or "guest"
            lines.append(f"USER {username} 0 * :{wanted}")
            self._user_sent = True
        return lines

    def _nick_not_allowed(self) -> str:
        return (
            "That nickname isn't allowed (letters, digits and -[]\\`_^{|}, up to "
            f"{self._nick_length} characters, not starting with a digit or -); pick another: "
        )

    def _say_in_current(self, text: str) -> list[str]:
        if self._current is None:
            return self._say(NOT_IN_A_ROOM)
        return self._privmsg(self._current, text)

    def _privmsg(self, target: str, text: str) -> list[str]:
        return [f"PRIVMSG {target} :{piece}" for piece in _chunks(text, MESSAGE_CHUNK_BYTES)]

    def _slash_command(self, line: str) -> list[str]:
        parts = line[1:].split(None, 1)
        name = parts[0] if parts else ""
        args = parts[1] if len(parts) > 1 else ""
        handler = self._commands.get(name.lower())
        if handler is None:
            return self._say(f"Unknown command /{name}. Type /help for the list.")
        return handler(args)

    def _as_channel(self, name: str) -> str:
        return name if self._looks_like_channel(name) else "#" + name

    def _looks_like_channel(self, word: str) -> bool:
        return bool(word) and word[0] in self._chantypes

    def _invalid(self, name: str) -> list[str]:
        return self._say(f"That isn't a valid name: {name}")

    def _cmd_join(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return self._say("Usage: /join #room [key]")
        rooms = [self._as_channel(room) for room in words[0].split(",") if room]
        if not rooms:
            return self._say("Usage: /join #room [key]")
        if len(rooms) == 1 and len(words) == 1 and irc_lower(rooms[0]) in self._joined:
            return self._switch_to(irc_lower(rooms[0]))
        target = ",".join(rooms)
        if not _is_middle(target):
            return self._invalid(target)
        if len(words) > 1:
            if not _is_middle(words[1]):
                return self._say("That key can't be used; keys can't start with ':'.")
            return [f"JOIN {target} {words[1]}"]
        return [f"JOIN {target}"]

    def _cmd_part(self, args: str) -> list[str]:
        words = args.split(None, 1)
        if words and self._looks_like_channel(words[0]):
            room, reason = words[0], words[1] if len(words) > 1 else ""
        else:
            room, reason = self._current, args.strip()
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not _is_middle(room):
            return self._invalid(room)
        return [f"PART {room} :{reason}" if reason else f"PART {room}"]

    def _cmd_switch(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            if not self._joined:
                return self._say(NOT_IN_A_ROOM)
            rooms = ", ".join(self._joined.values())
            return self._say(f"You are in: {rooms}. Talking in {self._current}.")
        room = self._as_channel(words[0])
        if irc_lower(room) not in self._joined:
            return self._say(f"You are not in {room}; /join {room} first.")
        return self._switch_to(irc_lower(room))

    def _switch_to(self, folded: str) -> list[str]:
        self._current = self._joined[folded]
        return self._say(f"You are now talking in {self._current}.")

    def _cmd_msg(self, args: str) -> list[str]:
        parts = args.split(None, 1)
        if len(parts) < 2:
            return self._say("Usage: /msg nick text")
        if not _is_middle(parts[0]):
            return self._invalid(parts[0])
        return self._privmsg(parts[0], parts[1])

    def _cmd_me(self, args: str) -> list[str]:
        if not args.strip():
            return self._say("Usage: /me action")
        if self._current is None:
            return self._say(NOT_IN_A_ROOM)
        limit = MESSAGE_CHUNK_BYTES - len("\x01ACTION \x01")
        return [
            f"PRIVMSG {self._current} :\x01ACTION {piece}\x01"
            for piece in _chunks(args.strip(), limit)
        ]

    def _cmd_nick(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return self._say("Usage: /nick newname")
        if not _is_middle(words[0]):
            return self._invalid(words[0])
        return [f"NICK {words[0]}"]

    def _room_or_current(self, args: str) -> str | None:
        words = args.split()
        return self._as_channel(words[0]) if words else self._current

    def _cmd_names(self, args: str) -> list[str]:
        room = self._room_or_current(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not _is_middle(room):
            return self._invalid(room)
        return [f"NAMES {room}"]

    def _cmd_list(self, _args: str) -> list[str]:
        return ["LIST"]

    def _cmd_topic(self, args: str) -> list[str]:
        words = args.split(None, 1)
        if words and self._looks_like_channel(words[0]):
            room, text = words[0], words[1] if len(words) > 1 else ""
        else:
            room, text = self._current, args.strip()
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not _is_middle(room):
            return self._invalid(room)
        return [f"TOPIC {room} :{text}" if text else f"TOPIC {room}"]

    def _cmd_who(self, args: str) -> list[str]:
        words = args.split()
        mask = words[0] if words else self._current
        if mask is None:
            return self._say("Usage: /who #room or /who nick")
        if not _is_middle(mask):
            return self._invalid(mask)
        return [f"WHO {mask}"]

    def _cmd_whois(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return self._say("Usage: /whois nick")
        if not _is_middle(words[0]):
            return self._invalid(words[0])
        return [f"WHOIS {words[0]}"]

    def _cmd_away(self, args: str) -> list[str]:
        message = args.strip()
        return [f"AWAY :{message}"] if message else ["AWAY"]

    def _cmd_quit(self, args: str) -> list[str]:
        return self._quit_lines([f"QUIT :{args.strip() or 'Leaving'}"])

    def _quit_lines(self, lines: list[str]) -> list[str]:
        if self._client is not None:
            self._client.quitting = True
        return lines

    def _before_welcome(self, line: str) -> list[str]:
        """Client mode, still registering: only /help and /quit make sense yet."""
        command = line.split()[0].lower()
        if command == "/help":
            return self._say(HELP_TEXT)
        if command == "/quit":
            return self._cmd_quit(line[len(command) :])
        return self._say(STILL_CONNECTING)

    def _cmd_help(self, _args: str) -> list[str]:
        return self._say(HELP_TEXT)

    # -- powers of room and server operators ------------------------------------

    def _room_first(self, args: str) -> tuple[str | None, list[str]]:
        """A #room given first, else the current room; and the words after it."""
        words = args.split()
        if words and self._looks_like_channel(words[0]):
            return words[0], words[1:]
        return self._current, words

    def _room_command(self, args: str, usage: str, needed: int) -> tuple[str, list[str]] | None:
        """The room and at least `needed` words, or None once the problem is explained."""
        room, words = self._room_first(args)
        if len(words) < needed:
            self._say(f"Usage: {usage}")
            return None
        if room is None:
            self._say(NOT_IN_A_ROOM)
            return None
        bad = next((word for word in [room, *words[:needed]] if not _is_middle(word)), None)
        if bad is not None:
            self._invalid(bad)
            return None
        return room, words

    def _cmd_kick(self, args: str) -> list[str]:
        first, _, rest = args.strip().partition(" ")
        room = self._current
        if self._looks_like_channel(first):
            room, (first, _, rest) = first, rest.strip().partition(" ")
        if not first:
            return self._say("Usage: /kick nick [reason]")
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        for word in (room, first):
            if not _is_middle(word):
                return self._invalid(word)
        reason = rest.strip()
        return [f"KICK {room} {first} :{reason}" if reason else f"KICK {room} {first}"]

    def _cmd_ban(self, args: str) -> list[str]:
        room, words = self._room_first(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not words:
            if not _is_middle(room):
                return self._invalid(room)
            return [f"MODE {room} +b"]
        found = self._room_command(args, "/ban [mask]", 1)
        return [f"MODE {found[0]} +b {found[1][0]}"] if found else []

    def _cmd_unban(self, args: str) -> list[str]:
        found = self._room_command(args, "/unban mask", 1)
        return [f"MODE {found[0]} -b {found[1][0]}"] if found else []

    def _cmd_status(self, args: str, change: str, usage: str) -> list[str]:
        found = self._room_command(args, usage, 1)
        return [f"MODE {found[0]} {change} {found[1][0]}"] if found else []

    def _cmd_invite(self, args: str) -> list[str]:
        words = args.split()
        if not words or self._looks_like_channel(words[0]):
            return self._say("Usage: /invite nick [#room]")
        room = self._as_channel(words[1]) if len(words) > 1 else self._current
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        for word in (words[0], room):
            if not _is_middle(word):
                return self._invalid(word)
        return [f"INVITE {words[0]} {room}"]

    def _cmd_key(self, args: str) -> list[str]:
        room, words = self._room_first(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not words:
            if not _is_middle(room):
                return self._invalid(room)
            return [f"MODE {room} -k *"]
        found = self._room_command(args, "/key [key]", 1)
        return [f"MODE {found[0]} +k {found[1][0]}"] if found else []

    def _cmd_mode(self, args: str) -> list[str]:
        room, words = self._room_first(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if words and words[0][:1] not in ("+", "-"):
            return self._say("Usage: /mode [#room] [+flags|-flags [arguments]]")
        for word in [room, *words]:
            if not _is_middle(word):
                return self._invalid(word)
        return [" ".join(["MODE", room, *words])]

    def _cmd_oper(self, args: str) -> list[str]:
        words = args.split()
        if len(words) != 2:
            return self._say("Usage: /oper name password")
        for word in words:
            if not _is_middle(word):
                return self._invalid(word)
        return [f"OPER {words[0]} {words[1]}"]

    def _cmd_kill(self, args: str) -> list[str]:
        nick, _, reason = args.strip().partition(" ")
        if not nick:
            return self._say("Usage: /kill nick [reason]")
        if not _is_middle(nick):
            return self._invalid(nick)
        return [f"KILL {nick} :{reason.strip() or 'No reason given'}"]

    def _cmd_stats(self, args: str) -> list[str]:
        words = args.split()
        if words and not _is_middle(words[0]):
            return self._invalid(words[0])
        return [f"STATS {words[0]}"] if words else ["STATS"]

    # -- lines from the server ------------------------------------------------

    def _handle(self, msg: Message) -> list[str]:
        command = msg.command
        if len(command) == 3 and command.isdigit():
            return self._on_numeric(msg)
        handler = self._server_commands.get(command)
        return handler(msg) if handler else []

    def _is_me(self, nick: str) -> bool:
        return self._nick is not None and irc_lower(nick) == irc_lower(self._nick)

    def _is_channel(self, target: str) -> bool:
        """Channel targets include STATUSMSG ones such as '@#room'."""
        return self._looks_like_channel(target) or self._looks_like_channel(
            target.lstrip(_STATUS_PREFIXES)
        )

    def _where(self, target: str) -> str:
        """'[#room] ' for a room other than the current one, else nothing."""
        if self._current is not None and irc_lower(target) == irc_lower(self._current):
            return ""
        return f"[{target}] "

    def _on_ping(self, msg: Message) -> list[str]:
        return [f"PONG :{msg.param(0)}"]

    def _on_privmsg(self, msg: Message) -> list[str]:
        if len(msg.params) < 2:
            return []
        sender = _nick_of(msg.source) or self._server_name
        target, text = msg.params[0], msg.params[1]
        private = not self._is_channel(target)
        if self._is_me(sender) and not (private and self._is_me(target)):
            return []  # our own words echoed back; the person already saw them typed
        if text.startswith("\x01"):
            return self._on_ctcp(sender, target, private, text)
        if private:
            return self._tell(_Nick(sender), " (private) says: ", text)
        return self._tell(self._where(target), _Nick(sender), " says: ", text)

    def _on_ctcp(self, sender: str, target: str, private: bool, text: str) -> list[str]:
        body = text[1:-1] if text.endswith("\x01") and len(text) > 1 else text[1:]
        kind, _, argument = body.partition(" ")
        kind = kind.upper()
        if kind == "ACTION":
            if private:
                return self._tell("* ", _Nick(sender), " (private) ", argument)
            return self._tell(self._where(target), "* ", _Nick(sender), " ", argument)
        if kind == "VERSION" and private and _is_middle(sender):
            return [f"NOTICE {sender} :\x01VERSION tcpchat plain-text mode\x01"]
        return []

    def _on_notice(self, msg: Message) -> list[str]:
        if not msg.params:
            return []
        target, text = msg.params[0], msg.params[-1]
        if len(msg.params) < 2 or text.startswith("\x01"):
            return []  # CTCP replies are for programs
        if not msg.source or "!" not in msg.source:
            if self._client is not None and self._nick is None:
                return []  # "*** Looking up your hostname": registration chatter
            return self._say(text)
        sender = _nick_of(msg.source)
        if self._is_me(sender):
            return []
        where = self._where(target) if self._is_channel(target) else ""
        return self._tell(where, "-", _Nick(sender), "- ", text)

    def _on_join(self, msg: Message) -> list[str]:
        room, nick = msg.param(0), _nick_of(msg.source)
        if not room or not nick:
            return []
        if not self._is_me(nick):
            return self._tell("* ", _Nick(nick), f" joined {room}")
        if not _is_middle(room):
            return []  # we could never talk there
        folded = irc_lower(room)
        self._joined.pop(folded, None)
        self._joined[folded] = room
        if self._client is not None and folded in self._client.autojoin_pending:
            # Rejoining after a reconnect keeps the room that was current.
            self._client.autojoin_pending.discard(folded)
            if self._current is None or folded == self._client.prefer_current:
                self._current = room
        else:
            self._current = room
        return self._say(f"You joined {room}.")

    def _on_part(self, msg: Message) -> list[str]:
        room, reason, nick = msg.param(0), msg.param(1), _nick_of(msg.source)
        if not room:
            return []
        if not self._is_me(nick):
            return self._tell("* ", _Nick(nick), f" left {room}", _reason(reason))
        self._say(f"You left {room}.")
        return self._leave(room)

    def _on_kick(self, msg: Message) -> list[str]:
        room, victim, reason = msg.param(0), msg.param(1), msg.param(2)
        if not room or not victim:
            return []
        kicker = _nick_of(msg.source) or self._server_name
        if not self._is_me(victim):
            return self._tell(
                "* ", _Nick(victim), f" was kicked from {room} by ", _Nick(kicker), _reason(reason)
            )
        self._tell(f"You were kicked from {room} by ", _Nick(kicker), _reason(reason))
        return self._leave(room)

    def _leave(self, room: str) -> list[str]:
        """Forget `room`; if it was current, talk in the newest room left instead."""
        folded = irc_lower(room)
        self._joined.pop(folded, None)
        if self._current is None or irc_lower(self._current) != folded:
            return []
        self._current = next(reversed(self._joined.values()), None)
        if self._current is not None:
            self._say(f"You are now talking in {self._current}.")
        return []

    def _on_quit(self, msg: Message) -> list[str]:
        nick = _nick_of(msg.source)
        if not nick or self._is_me(nick):
            return []
        return self._tell("* ", _Nick(nick), " quit", _reason(msg.param(0)))

    def _on_nick(self, msg: Message) -> list[str]:
        old, new = _nick_of(msg.source), msg.param(0)
        if not old or not new:
            return []
        if self._is_me(old):
            self._nick = new
            return self._tell("You are now known as ", _Nick(new), ".")
        return self._tell("* ", _Nick(old), " is now known as ", _Nick(new))

    def _on_topic(self, msg: Message) -> list[str]:
        room, text = msg.param(0), msg.param(1)
        nick = _nick_of(msg.source) or self._server_name
        if not room:
            return []
        if not text:
            return self._tell("* ", _Nick(nick), f" cleared the topic of {room}")
        return self._tell("* ", _Nick(nick), f" set the topic of {room} to: ", text)

    def _on_mode(self, msg: Message) -> list[str]:
        target, changes = msg.param(0), " ".join(msg.params[1:])
        if not target or not changes or not self._is_channel(target):
            return []  # user modes on ourselves mean nothing to a person
        nick = _nick_of(msg.source) or self._server_name
        return self._tell("* ", _Nick(nick), f" sets mode {changes} on {target}")

    def _on_invite(self, msg: Message) -> list[str]:
        nick, room = _nick_of(msg.source), msg.param(1)
        if not nick or not room:
            return []
        return self._tell(
            "* ", _Nick(nick), f" invites you to {room}; type /join {room} to go there."
        )

    def _on_error(self, msg: Message) -> list[str]:
        reason = msg.param(0) or "closed by the server"
        if self._client is None:
            return self._say(f"Disconnected: {reason}")
        if self._client.quitting:
            return []  # the goodbye to our own QUIT
        return self._say(f"The server ended the chat: {reason}")

    def _on_cap(self, msg: Message) -> list[str]:
        """Client mode: CAP LS 302 (possibly several lines), REQ what we use, then END."""
        client = self._client
        if client is None or client.cap_done or self._nick is not None:
            return []
        sub = msg.param(1).upper()
        if sub == "LS":
            client.caps_offered.update(token.partition("=")[0] for token in msg.params[-1].split())
            if len(msg.params) >= 4 and msg.params[2] == "*":
                return []  # more LS lines follow
            wanted = [cap for cap in _WANTED_CAPS if cap in client.caps_offered]
            if wanted:
                return [f"CAP REQ :{' '.join(wanted)}"]
        elif sub not in ("ACK", "NAK"):
            return []
        client.cap_done = True
        return ["CAP END"]

    def _on_standard_reply(self, msg: Message) -> list[str]:
        return self._say(msg.params[-1]) if len(msg.params) >= 3 else []

    # -- numeric replies ------------------------------------------------------

    def _on_numeric(self, msg: Message) -> list[str]:
        code = msg.command
        if self._client is not None and self._nick is None:
            if code in _NICK_REJECTED:
                return self._try_another_nick(code)
            if code in _SILENT_BEFORE_WELCOME:
                return []
        elif self._nick is None and code in _NICK_REJECTED:
            return self._on_nick_rejected(code)
        if self._client is not None and "400" <= code < "600":
            self._client.autojoin_pending.discard(irc_lower(msg.param(1)))
        if code in _SILENT_NUMERICS:
            return []
        if code in _WHOIS_SENTENCES:
            return (
                self._tell(_Nick(msg.param(1)), " ", msg.params[-1]) if len(msg.params) >= 3 else []
            )
        handler = self._numerics.get(code)
        if handler is not None:
            return handler(msg)
        if len(msg.params) < 2:
            return []  # only our own nick: nothing to say
        text = msg.params[-1]
        if "400" <= code < "600":
            targets = " ".join(msg.params[1:-1])
            return self._say(f"{text.rstrip('.')}: {targets}" if targets else text)
        return self._say(text)

    def _on_nick_rejected(self, code: str) -> list[str]:
        if code == "432":
            self._prompt(self._nick_not_allowed())
        elif code == "431":
            self._prompt(NICK_PROMPT)
        else:
            self._prompt("That nickname is taken, pick another: ")
        return []

    def _try_another_nick(self, code: str) -> list[str]:
        """Client mode: the server refused our nick while registering; try the next one."""
        client = self._client
        assert client is not None
        if code in ("431", "432"):
            # First refusal: cut to the length every server allows, drop odd characters
            # (or, if that changes nothing, try the next variant). Then: "guest".
            client.nick_problem = client.nick_problem or "not allowed"
            client.nick_limit = min(client.nick_limit, _SAFE_NICK_LENGTH)
            client.refusals += 1
            client.nick_base = (
                sane_nick(client.nick_base, client.nick_limit) if client.refusals == 1 else "guest"
            )
        else:
            client.nick_problem = client.nick_problem or "taken"
        for candidate in _nick_candidates(client.nick_base, client.nick_limit):
            if irc_lower(candidate) not in client.tried:
                client.tried.add(irc_lower(candidate))
                client.trying = candidate
                return [f"NICK {candidate}"]
        client.quitting = True
        self._say("The server accepted none of the nicknames tried; pick one with --nick.")
        return ["QUIT :No nickname"]

    def _client_welcome(self, client: _ClientMode) -> list[str]:
        client.cap_done = True
        self._say(client.welcome_text)
        if self._nick != client.wanted_nick:
            why = {"taken": "is taken", "not allowed": "isn't allowed here"}.get(
                client.nick_problem, "was changed by the server"
            )
            nick = _Nick(self._nick or "")
            self._tell(f"The nickname {client.wanted_nick} {why}; you are ", nick, " instead.")
        if not client.channels:
            return []
        client.autojoin_pending = {irc_lower(room) for room in client.channels}
        lines, batch = [], ""
        for room in client.channels:
            if batch and len(batch) + len(room) > 400:
                lines.append(f"JOIN {batch}")
                batch = ""
            batch = f"{batch},{room}" if batch else room
        return [*lines, f"JOIN {batch}"]

    def _on_welcome(self, msg: Message) -> list[str]:
        first_welcome = self._nick is None
        self._nick = msg.param(0) or self._nick
        if not first_welcome or self._nick is None:
            return []
        if self._client is not None:
            return self._client_welcome(self._client)
        self._tell(
            "Welcome, ",
            _Nick(self._nick),
            "! Type a message and press Enter to talk; /help lists commands.",
        )
        if self._default_channel and _is_middle(self._default_channel):
            return [f"JOIN {self._default_channel}"]
        return []

    def _on_isupport(self, msg: Message) -> list[str]:
        for token in msg.params[1:-1]:
            key, _, value = token.partition("=")
            if key == "CHANTYPES" and value:
                self._chantypes = value
            elif key == "NICKLEN" and value.isdecimal():
                self._nick_length = int(value)
            elif key == "PREFIX" and ")" in value:
                self._status_prefixes = value.partition(")")[2] or _STATUS_PREFIXES
        return []

    def _on_motd_line(self, msg: Message) -> list[str]:
        if self._client is not None:
            return []  # the client keeps its start short: no message of the day
        text = msg.params[-1] if len(msg.params) >= 2 else ""
        return self._say(text[2:] if text.startswith("- ") else text.removeprefix("-"))

    def _on_target_away(self, msg: Message) -> list[str]:
        return self._tell(_Nick(msg.param(1)), " is away: ", msg.param(2))

    def _on_whois_user(self, msg: Message) -> list[str]:
        nick, user, host, realname = msg.param(1), msg.param(2), msg.param(3), msg.param(5)
        return self._tell(_Nick(nick), f" ({user}@{host}): ", realname)

    def _on_whois_server(self, msg: Message) -> list[str]:
        nick, server, info = msg.param(1), msg.param(2), msg.param(3)
        return self._tell(_Nick(nick), f" is connected to {server}", _reason(info))

    def _on_whois_idle(self, msg: Message) -> list[str]:
        nick, idle = msg.param(1), msg.param(2)
        if not idle.isdecimal() or len(idle) > 12:
            return []
        return self._tell(_Nick(nick), f" has been idle for {_duration(int(idle))}")

    def _on_whois_channels(self, msg: Message) -> list[str]:
        return self._tell(_Nick(msg.param(1)), " is in: ", msg.param(2))

    def _on_whois_account(self, msg: Message) -> list[str]:
        return self._tell(_Nick(msg.param(1)), " is logged in as ", msg.param(2))

    def _on_who_entry(self, msg: Message) -> list[str]:
        if len(msg.params) < 8:
            return []
        _, _, user, host, _, nick, flags, last = msg.params[:8]
        realname = last.partition(" ")[2] if last[:1].isdigit() else last
        self._who_count += 1
        away = " (away)" if flags.startswith("G") else ""
        return self._tell(_Nick(nick), f" ({user}@{host}){away}: ", realname)

    def _on_end_of_who(self, msg: Message) -> list[str]:
        found, self._who_count = self._who_count, 0
        return [] if found else self._say(f"Nobody matches {msg.param(1)}.")

    def _on_names_entry(self, msg: Message) -> list[str]:
        if len(msg.params) < 3:
            return []
        room, names = msg.params[-2], msg.params[-1]
        nicks = [name.partition("!")[0] for name in names.split()]
        self._pending_names.setdefault(irc_lower(room), []).extend(nicks)
        return []

    def _on_names_end(self, msg: Message) -> list[str]:
        room = msg.param(1)
        nicks = self._pending_names.pop(irc_lower(room), [])
        if not nicks:
            return self._say(f"Nobody visible in {room}.")
        parts: list[str | _Nick] = [f"People in {room}: "]
        for index, name in enumerate(nicks):
            bare = name.lstrip(self._status_prefixes)
            if index:
                parts.append(", ")
            parts += [name[: len(name) - len(bare)], _Nick(bare)]
        return self._tell(*parts)

    def _on_list_entry(self, msg: Message) -> list[str]:
        if len(msg.params) >= 3:
            self._pending_rooms.append((msg.param(1), msg.param(2), msg.param(3)))
        return []

    def _on_list_end(self, _msg: Message) -> list[str]:
        rooms, self._pending_rooms = self._pending_rooms, []
        if not rooms:
            return self._say("No rooms.")
        lines = ["Rooms:"]
        for room, count, topic in rooms:
            people = "1 person" if count == "1" else f"{count} people"
            lines.append(f"  {room} ({people}): {topic}" if topic else f"  {room} ({people})")
        return self._say(*lines)

    def _on_ban_entry(self, msg: Message) -> list[str]:
        room, mask, setter = msg.param(1), msg.param(2), _nick_of(msg.param(3))
        self._ban_count += 1
        by = (" (by ", _Nick(setter), ")") if setter else ()
        return self._tell(f"Banned in {room}: {mask}", *by)

    def _on_ban_list_end(self, msg: Message) -> list[str]:
        found, self._ban_count = self._ban_count, 0
        return [] if found else self._say(f"Nobody is banned in {msg.param(1)}.")

    def _on_channel_mode(self, msg: Message) -> list[str]:
        return self._say(f"Mode of {msg.param(1)}: {' '.join(msg.params[2:])}")
