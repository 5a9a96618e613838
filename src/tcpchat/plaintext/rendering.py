"""What the server sends -> sentences for the person (and the few replies IRC needs)."""

from __future__ import annotations

from collections.abc import Callable

from ..farewells import says_restart
from ..protocol import Message, irc_lower
from .history import CHATHISTORY, HISTORY_CAPS, HistoryMixin
from .login import LoginMixin
from .nicknames import NICK_CHANGE_REFUSED, NICK_REJECTED, NicknameMixin
from .presence import PRESENCE_CAPS, is_bot
from .search import SearchMixin
from .state import Nick
from .text import (
    STATUS_PREFIXES,
    duration,
    is_middle,
    nick_of,
    parenthesised,
)

# Numerics that only matter to programs (registration burst, counts, ends of lists).
_SILENT_NUMERICS = frozenset(
    {"002", "003", "004", "042", "221", "250", "251", "252", "253", "254", "255"}
    | {str(code) for code in range(256, 267)}
    | {"219", "318", "321", "329", "333", "369", "375", "376", "396", "422"}
)
# WHOIS lines whose text reads well after the nick: "alice is an IRC operator".
_WHOIS_SENTENCES = frozenset({"276", "307", "313", "320", "335", "338", "378", "379", "671"})

# Outbound: capabilities we ask for when offered (NAMES then shows every status;
# messages carry the time they were sent, which the client shows; earlier messages come
# in a batch, asked for with CHATHISTORY: history.py; presence.py says why the others).
_WANTED_CAPS = ("multi-prefix", "server-time", "batch", CHATHISTORY, *PRESENCE_CAPS)
# Before the welcome, replies to a CAP the server doesn't know are no news to a person.
_SILENT_BEFORE_WELCOME = frozenset({"020", "421", "451"})
# A person on nc told the server restarts (farewells.py): not gone for good.
RESTARTING_TEXT = "The server is restarting; connect again in a few seconds to carry on."


