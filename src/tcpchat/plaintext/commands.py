"""What the person types -> IRC lines: registration, plain lines and slash commands."""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import irc_lower
from .help import help_text
from .state import NICK_PROMPT, Nick, SessionState
from .text import chunks, is_middle

# A relayed PRIVMSG gains ":nick!user@host PRIVMSG #channel :" in front, and the
# whole line must fit in 512 bytes, so longer text is sent as several messages.
MESSAGE_CHUNK_BYTES = 350

NOT_IN_A_ROOM = "You are not in any room; /join #room first."
STILL_CONNECTING = "Still connecting to the server; try again in a moment."


def confirms_itself(line: str) -> bool:
    """Whether the session shows what `line` did, so echoing the line typed is redundant:
    `/msg nick text` is shown as `-> nick: text`."""
    words = line.split(None, 2)
    return len(words) == 3 and words[0].lower() == "/msg"


class CommandMixin(SessionState):
    """Turns typed lines into IRC lines; anything to tell the person is queued."""

    _commands: dict[str, Callable[[str], list[str]]]

    def _command_table(self) -> dict[str, Callable[[str], list[str]]]:
        """Each /command's handler, called with the text after the command."""
        return {
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
            "cs": self._cmd_cs,
            "chanserv": self._cmd_cs,
        }

    # -- lines typed by the person --------------------------------------------

    def _registration_line(self, line: str) -> list[str]:
        """Before the welcome, everything typed is a try at a nickname."""
        words = line.split()
        wanted = words[0]
        if wanted.startswith("/"):
            command = wanted[1:].lower()
            if command == "help":
                self._say(help_text(" ".join(words[1:])))
                self._prompt(NICK_PROMPT)
                return []
            if command == "quit":
                return self._cmd_quit(line[len(wanted) :])
            if command != "nick" or len(words) < 2:
                self._prompt("Pick a nickname first. " + NICK_PROMPT)
                return []
            wanted = words[1]
        if not is_middle(wanted):
            self._prompt(self._nick_not_allowed(wanted))
            return []
        # USER goes with every try, and first: the core keeps the last one sent before
        # registering, and registers on the NICK it accepts, so the user name and real
        # name are always those of the nickname finally taken, never of one refused.
        username = wanted.replace("@", "").lstrip(":") or "guest"
        return [f"USER {username} 0 * :{wanted}", f"NICK {wanted}"]

    def _say_in_current(self, text: str) -> list[str]:
        if self._current is None:
            return self._say(NOT_IN_A_ROOM)
        return self._privmsg(self._current, text)

    def _privmsg(self, target: str, text: str) -> list[str]:
        return [f"PRIVMSG {target} :{piece}" for piece in chunks(text, MESSAGE_CHUNK_BYTES)]

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
        if not is_middle(target):
            return self._invalid(target)
        if len(words) > 1:
            if not is_middle(words[1]):
                return self._say("That key can't be used; keys can't start with ':'.")
            return [f"JOIN {target} {words[1]}"]
        return [f"JOIN {target}"]

    def _cmd_part(self, args: str) -> list[str]:
        return self._room_and_text("PART", args)

    def _room_and_text(self, command: str, args: str) -> list[str]:
        """`COMMAND #room [:text]` from `[#room] [text]`; the room defaults to the current one."""
        words = args.split(None, 1)
        room: str | None
        if words and self._looks_like_channel(words[0]):
            room, text = words[0], words[1] if len(words) > 1 else ""
        else:
            room, text = self._current, args.strip()
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not is_middle(room):
            return self._invalid(room)
        return [f"{command} {room} :{text}" if text else f"{command} {room}"]

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
        if not is_middle(parts[0]):
            return self._invalid(parts[0])
        self._tell("-> ", Nick(parts[0]), ": ", parts[1])  # what was sent, and to whom
        return self._privmsg(parts[0], parts[1])

    def _cmd_me(self, args: str) -> list[str]:
        if not args.strip():
            return self._say("Usage: /me action")
        if self._current is None:
            return self._say(NOT_IN_A_ROOM)
        limit = MESSAGE_CHUNK_BYTES - len("\x01ACTION \x01")
        return [
            f"PRIVMSG {self._current} :\x01ACTION {piece}\x01"
            for piece in chunks(args.strip(), limit)
        ]

    def _cmd_nick(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return self._say("Usage: /nick newname")
        if not is_middle(words[0]):
            return self._invalid(words[0])
        return [f"NICK {words[0]}"]

    def _room_or_current(self, args: str) -> str | None:
        words = args.split()
        return self._as_channel(words[0]) if words else self._current

    def _cmd_names(self, args: str) -> list[str]:
        room = self._room_or_current(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if not is_middle(room):
            return self._invalid(room)
        return [f"NAMES {room}"]

    def _cmd_list(self, _args: str) -> list[str]:
        return ["LIST"]

    def _cmd_topic(self, args: str) -> list[str]:
        return self._room_and_text("TOPIC", args)

    def _cmd_who(self, args: str) -> list[str]:
        words = args.split()
        mask = words[0] if words else self._current
        if mask is None:
            return self._say("Usage: /who #room or /who nick")
        if not is_middle(mask):
            return self._invalid(mask)
        return [f"WHO {mask}"]

    def _cmd_whois(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return self._say("Usage: /whois nick")
        if not is_middle(words[0]):
            return self._invalid(words[0])
        return [f"WHOIS {words[0]}"]

    def _cmd_away(self, args: str) -> list[str]:
        message = args.strip()
        return [f"AWAY :{message}"] if message else ["AWAY"]

    def _cmd_quit(self, args: str) -> list[str]:
        return self._quit_lines([f"QUIT :{args.strip() or 'Leaving'}"])

    def _quit_lines(self, lines: list[str]) -> list[str]:
        if self._outbound is not None:
            self._outbound.quitting = True
        return lines

    def _before_welcome(self, line: str) -> list[str]:
        """Outbound, still registering: only /help and /quit make sense yet."""
        command = line.split()[0].lower()
        if command == "/help":
            return self._say(help_text(line[len(command) :]))
        if command == "/quit":
            return self._cmd_quit(line[len(command) :])
        return self._say(STILL_CONNECTING)

    def _cmd_help(self, args: str) -> list[str]:
        return self._say(help_text(args))

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
        bad = next((word for word in [room, *words[:needed]] if not is_middle(word)), None)
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
            if not is_middle(word):
                return self._invalid(word)
        reason = rest.strip()
        return [f"KICK {room} {first} :{reason}" if reason else f"KICK {room} {first}"]

    def _cmd_ban(self, args: str) -> list[str]:
        return self._mode_with_default(args, "+b", "MODE {room} +b", "/ban [mask]")

    def _cmd_unban(self, args: str) -> list[str]:
        return self._cmd_status(args, "-b", "/unban mask")

    def _cmd_status(self, args: str, change: str, usage: str) -> list[str]:
        found = self._room_command(args, usage, 1)
        return [f"MODE {found[0]} {change} {found[1][0]}"] if found else []

    def _mode_with_default(self, args: str, change: str, bare: str, usage: str) -> list[str]:
        """`/ban mask` sets a mode with its argument; a bare `/ban` sends `bare` instead."""
        room, words = self._room_first(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if words:
            return self._cmd_status(args, change, usage)
        if not is_middle(room):
            return self._invalid(room)
        return [bare.format(room=room)]

    def _cmd_invite(self, args: str) -> list[str]:
        words = args.split()
        if not words or self._looks_like_channel(words[0]):
            return self._say("Usage: /invite nick [#room]")
        room = self._as_channel(words[1]) if len(words) > 1 else self._current
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        for word in (words[0], room):
            if not is_middle(word):
                return self._invalid(word)
        return [f"INVITE {words[0]} {room}"]

    def _cmd_key(self, args: str) -> list[str]:
        return self._mode_with_default(args, "+k", "MODE {room} -k *", "/key [key]")

    def _cmd_mode(self, args: str) -> list[str]:
        room, words = self._room_first(args)
        if room is None:
            return self._say(NOT_IN_A_ROOM)
        if words and words[0][:1] not in ("+", "-"):
            return self._say("Usage: /mode [#room] [+flags|-flags [arguments]]")
        for word in [room, *words]:
            if not is_middle(word):
                return self._invalid(word)
        return [" ".join(["MODE", room, *words])]

    def _cmd_oper(self, args: str) -> list[str]:
        words = args.split()
        if len(words) != 2:
            return self._say("Usage: /oper name password")
        for word in words:
            if not is_middle(word):
                return self._invalid(word)
        return [f"OPER {words[0]} {words[1]}"]

    def _cmd_kill(self, args: str) -> list[str]:
        nick, _, reason = args.strip().partition(" ")
        if not nick:
            return self._say("Usage: /kill nick [reason]")
        if not is_middle(nick):
            return self._invalid(nick)
        return [f"KILL {nick} :{reason.strip() or 'No reason given'}"]

    def _cmd_stats(self, args: str) -> list[str]:
        words = args.split()
        if words and not is_middle(words[0]):
            return self._invalid(words[0])
        return [f"STATS {words[0]}"] if words else ["STATS"]

    def _cmd_cs(self, args: str) -> list[str]:
        """Registered rooms: passed on as typed; the server answers in sentences."""
        return [f"CS {args}".rstrip()]
