"""SEARCH: find past messages by their words (IRCv3 `draft/search`, a work in progress).

    SEARCH <attributes>      e.g.  SEARCH text=release\\sdate;in=#dev;limit=10

The attributes are written as message tags are (`key=value;...`, values escaped: `\\s` for
a space). Spaces are accepted too (`SEARCH text=release date`: the parameters are joined
again), for people typing it by hand. Known attributes: `text` (words that must all be in
the message; whole words, case and accents aside), `in` (a channel or a nick: the
conversation with them), `from` (a nick), `after` and `before` (server-time timestamps),
`limit` (at most `MAX_LIMIT`; `DEFAULT_LIMIT` without it).

Only what the asker may read is searched: the channels they are in now, and their own
private conversations: those kept by their account, whole; those kept by their current nick
(when a side was not logged in) only from when they took it, since a nick proves nothing
(someone else may have had it before), as CHATHISTORY reads them. The
newest matches come (or, with `after`, the oldest from then on), oldest first: in a `search`
batch to a client with `batch`, each message as it was first delivered; else as server
NOTICEs, one sentence each ("[14:02] #room alice says: ..."), which is also what a
plain-text person sees after /search. A person gets a few searches every few seconds
(core/history.py: SEARCHES_PER_WINDOW); one more is refused (`FAIL SEARCH RATE_LIMITED`).
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...protocol import (
    Message,
    ProtocolError,
    irc_lower,
    is_channel_name,
    parse,
    unescape_tag_value,
)
from ...store.search import Found, Query, conversations_of, search
from ..base import ChatBase
from ..capabilities import BATCH, MULTILINE
from ..history import conversation_side
from ..model import Session, User
from ..replay import replay_lines

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "SEARCH_BATCH", "handle_search", "parse_attributes"]

SEARCH_BATCH = "search"  # the batch type the draft names
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_WORDS = 16
MAX_TEXT = 300  # characters of `text`
ATTRIBUTES = frozenset({"text", "in", "from", "after", "before", "limit"})
NOT_READABLE = "You can search only the channels you are in and your own conversations"


def parse_attributes(raw: str) -> dict[str, str]:
    """`key=value;...` as message tags are written (values unescaped), though a value may
    hold spaces. Raises ValueError for a key that is empty or has a space."""
    out: dict[str, str] = {}
    for item in raw.split(";"):
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if not key or " " in key:
            raise ValueError(f"not an attribute: {item[:32]}")
        out[key] = unescape_tag_value(value)
    return out


def _timestamp(value: str) -> float:
    """A server-time timestamp (`2024-01-04T14:33:26.123Z`) as seconds. Raises ValueError."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.timestamp()


class _Invalid(Exception):
    """An attribute that can't be used: its name and why."""

    def __init__(self, attribute: str, why: str) -> None:
        super().__init__(why)
        self.attribute = attribute


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise _Invalid("limit", "limit must be a positive number")
    return min(int(value), MAX_LIMIT)


def _words(value: str | None) -> list[str]:
    if value is None:
        return []
    if len(value) > MAX_TEXT:
        raise _Invalid("text", f"The text to search is too long (at most {MAX_TEXT} characters)")
    words = value.split()
    if not words:
        raise _Invalid("text", "The text to search is empty")
    if len(words) > MAX_WORDS:
        raise _Invalid("text", f"Too many words to search (at most {MAX_WORDS})")
    return words


def _moment(attributes: dict[str, str], name: str) -> float | None:
    value = attributes.get(name)
    if value is None:
        return None
    try:
        return _timestamp(value)
    except ValueError:
        raise _Invalid(name, f"{name} must be a time such as 2024-01-04T14:33:26.000Z") from None


def _my_sides(user: User) -> list[str]:
    """The ids a conversation may know this user by: their account's, their nick's."""
    sides = [conversation_side(user, False)]
    if user.account is not None:
        sides.append(conversation_side(user, True))
    return sides


def _their_sides(core: ChatBase, nick: str) -> set[str]:
    folded = irc_lower(nick)
    sides = {folded}
    other = core.find_user(nick)
    if other is not None and other.account is not None:
        sides.add(conversation_side(other, True))
    return sides


