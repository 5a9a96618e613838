"""Refused nicknames, explained: a prompt before the welcome, a sentence after it,
and in outbound mode the next nickname to try (and, once welcomed, what became of ours)."""

from __future__ import annotations

from ..protocol import Message, irc_lower
from .state import NICK_PROMPT, Nick, Outbound, SessionState
from .text import nick_candidates, sane_nick

# Replies refusing a nick while registering.
NICK_REJECTED = frozenset({"431", "432", "433", "436", "437"})
# After the welcome, the refusals that can only be about a nick (437 may be a channel's).
NICK_CHANGE_REFUSED = frozenset({"432", "433", "436"})
# RFC 1459's NICKLEN, which every server allows; ISUPPORT only comes after the welcome.
_SAFE_NICK_LENGTH = 9


class NicknameMixin(SessionState):
    """What to say, or try next, when the server refuses a nick."""

    def _nick_refusal(self, msg: Message) -> tuple[str, str, str]:
        """The refused nick, why ("taken", "reserved", "invalid" or "refused"), and the
        server's own words. A 432 has no code for why: a reserved nick is told by the
        server's words (ours and UnrealIRCd's say "reserved"), a nick that breaks the
        nick rule by the nick itself, and anything else is the server's own choice."""
        nick = msg.param(1) if len(msg.params) >= 3 else ""
        words = msg.params[-1] if len(msg.params) >= 2 else ""
        if msg.command in ("433", "436", "437"):  # in use, collided, or held for a while
            return nick, "taken", words
        if "reserved" in words.lower():
            return nick, "reserved", words
        if msg.command == "431" or sane_nick(nick, self._nick_length) != nick:
            return nick, "invalid", words
        return nick, "refused", words

    def _on_nick_rejected(self, msg: Message) -> list[str]:
        """Plain mode, before the welcome: ask again, saying what was wrong."""
        nick, why, words = self._nick_refusal(msg)
        if not nick:
            self._prompt(NICK_PROMPT)
        elif why == "invalid":
            self._prompt(self._nick_not_allowed(nick))
        elif why == "refused":
            self._prompt(f"{nick} was refused ({words}); pick another nickname: ")
        else:
            self._prompt(f"{nick} is {why}; pick another nickname: ")
        return []

    def _on_nick_change_refused(self, msg: Message) -> list[str]:
        """After the welcome (/nick): a sentence, not the server's terse words."""
        nick, why, words = self._nick_refusal(msg)
        if not nick:
            return []  # a malformed reply: nothing sensible to say
        reason = {
            "taken": "that nickname is taken.",
            "reserved": "that nickname is reserved for the server's own use.",
            "invalid": f"that nickname isn't allowed ({self._nick_rule()}).",
        }.get(why, f"the server refused it ({words}).")
        return self._say(f"You can't be {nick}: {reason}")

    def _try_another_nick(self, msg: Message) -> list[str]:
        """Outbound: the server refused our nick while registering; try the next one."""
        outbound = self._outbound
        assert outbound is not None
        _, why, _ = self._nick_refusal(msg)
        if why in ("invalid", "refused"):
            # First refusal: cut to the length every server allows, drop odd characters
            # (or, if that changes nothing, try the next variant). Then: "guest".
            outbound.nick_problem = outbound.nick_problem or "not allowed"
            outbound.nick_limit = min(outbound.nick_limit, _SAFE_NICK_LENGTH)
            outbound.refusals += 1
            first = outbound.refusals == 1
            outbound.nick_base = (
                sane_nick(outbound.nick_base, outbound.nick_limit) if first else "guest"
            )
        else:
            outbound.nick_problem = outbound.nick_problem or why
        for candidate in nick_candidates(outbound.nick_base, outbound.nick_limit):
            if irc_lower(candidate) not in outbound.tried:
                outbound.tried.add(irc_lower(candidate))
                outbound.trying = candidate
                return [f"NICK {candidate}"]
        outbound.quitting = True
        self._say("The server accepted none of the nicknames tried; pick one with --nick.")
        return ["QUIT :No nickname"]

    def _outbound_welcome(self, outbound: Outbound) -> list[str]:
        outbound.cap_done = True
        self._say(outbound.welcome_text)
        if self._nick != outbound.wanted_nick:
            why = {
                "taken": "is taken",
                "reserved": "is reserved",
                "not allowed": "isn't allowed here",
            }.get(
                outbound.nick_problem, "was changed by the server"
            )
            nick = Nick(self._nick or "")
            self._tell(f"The nickname {outbound.wanted_nick} {why}; you are ", nick, " instead.")
        if not outbound.channels:
            return []
        outbound.autojoin_pending = {irc_lower(room) for room in outbound.channels}
        lines, batch = [], ""
        for room in outbound.channels:
            if batch and len(batch) + len(room) > 400:
                lines.append(f"JOIN {batch}")
                batch = ""
            batch = f"{batch},{room}" if batch else room
        return [*lines, f"JOIN {batch}"]