class RenderingMixin(NicknameMixin, LoginMixin, HistoryMixin, SearchMixin):
    """Turns IRC lines from the server into sentences, keeping the session state current."""

    _server_commands: dict[str, Callable[[Message], list[str]]]
    _numerics: dict[str, Callable[[Message], list[str]]]

    def _server_command_table(self) -> dict[str, Callable[[Message], list[str]]]:
        return {
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
            "BATCH": self._on_any_batch,
            "FAIL": self._on_standard_reply,
            "WARN": self._on_standard_reply,
            "NOTE": self._on_standard_reply,
        }

    def _numeric_table(self) -> dict[str, Callable[[Message], list[str]]]:
        """Numerics with their own sentence; the rest are silent or said as sent."""
        return {
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
            "341": lambda m: self._tell("You invited ", Nick(m.param(1)), f" to {m.param(2)}."),
            "352": self._on_who_entry,
            "353": self._on_names_entry,
            "366": self._on_names_end,
            "367": self._on_ban_entry,
            "368": self._on_ban_list_end,
            "372": self._on_motd_line,
        }

    # -- lines from the server ------------------------------------------------

    def _handle(self, msg: Message) -> list[str]:
        if "msgid" in msg.tags:
            self._note_seen(msg)
        if self._history_batches and msg.tags.get("batch") in self._history_batches:
            return self._replayed(msg, self._history_batches[msg.tags["batch"]])
        if self._search_batches and msg.tags.get("batch") in self._search_batches:
            return self._found(msg, self._search_batches[msg.tags["batch"]])
        command = msg.command
        if len(command) == 3 and command.isdigit():
            return self._on_numeric(msg)
        handler = self._server_commands.get(command)
        return handler(msg) if handler else []

    def _on_any_batch(self, msg: Message) -> list[str]:
        """A search batch (search.py), or another (history.py)."""
        return [] if self._search_batch(msg) else self._on_batch(msg)

    def _is_channel(self, target: str) -> bool:
        """Channel targets include STATUSMSG ones such as '@#room'."""
        return self._looks_like_channel(target) or self._looks_like_channel(
            target.lstrip(STATUS_PREFIXES)
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
        sender = nick_of(msg.source) or self._server_name
        target, text = msg.params[0], msg.params[1]
        private = not self._is_channel(target)
        if self._is_me(sender) and not (private and self._is_me(target)):
            return []  # our own words echoed back; the person already saw them typed
        bot = " [bot]" if is_bot(msg) else ""
        if text.startswith("\x01"):
            return self._on_ctcp(sender, target, private, text, bot)
        if private:
            return self._tell(Nick(sender), bot, " (private) says: ", text)
        return self._tell(self._where(target), Nick(sender), bot, " says: ", text)

    def _on_ctcp(
        self, sender: str, target: str, private: bool, text: str, bot: str = ""
    ) -> list[str]:
        body = text[1:-1] if text.endswith("\x01") and len(text) > 1 else text[1:]
        kind, _, argument = body.partition(" ")
        kind = kind.upper()
        if kind == "ACTION":
            if private:
                return self._tell("* ", Nick(sender), bot, " (private) ", argument)
            return self._tell(self._where(target), "* ", Nick(sender), bot, " ", argument)
        if kind == "VERSION" and private and is_middle(sender):
            return [f"NOTICE {sender} :\x01VERSION tcpchat plain-text mode\x01"]
        return []

    def _on_notice(self, msg: Message) -> list[str]:
        if not msg.params:
            return []
        target, text = msg.params[0], msg.params[-1]
        if len(msg.params) < 2 or text.startswith("\x01"):
            return []  # CTCP replies are for programs
        if not msg.source or "!" not in msg.source:
            if self._outbound is not None and self._nick is None:
                return []  # "*** Looking up your hostname": registration chatter
            return self._say(text)
        sender = nick_of(msg.source)
        if self._is_me(sender):
            return []
        where = self._where(target) if self._is_channel(target) else ""
        return self._tell(where, "-", Nick(sender), " [bot]" if is_bot(msg) else "", "- ", text)

    def _on_join(self, msg: Message) -> list[str]:
        room, nick = msg.param(0), nick_of(msg.source)
        if not room or not nick:
            return []
        if not self._is_me(nick):
            return self._tell("* ", Nick(nick), f" joined {room}")
        if not is_middle(room):
            return []  # we could never talk there
        folded = irc_lower(room)
        self._joined.pop(folded, None)
        self._joined[folded] = room
        if self._outbound is not None and folded in self._outbound.autojoin_pending:
            # Rejoining after a reconnect keeps the room that was current.
            self._outbound.autojoin_pending.discard(folded)
            if self._current is None or folded == self._outbound.prefer_current:
                self._current = room
        else:
            self._current = room
        self._say(f"You joined {room}.")
        return self._history_on_join(room)

    def _on_part(self, msg: Message) -> list[str]:
        room, reason, nick = msg.param(0), msg.param(1), nick_of(msg.source)
        if not room:
            return []
        if not self._is_me(nick):
            return self._tell("* ", Nick(nick), f" left {room}", parenthesised(reason))
        self._say(f"You left {room}.")
        return self._leave(room)

    def _on_kick(self, msg: Message) -> list[str]:
        room, victim, reason = msg.param(0), msg.param(1), msg.param(2)
        if not room or not victim:
            return []
        kicker = nick_of(msg.source) or self._server_name
        if not self._is_me(victim):
            return self._tell(
                "* ",
                Nick(victim),
                f" was kicked from {room} by ",
                Nick(kicker),
                parenthesised(reason),
            )
        self._tell(f"You were kicked from {room} by ", Nick(kicker), parenthesised(reason))
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
        nick = nick_of(msg.source)
        if not nick or self._is_me(nick):
            return []
        return self._tell("* ", Nick(nick), " quit", parenthesised(msg.param(0)))

    def _on_nick(self, msg: Message) -> list[str]:
        old, new = nick_of(msg.source), msg.param(0)
        if not old or not new:
            return []
        if self._is_me(old):
            self._nick = new
            return self._tell("You are now known as ", Nick(new), ".")
        return self._tell("* ", Nick(old), " is now known as ", Nick(new))

    def _on_topic(self, msg: Message) -> list[str]:
        room, text = msg.param(0), msg.param(1)
        nick = nick_of(msg.source) or self._server_name
        if not room:
            return []
        if not text:
            return self._tell("* ", Nick(nick), f" cleared the topic of {room}")
        return self._tell("* ", Nick(nick), f" set the topic of {room} to: ", text)

    def _on_mode(self, msg: Message) -> list[str]:
        target, changes = msg.param(0), " ".join(msg.params[1:])
        if not target or not changes or not self._is_channel(target):
            return []  # user modes on ourselves mean nothing to a person
        nick = nick_of(msg.source) or self._server_name
        return self._tell("* ", Nick(nick), f" sets mode {changes} on {target}")

    def _on_invite(self, msg: Message) -> list[str]:
        nick, invited, room = nick_of(msg.source), msg.param(0), msg.param(1)
        if not nick or not room:
            return []
        if not self._is_me(invited):  # invite-notify: someone else is invited
            return self._tell("* ", Nick(nick), " invited ", Nick(invited), f" to {room}")
        return self._tell(
            "* ", Nick(nick), f" invites you to {room}; type /join {room} to go there."
        )

    def _on_error(self, msg: Message) -> list[str]:
        reason = msg.param(0) or "closed by the server"
        if self._outbound is None:
            if says_restart(reason):
                return self._say(RESTARTING_TEXT)
            return self._say(f"Disconnected: {reason}")
        if self._outbound.quitting or says_restart(reason):
            return []  # the goodbye to our own QUIT; or the client says it reconnects
        return self._say(f"The server ended the chat: {reason}")

    def _on_cap(self, msg: Message) -> list[str]:
        """Outbound: CAP LS 302 (possibly several lines), REQ what we use, then END (or
        first log in: login.py)."""
        outbound = self._outbound
        sub = msg.param(1).upper()
        if sub == "DEL":
            self._caps_enabled.difference_update(msg.params[-1].split())
        asked = self._caps_changed(sub, msg.params[-1].split()) if sub in ("ACK", "NAK") else []
        if self._nick is not None and sub in ("ACK", "NAK"):
            return asked + (self._cap_answered(sub, msg.params[-1].split()) or [])  # /login
        if outbound is None or outbound.cap_done or self._nick is not None:
            return []
        if sub == "LS":
            offered = msg.params[-1].split()
            outbound.caps_offered.update(token.partition("=")[0] for token in offered)
            self._note_offered(offered)
            if len(msg.params) >= 4 and msg.params[2] == "*":
                return []  # more LS lines follow
            refused = self._sasl_unavailable()
            if refused is not None:
                return refused
            wanted = [cap for cap in _WANTED_CAPS if cap in outbound.caps_offered]
            wanted += self._sasl_wanted()
            if wanted:
                return [f"CAP REQ :{' '.join(wanted)}"]
        elif sub not in ("ACK", "NAK"):
            return []
        else:
            login_lines = self._cap_answered(sub, msg.params[-1].split())
            if login_lines is not None:
                return login_lines
        outbound.cap_done = True
        return ["CAP END"]

    def _on_standard_reply(self, msg: Message) -> list[str]:
        return self._say(msg.params[-1]) if len(msg.params) >= 3 else []

    # -- numeric replies ------------------------------------------------------

    def _on_numeric(self, msg: Message) -> list[str]:
        code = msg.command
        if self._nick is None and code in NICK_REJECTED:
            if self._outbound is not None:
                return self._try_another_nick(msg)
            return self._on_nick_rejected(msg)
        if self._nick is not None and code in NICK_CHANGE_REFUSED:
            return self._on_nick_change_refused(msg)
        if self._outbound is not None and self._nick is None and code in _SILENT_BEFORE_WELCOME:
            return []
        if self._outbound is not None and "400" <= code < "600":
            self._outbound.autojoin_pending.discard(irc_lower(msg.param(1)))
        if code in _SILENT_NUMERICS:
            return []
        if code in _WHOIS_SENTENCES:
            return (
                self._tell(Nick(msg.param(1)), " ", msg.params[-1]) if len(msg.params) >= 3 else []
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

    def _on_welcome(self, msg: Message) -> list[str]:
        first_welcome = self._nick is None
        self._nick = msg.param(0) or self._nick
        if not first_welcome or self._nick is None:
            return []
        if self._outbound is not None:
            return self._welcomed_without_login() or self._outbound_welcome(self._outbound)
        self._tell(
            "Welcome, ",
            Nick(self._nick),
            "! Type a message and press Enter to talk; /help lists commands.",
        )
        # A person is served by our own core, which offers these: no CAP LS needed.
        lines = [f"CAP REQ :{' '.join((*PRESENCE_CAPS, *HISTORY_CAPS))}"]
        if self._default_channel and is_middle(self._default_channel):
            lines.append(f"JOIN {self._default_channel}")
        return lines

    def _on_isupport(self, msg: Message) -> list[str]:
        for token in msg.params[1:-1]:
            key, _, value = token.partition("=")
            if key == "CHANTYPES" and value:
                self._chantypes = value
            elif key == "NICKLEN" and value.isdecimal():
                self._nick_length = int(value)
            elif key == "PREFIX" and ")" in value:
                self._status_prefixes = value.partition(")")[2] or STATUS_PREFIXES
            elif key == "MONITOR":
                self._monitor_limit = int(value) if value.isdecimal() else 0
            elif key == "BOT" and len(value) == 1:
                self._bot_mode = value
            elif key == "CHATHISTORY" and value.isdecimal():
                self._history_max = int(value)
        outbound = self._outbound
        if outbound is not None and outbound.notify and self._monitor_limit is not None:
            nicks, outbound.notify = outbound.notify, []
            return [f"MONITOR + {','.join(nicks)}"]  # a reconnect: the same list again
        return []

    def _on_motd_line(self, msg: Message) -> list[str]:
        if self._outbound is not None or not self._show_motd:
            return []  # the client keeps its start short: no message of the day
        text = msg.params[-1] if len(msg.params) >= 2 else ""
        return self._say(text[2:] if text.startswith("- ") else text.removeprefix("-"))

    def _on_target_away(self, msg: Message) -> list[str]:
        return self._tell(Nick(msg.param(1)), " is away: ", msg.param(2))

    def _on_whois_user(self, msg: Message) -> list[str]:
        nick, user, host, realname = msg.param(1), msg.param(2), msg.param(3), msg.param(5)
        return self._tell(Nick(nick), f" ({user}@{host}): ", realname)

    def _on_whois_server(self, msg: Message) -> list[str]:
        nick, server, info = msg.param(1), msg.param(2), msg.param(3)
        return self._tell(Nick(nick), f" is connected to {server}", parenthesised(info))

    def _on_whois_idle(self, msg: Message) -> list[str]:
        nick, idle = msg.param(1), msg.param(2)
        if not idle.isdecimal() or len(idle) > 12:
            return []
        return self._tell(Nick(nick), f" has been idle for {duration(int(idle))}")

    def _on_whois_channels(self, msg: Message) -> list[str]:
        return self._tell(Nick(msg.param(1)), " is in: ", msg.param(2))

    def _on_whois_account(self, msg: Message) -> list[str]:
        return self._tell(Nick(msg.param(1)), " is logged in as ", msg.param(2))

    def _on_who_entry(self, msg: Message) -> list[str]:
        if len(msg.params) < 8:
            return []
        _, _, user, host, _, nick, flags, last = msg.params[:8]
        realname = last.partition(" ")[2] if last[:1].isdigit() else last
        self._who_count += 1
        away = " (away)" if flags.startswith("G") else ""
        bot = " (bot)" if self._bot_mode and self._bot_mode in flags[1:] else ""
        return self._tell(Nick(nick), f" ({user}@{host}){away}{bot}: ", realname)

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
        parts: list[str | Nick] = [f"People in {room}: "]
        for index, name in enumerate(nicks):
            bare = name.lstrip(self._status_prefixes)
            if index:
                parts.append(", ")
            parts += [name[: len(name) - len(bare)], Nick(bare)]
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
        room, mask, setter = msg.param(1), msg.param(2), nick_of(msg.param(3))
        self._ban_count += 1
        by = (" (by ", Nick(setter), ")") if setter else ()
        return self._tell(f"Banned in {room}: {mask}", *by)

    def _on_ban_list_end(self, msg: Message) -> list[str]:
        found, self._ban_count = self._ban_count, 0
        return [] if found else self._say(f"Nobody is banned in {msg.param(1)}.")

    def _on_channel_mode(self, msg: Message) -> list[str]:
        return self._say(f"Mode of {msg.param(1)}: {' '.join(msg.params[2:])}")