def handle_search(core: ChatBase, session: Session, msg: Message) -> None:
    if not core.settings.history:
        core.fail(session, "SEARCH", "UNAVAILABLE", "This server keeps no history")
        return
    try:
        attributes = parse_attributes(" ".join(msg.params))
    except ValueError:
        core.fail(session, "SEARCH", "INVALID_PARAMS", "Invalid parameters")
        return
    unknown = sorted(set(attributes) - ATTRIBUTES)
    if unknown:
        core.fail(session, "SEARCH", "INVALID_PARAMS", unknown[0][:32],
                  f"Unknown attribute {unknown[0][:32]}")  # fmt: skip
        return
    user = session.user
    try:
        words = _words(attributes.get("text"))
        limit = _limit(attributes.get("limit"))
        after, before = _moment(attributes, "after"), _moment(attributes, "before")
    except _Invalid as invalid:
        core.fail(session, "SEARCH", "INVALID_PARAMS", invalid.attribute, str(invalid))
        return
    where = attributes.get("in")
    channels: list[str] = []
    partner: str | None = None
    if where is None:
        channels = list(user.channels)
    elif is_channel_name(where):
        if irc_lower(where) not in user.channels:
            core.fail(session, "SEARCH", "INVALID_PARAMS", "in", NOT_READABLE)
            return
        channels = [irc_lower(where)]
    else:
        partner = where
    sender = attributes.get("from")
    if not core.history.searches.allow(user.uid, core.clock()):
        core.fail(session, "SEARCH", "RATE_LIMITED", "Too many searches; wait a few seconds")
        return
    mine = _my_sides(user)
    theirs = _their_sides(core, partner) if partner is not None else None
    folded_partner = irc_lower(partner) if partner is not None else None

    since = user.nick_since

    def work(c: Any) -> list[Found]:
        targets = list(channels)
        recent: list[str] = []
        private = conversations_of(c, mine) if where is None or partner is not None else []
        for key, one, other, one_name, other_name in private:
            mine_id, their_id, their_name = (
                (one, other, other_name) if one in mine else (other, one, one_name)
            )
            if theirs is None or their_id in theirs or irc_lower(their_name) == folded_partner:
                # Kept by nick: someone else may have had the nick before they took it.
                (recent if not mine_id.startswith("~") else targets).append(key)
        folded = irc_lower(sender) if sender else None
        return search(c, Query(targets, words, folded, after, before, limit, recent, since))

    core.later(session, lambda done: core.history.search(work, done), _answer)


def _answer(core: ChatBase, session: Session, found: list[Found] | None) -> None:
    if found is None:
        core.fail(session, "SEARCH", "INTERNAL_ERROR", "The search could not be run")
        return
    if BATCH in session.caps:
        _as_batch(core, session, found)
    else:
        _as_notices(core, session, found)


def _as_batch(core: ChatBase, session: Session, found: Sequence[Found]) -> None:
    server = core.settings.server_name
    ref = core.new_batch_ref()
    multiline = MULTILINE in session.caps
    write = session.write
    write(f":{server} BATCH +{ref} {SEARCH_BATCH}\r\n".encode())
    for each in found:
        row = each.row
        inner = core.new_batch_ref() if multiline and row.lines is not None else None
        for line in replay_lines(row, session.tag_mask, ref, inner):
            write(line.encode() + b"\r\n")
    write(f":{server} BATCH -{ref}\r\n".encode())


def _as_notices(core: ChatBase, session: Session, found: Sequence[Found]) -> None:
    """One server NOTICE per message, a sentence with its time (UTC), where and who."""
    if not found:
        core.notice(session, "No messages found.")
        return
    count = len(found)
    core.notice(session, f"Found {count} message{'s' if count != 1 else ''} (times in UTC):")
    today = _time.strftime("%Y-%m-%d", _time.gmtime(core.clock()))
    for each in found:
        for text in sentences(each, today):
            core.notice(session, text)


def sentences(found: Found, today: str) -> list[str]:
    """A message found, as sentences: `[14:02] #room alice says: text` (the date too when
    it is not `today`); `[14:02] alice says to bob: text` in a private conversation."""
    row = found.row
    try:
        msg = parse(row.line)
    except ProtocolError:
        return []
    nick = (msg.source or "").partition("!")[0]
    target = msg.param(0)
    day = _time.strftime("%Y-%m-%d", _time.gmtime(row.time))
    clock = _time.strftime("%H:%M", _time.gmtime(row.time))
    when = f"[{clock}]" if day == today else f"[{day} {clock}]"
    if row.lines is not None:
        parts: list[list[Any]] = json.loads(row.lines)
        texts = [str(text) for text, _ in parts if text]
    else:
        texts = [msg.params[-1]] if len(msg.params) >= 2 else []
    channel = is_channel_name(target)
    if len(texts) == 1 and texts[0].startswith("\x01ACTION ") and texts[0].endswith("\x01"):
        where = f"{target} " if channel else ""
        to = "" if channel else f" (to {target})"
        return [f"{when} {where}* {nick} {texts[0][8:-1]}{to}"]
    head = f"{when} {target} {nick} says: " if channel else f"{when} {nick} says to {target}: "
    return [(head if i == 0 else "    ") + text for i, text in enumerate(texts)]
