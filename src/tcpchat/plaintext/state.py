"""What typed commands and server rendering share: session state and the text queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocol import irc_lower
from .text import displayable

NICK_PROMPT = "What's your nickname? "


@dataclass(frozen=True, slots=True)
class Nick:
    """A nick inside a sentence: shown through the session's `style_nick`, if any."""

    name: str


@dataclass(slots=True)
class Outbound:
    """A session dialled out by the terminal client, not a person behind our server: a nick
    chosen up front (and the next to try when taken), rooms to (re)join, CAP."""

    wanted_nick: str
    trying: str
    channels: list[str]
    prefer_current: str | None
    welcome_text: str
    tried: set[str] = field(default_factory=set)
    nick_limit: int = 30
    nick_base: str = ""
    nick_problem: str = ""  # "taken", "reserved" or "not allowed", told once welcomed
    refusals: int = 0  # 431/432 replies: the server found our nick malformed
    caps_offered: set[str] = field(default_factory=set)
    cap_done: bool = False
    autojoin_pending: set[str] = field(default_factory=set)
    notify: list[str] = field(default_factory=list)  # to MONITOR again once it is offered
    quitting: bool = False


class SessionState:
    """The state `PlainSession.__init__` sets up, and helpers both directions use."""

    _default_channel: str
    _server_name: str
    _nick_length: int
    _show_motd: bool
    _style_nick: Callable[[str], str] | None
    _outbound: Outbound | None
    _chantypes: str
    _status_prefixes: str
    _nick: str | None
    _joined: dict[str, str]
    _current: str | None
    _pending_names: dict[str, list[str]]
    _pending_rooms: list[tuple[str, str, str]]
    _who_count: int
    _ban_count: int
    _out: list[str]
    _notify: dict[str, str]  # /notify: folded nick -> nick as typed
    _monitor_limit: int | None  # MONITOR=, once ISUPPORT offers it (0: no limit)
    _monitor_listed: list[str]  # 732 replies until the 733 that ends them
    _bot_mode: str  # BOT=, the WHO flag that marks a bot ("" until offered)

    # -- output helpers -------------------------------------------------------

    def _say(self, *lines: str) -> list[str]:
        """Queue whole lines for the person; returns no IRC lines, for handler brevity."""
        for line in lines:
            self._out.extend(displayable(part) + "\r\n" for part in line.split("\n"))
        return []

    def _tell(self, *parts: str | Nick) -> list[str]:
        """Queue one sentence made of text and nicks; each nick goes through `style_nick`."""
        self._out.append(self._sentence(*parts) + "\r\n")
        return []

    def _sentence(self, *parts: str | Nick) -> str:
        """One line made of text and nicks, each nick through `style_nick`.

        Parts are made safe one by one, so the escape sequences that styling adds
        survive while anything a peer sent is still stripped of them.
        """
        shown = []
        for part in parts:
            if isinstance(part, Nick):
                nick = displayable(part.name).replace("\n", " ")
                shown.append(self._style_nick(nick) if self._style_nick and nick else nick)
            else:
                shown.append(displayable(part).replace("\n", " "))
        return "".join(shown)

    def _prompt(self, text: str) -> None:
        """Queue a question left open on its line, as the nickname prompt is."""
        self._out.append(displayable(text))

    # -- shared by both directions ----------------------------------------------

    def _is_me(self, nick: str) -> bool:
        return self._nick is not None and irc_lower(nick) == irc_lower(self._nick)

    def _nick_rule(self) -> str:
        """What a nickname may be made of, for sentences that refuse one."""
        return (
            "letters, digits and -[]\\`_^{|}, up to "
            f"{self._nick_length} characters, not starting with a digit or -"
        )

    def _nick_not_allowed(self, nick: str) -> str:
        return f"{nick} isn't allowed ({self._nick_rule()}); pick another nickname: "

    def _looks_like_channel(self, word: str) -> bool:
        return bool(word) and word[0] in self._chantypes
