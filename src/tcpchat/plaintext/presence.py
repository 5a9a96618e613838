"""Who is around and who they are: /notify over IRCv3 MONITOR, and the news of
someone's address (chghost), real name (setname) and absence (away-notify, for people on
one's notify list), both directions of it in one place.

The capabilities asked for are the ones whose lines read well as sentences: with chghost
a changed address is one line instead of a quit and a join; message-tags brings the `bot`
tag that marks a bot's words; invite-notify says who invited whom to a room.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import Message, irc_lower
from .state import Nick, SessionState
from .text import is_middle, nick_of

# What a person (and the terminal client) asks for once the server offers it.
PRESENCE_CAPS = (
    "away-notify",
    "chghost",
    "extended-monitor",
    "invite-notify",
    "message-tags",
    "setname",
)
NO_MONITOR = "This server doesn't offer MONITOR, so /notify can't work here."


def is_bot(msg: Message) -> bool:
    """Whether the server tagged the sender as a bot (IRCv3 bot-mode, or its draft)."""
    return "bot" in msg.tags or "draft/bot" in msg.tags


class PresenceMixin(SessionState):
    """/notify and /unnotify, and the lines that tell of people coming, going, changing."""

    def _presence_commands(self) -> dict[str, Callable[[str], list[str]]]:
        return {"notify": self._cmd_notify, "unnotify": self._cmd_unnotify}

    def _presence_server_commands(self) -> dict[str, Callable[[Message], list[str]]]:
        return {"CHGHOST": self._on_chghost, "SETNAME": self._on_setname, "AWAY": self._on_away}

    def _presence_numerics(self) -> dict[str, Callable[[Message], list[str]]]:
        return {
            "730": lambda m: self._on_monitor_news(m, "online"),
            "731": lambda m: self._on_monitor_news(m, "offline"),
            "732": self._on_monitor_list,
            "733": self._on_monitor_list_end,
            "734": self._on_monitor_full,
        }

    @property
    def notify_list(self) -> list[str]:
        """The nicks /notify asked about, as typed: what a reconnecting client asks again."""
        return list(self._notify.values())

    # -- typed ------------------------------------------------------------------

    def _cmd_notify(self, args: str) -> list[str]:
        if self._monitor_limit is None:
            return self._say(NO_MONITOR)
        nicks = [nick for nick in args.replace(",", " ").split() if nick]
        if not nicks:
            return ["MONITOR L", "MONITOR S"]
        bad = next((nick for nick in nicks if not is_middle(nick) or nick[0] in "#&"), None)
        if bad is not None:
            return self._say(f"That isn't a nickname: {bad}")
        for nick in nicks:
            self._notify[irc_lower(nick)] = nick
        return [f"MONITOR + {','.join(nicks)}"]

    def _cmd_unnotify(self, args: str) -> list[str]:
        nicks = [nick for nick in args.replace(",", " ").split() if is_middle(nick)]
        if not nicks:
            return self._say("Usage: /unnotify nick")
        if self._monitor_limit is None:
            return self._say(NO_MONITOR)
        for nick in nicks:
            self._notify.pop(irc_lower(nick), None)
        shown = ", ".join(nicks)
        self._say(f"You will no longer be told when {shown} comes or goes.")
        return [f"MONITOR - {','.join(nicks)}"]

    # -- from the server -----------------------------------------------------------

    def _on_monitor_news(self, msg: Message, state: str) -> list[str]:
        for entry in msg.param(1).split(","):
            nick = nick_of(entry)
            if nick:
                self._tell(Nick(nick), f" is {state}.")
        return []

    def _on_monitor_list(self, msg: Message) -> list[str]:
        self._monitor_listed.extend(nick for nick in msg.param(1).split(",") if nick)
        return []

    def _on_monitor_list_end(self, _msg: Message) -> list[str]:
        nicks, self._monitor_listed = self._monitor_listed, []
        if not nicks:
            return self._say("Your notify list is empty; /notify nick adds someone.")
        parts: list[str | Nick] = ["On your notify list: "]
        for index, nick in enumerate(nicks):
            parts += [", ", Nick(nick)] if index else [Nick(nick)]
        return self._tell(*parts, ".")

    def _on_monitor_full(self, msg: Message) -> list[str]:
        limit, refused = msg.param(1), [nick for nick in msg.param(2).split(",") if nick]
        for nick in refused:
            self._notify.pop(irc_lower(nick), None)
        return self._say(
            f"Your notify list is full (at most {limit}); not added: {', '.join(refused)}."
        )

    def _on_chghost(self, msg: Message) -> list[str]:
        nick, user, host = nick_of(msg.source), msg.param(0), msg.param(1)
        if not nick or not user or not host:
            return []
        if self._is_me(nick):
            return self._say(f"Your address is now {user}@{host}.")
        return self._tell("* ", Nick(nick), f"'s address is now {user}@{host}")

    def _on_setname(self, msg: Message) -> list[str]:
        nick, realname = nick_of(msg.source), msg.param(0)
        if not nick:
            return []
        if self._is_me(nick):
            return self._say(f"Your real name is now: {realname}")
        return self._tell("* ", Nick(nick), "'s real name is now: ", realname)

    def _on_away(self, msg: Message) -> list[str]:
        """away-notify brings everyone's; only the people on the notify list are news."""
        nick = nick_of(msg.source)
        if irc_lower(nick) not in self._notify:
            return []
        if msg.params and msg.params[0]:
            return self._tell(Nick(nick), " is away: ", msg.params[0])
        return self._tell(Nick(nick), " is back.")
