"""/search and /forget, and what a `search` batch (IRCv3 draft/search) shows a person.

`/search [#room] words` sends `SEARCH [in=#room;]text=words`. A person's session has `batch`
and `server-time` (history.py asks for them), so the messages found come in a
`BATCH +ref search`: they are not news, and are gathered until the batch ends, then shown
under one line, each as `[14:02] #room alice says: ...` (its time as /history shows it).
Without `batch`, the server says the same in NOTICE sentences, shown as they come.

`/forget` explains and asks; `/forget yes` sends `HISTORY FORGET`, whose NOTE says how many
messages went.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import Message, escape_tag_value
from .history import history_time
from .state import Nick, SessionState
from .text import nick_of

__all__ = ["SEARCH_BATCH", "SearchMixin"]

SEARCH_BATCH = "search"


class SearchMixin(SessionState):
    """Asks SEARCH and HISTORY FORGET; shows search batches."""

    _search_batches: dict[str, list[str]]  # open search batches by reference: lines found

    def _search_commands(self) -> dict[str, Callable[[str], list[str]]]:
        return {"search": self._cmd_search, "forget": self._cmd_forget}

    def _cmd_search(self, args: str) -> list[str]:
        words = args.split(None, 1)
        attributes = ""
        if words and self._looks_like_channel(words[0]):
            attributes = f"in={escape_tag_value(words[0])};"
            args = words[1] if len(words) > 1 else ""
        if not args.strip():
            return self._say("Usage: /search [#room] words")
        return [f"SEARCH {attributes}text={escape_tag_value(' '.join(args.split()))}"]

    def _cmd_forget(self, args: str) -> list[str]:
        if args.strip().lower() != "yes":
            return self._say(
                "This deletes the messages you sent from the server's history: all your "
                "account's if you are logged in, else those sent since you connected. "
                "Type /forget yes to do it."
            )
        return ["HISTORY FORGET"]

    def _search_batch(self, msg: Message) -> bool:
        """A BATCH line opening or closing a search batch (True), or another one."""
        ref = msg.param(0)
        if ref.startswith("+") and msg.param(1) == SEARCH_BATCH:
            self._search_batches[ref[1:]] = []
            return True
        if ref.startswith("-") and ref[1:] in self._search_batches:
            found = self._search_batches.pop(ref[1:])
            if not found:
                self._say("No messages found.")
                return True
            count = len(found)
            self._say(f"Found {count} message{'s' if count != 1 else ''}:")
            self._out.extend(line + "\r\n" for line in found)
            return True
        return False

    def _found(self, msg: Message, found: list[str]) -> list[str]:
        """A message of a search batch: kept to be shown when the batch ends."""
        if msg.command not in ("PRIVMSG", "NOTICE") or len(msg.params) < 2:
            return []
        target, text = msg.params[0], msg.params[1]
        sender = nick_of(msg.source) if msg.source and "!" in msg.source else ""
        when = history_time(msg.tags.get("time"))
        channel = self._looks_like_channel(target)
        where = f"{target} " if channel else ""
        parts: tuple[str | Nick, ...]
        if text.startswith("\x01ACTION ") and text.endswith("\x01"):
            to = () if channel else (" (to ", Nick(target), ")")
            parts = (when, where, "* ", Nick(sender), " ", text[8:-1], *to)
        elif channel:
            parts = (when, where, Nick(sender), " says: ", text)
        else:
            parts = (when, Nick(sender), " says to ", Nick(target), ": ", text)
        found.append(self._sentence(*parts))
        return []
