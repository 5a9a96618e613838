"""Who and which rooms the client has seen, for tab completion. No I/O.

It watches the same IRC lines the display does: NAMES, JOIN, PART, KICK,
QUIT, NICK and messages add and drop nicks, so completion offers people who
are really around rather than everyone ever seen.
"""

from __future__ import annotations

from ..protocol import Message, irc_lower

__all__ = ["COMMANDS", "Roster", "completions"]

COMMANDS = (
    "/account", "/away", "/ban", "/cs", "/deop", "/devoice", "/help", "/history", "/invite",
    "/join", "/key", "/kick", "/kill", "/list", "/login", "/logout", "/me", "/mode", "/msg",
    "/names", "/nick", "/notify", "/op", "/oper", "/part", "/quit", "/regain", "/register",
    "/stats", "/switch", "/topic", "/unban", "/unnotify", "/verify", "/voice", "/who", "/whois",
)  # fmt: skip

# Commands whose first argument is a nick or a room, for the right completion.
_TAKES_NICK = frozenset(
    {"/msg", "/whois", "/who", "/kick", "/kill", "/op", "/deop", "/voice", "/devoice", "/invite"}
    | {"/notify", "/unnotify"}
)
_TAKES_ROOM = frozenset(
    {"/join", "/part", "/switch", "/names", "/topic", "/who", "/mode", "/history"}
)


def _nick_of(source: str | None) -> str:
    return (source or "").partition("!")[0].partition("@")[0]


class Roster:
    """Nicks by room, people who wrote to us privately, and rooms we know of."""

    def __init__(self) -> None:
        self._members: dict[str, dict[str, str]] = {}  # folded room -> folded nick -> nick
        self._private: dict[str, str] = {}
        self._rooms: dict[str, str] = {}
        self._prefixes = "~&@%+"
        self._chantypes = "#&"
        self._me = ""

    def nicks(self) -> list[str]:
        """Everyone we share a room with or talked to privately, ourselves excepted."""
        found = dict(self._private)
        for members in self._members.values():
            found.update(members)
        found.pop(irc_lower(self._me), None)
        return sorted(found.values(), key=str.lower)

    def rooms(self) -> list[str]:
        return sorted(self._rooms.values(), key=str.lower)

    def reset(self) -> None:
        """A new connection: membership starts again from the server's NAMES."""
        self._members.clear()

    def observe(self, msg: Message, me: str | None) -> None:
        """Update from one line the server sent; `me` is our nick, if welcomed."""
        self._me = me or self._me
        command, nick = msg.command, _nick_of(msg.source)
        if command == "001" and msg.params:
            self._me = msg.params[0]
        elif command == "005":
            self._on_isupport(msg)
        elif command == "353" and len(msg.params) >= 3:
            for name in msg.params[-1].split():
                self._add(msg.params[-2], name.lstrip(self._prefixes).partition("!")[0])
        elif command == "322" and len(msg.params) >= 2:
            self._rooms.setdefault(irc_lower(msg.params[1]), msg.params[1])
        elif command == "JOIN" and msg.params and nick:
            self._add(msg.params[0], nick)
        elif command == "PART" and msg.params and nick:
            self._remove(msg.params[0], nick)
        elif command == "KICK" and len(msg.params) >= 2:
            self._remove(msg.params[0], msg.params[1])
        elif command == "QUIT" and nick:
            self._forget(nick)
        elif command == "NICK" and msg.params and nick:
            self._rename(nick, msg.params[0])
        elif command in ("PRIVMSG", "NOTICE") and msg.params and "!" in (msg.source or ""):
            target = msg.params[0].lstrip(self._prefixes)
            if target and target[0] in self._chantypes:
                self._add(target, nick)
            elif not self._is_me(nick):
                self._private[irc_lower(nick)] = nick

    def _is_me(self, nick: str) -> bool:
        return bool(self._me) and irc_lower(nick) == irc_lower(self._me)

    def _on_isupport(self, msg: Message) -> None:
        for token in msg.params[1:-1]:
            key, _, value = token.partition("=")
            if key == "PREFIX" and ")" in value:
                self._prefixes = value.partition(")")[2] or self._prefixes
            elif key == "CHANTYPES" and value:
                self._chantypes = value

    def _add(self, room: str, nick: str) -> None:
        if not nick:
            return
        folded = irc_lower(room)
        self._members.setdefault(folded, {})[irc_lower(nick)] = nick
        if self._is_me(nick):
            self._rooms[folded] = room

    def _remove(self, room: str, nick: str) -> None:
        folded = irc_lower(room)
        if self._is_me(nick):
            self._members.pop(folded, None)
        else:
            self._members.get(folded, {}).pop(irc_lower(nick), None)

    def _forget(self, nick: str) -> None:
        folded = irc_lower(nick)
        self._private.pop(folded, None)
        for members in self._members.values():
            members.pop(folded, None)

    def _rename(self, old: str, new: str) -> None:
        folded_old, folded_new = irc_lower(old), irc_lower(new)
        if folded_old in self._private:
            del self._private[folded_old]
            self._private[folded_new] = new
        for members in self._members.values():
            if members.pop(folded_old, None) is not None:
                members[folded_new] = new
        if self._is_me(old):
            self._me = new


def completions(roster: Roster, before_cursor: str) -> tuple[str, list[str]]:
    """(the word being completed, what could replace it) for the text left of the cursor.

    A leading '/word' completes commands; '#word', or the argument of a command
    that takes a room, completes rooms; anything else completes nicks, with ': '
    after a nick that starts the line (IRC's way of addressing someone).
    """
    words = before_cursor.split(" ")
    word, folded = words[-1], words[-1].lower()
    if len(words) == 1 and word.startswith("/"):
        return word, [command + " " for command in COMMANDS if command.startswith(folded)]
    wants_room = len(words) == 2 and words[0].lower() in _TAKES_ROOM
    if word.startswith(("#", "&")) or (wants_room and words[0].lower() not in _TAKES_NICK):
        return word, [
            room + " "
            for room in roster.rooms()
            if room.lower().startswith(folded) or room[1:].lower().startswith(folded)
        ]
    suffix = ": " if len(words) == 1 else " "
    return word, [nick + suffix for nick in roster.nicks() if nick.lower().startswith(folded)]
