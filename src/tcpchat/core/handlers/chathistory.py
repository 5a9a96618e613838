"""CHATHISTORY (IRCv3 draft/chathistory): what was said in a channel one is in, or in one's
own private conversation with a nick, sent again as it was first delivered.

`CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <ref> <limit>`, `BETWEEN <target> <ref>
<ref> <limit>` and `TARGETS <timestamp=...> <timestamp=...> <limit>`; a ref is
`msgid=...`, `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`, or `*` (LATEST only). The answer is a
`chathistory` batch (a `draft/chathistory-targets` batch for TARGETS) when the client has
`batch`, else the same lines without one, as Ergo does. Only PRIVMSG and NOTICE lines
(and a note of lines that could not be stored) unless the client has draft/event-playback;
TAGMSG then too, to a client with message-tags.

Who may read what: a channel only while one is in it; a private conversation only one's
own, kept by account when both sides were logged in (then it follows the account), else by
nick (then one sees it from when one took the nick: never what the nick's earlier holder
said). Anything else is `FAIL CHATHISTORY INVALID_TARGET`, the same for a channel that
does not exist as for one that may not be read.

The query runs on the database's thread through `core.later`, after the rows waiting to be
written (`History.read`): the session's next lines wait for the answer, so replies keep
their order, one request of a session is in flight at a time, and a flood of requests is
held by flood control like any other lines. A msgid the target has not got answers an empty
batch, as Ergo does (the message may have expired); a time in the future, too.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ...protocol import Message, irc_lower, is_channel_name
from ...store import chathistory as queries
from ...store.chathistory import Ref
from ...store.history import conversation_key
from ..base import ChatBase
from ..capabilities import BATCH, EVENT_PLAYBACK, HISTORY_BATCH, MULTILINE
from ..history import conversation_side
from ..lines import format_server_time
from ..model import WANTS_TAGS, Session
from ..replay import replay_lines

COMMAND = "CHATHISTORY"
TARGETS_BATCH = "draft/chathistory-targets"
# subcommand -> how many references it takes
SUBCOMMANDS = {"LATEST": 1, "BEFORE": 1, "AFTER": 1, "AROUND": 1, "BETWEEN": 2, "TARGETS": 2}
# What a client without draft/event-playback is sent (GAP: a note of lines not stored).
MESSAGES_ONLY = ("PRIVMSG", "NOTICE", "GAP")
NOT_TAGMSG = ("PRIVMSG", "NOTICE", "GAP", "JOIN", "PART", "QUIT", "KICK", "NICK", "TOPIC", "MODE")

_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                        r"\.([0-9]{3})Z\Z")  # fmt: skip
_LIMIT = re.compile(r"[0-9]+\Z")
_LIMIT_DIGITS = 9  # a longer limit is as good as a huge one (and int() need not read it)


class Refusal(Exception):
    """A request the spec refuses: `FAIL CHATHISTORY <code> <context...> :<text>`."""

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code)
        self.params = (code, *params)


class Request(NamedTuple):
    subcommand: str
    target: str  # as given ('' for TARGETS)
    refs: tuple[Ref | None, ...]  # None: `*`
    limit: int


def handle_chathistory(core: ChatBase, session: Session, msg: Message) -> None:
    try:
        request = parse(msg.params, core.settings.chathistory_max)
        if not core.settings.history:
            raise Refusal("MESSAGE_ERROR", request.subcommand, request.target or "*",
                          "History is not kept on this server")  # fmt: skip
        if request.subcommand == "TARGETS":
            _targets(core, session, request)
        else:
            _history(core, session, request)
    except Refusal as refusal:
        core.fail(session, COMMAND, *refusal.params)


# ------------------------------------------------------------------- parsing


def parse(params: list[str], maximum: int) -> Request:
    """The request in `params` (the subcommand first), or the Refusal that answers it."""
    if not params:
        raise Refusal("INVALID_PARAMS", "*", "Insufficient parameters")
    subcommand = params[0].upper()
    refs_wanted = SUBCOMMANDS.get(subcommand)
    if refs_wanted is None:
        raise Refusal("INVALID_PARAMS", _safe(params[0]), "Unknown subcommand")
    targeted = subcommand != "TARGETS"
    wanted = 1 + targeted + refs_wanted + 1
    if len(params) < wanted:
        raise Refusal("INVALID_PARAMS", subcommand, "Insufficient parameters")
    if len(params) > wanted:
        raise Refusal("INVALID_PARAMS", subcommand, "Too many parameters")
    target = params[1] if targeted else ""
    if targeted and (not target or " " in target or target.startswith(":")):
        raise Refusal("INVALID_PARAMS", subcommand, "Invalid target")
    first = 1 + targeted
    refs = tuple(_ref(subcommand, params[first + i]) for i in range(refs_wanted))
    return Request(subcommand, target, refs, _limit(subcommand, params[-1], maximum))


def _ref(subcommand: str, text: str) -> Ref | None:
    """A message reference; None for `*` (LATEST's "no bound")."""
    if text == "*":
        if subcommand == "LATEST":
            return None
        raise Refusal("INVALID_MSGREFTYPE", subcommand, "*", "* is only for LATEST")
    kind, equals, value = text.partition("=")
    kind = kind.lower()
    if equals and kind == "msgid" and subcommand == "TARGETS":
        raise Refusal("INVALID_MSGREFTYPE", subcommand, _safe(text), "TARGETS takes timestamps")
    if equals and kind == "msgid" and value:
        return Ref(msgid=value)
    if equals and kind == "timestamp":
        when = parse_timestamp(value)
        if when is None:
            raise Refusal("INVALID_PARAMS", subcommand, _safe(text), "Invalid timestamp")
        return Ref(time=when)
    if equals and kind == "msgid":
        raise Refusal("INVALID_PARAMS", subcommand, _safe(text), "Invalid msgid")
    raise Refusal("INVALID_MSGREFTYPE", subcommand, _safe(text),
                  "Unknown message reference type; MSGREFTYPES=msgid,timestamp")  # fmt: skip


def parse_timestamp(text: str) -> float | None:
    """`YYYY-MM-DDThh:mm:ss.sssZ` (server-time's format) as seconds since the epoch."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, millis = (int(part) for part in match.groups())
    if not (year and 1 <= month <= 12 and hour < 24 and minute < 60 and second < 61):
        return None  # (second 60: a leap second)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hour, minute, second)) + millis / 1000


def _limit(subcommand: str, text: str, maximum: int) -> int:
    """A positive number of lines; more than `maximum` (CHATHISTORY=) gets `maximum`."""
    digits = text.lstrip("0")
    if _LIMIT.match(text) is None or not digits:
        raise Refusal("INVALID_PARAMS", subcommand, _safe(text), "Invalid limit")
    if len(digits) > _LIMIT_DIGITS:
        return maximum
    return min(int(digits), maximum)


def _safe(text: str) -> str:
    """A word of the request, fit to be echoed as a middle parameter."""
    text = text.replace(" ", "_")[:64]
    return "*" if not text or text.startswith(":") else text


# ------------------------------------------------------------- permissions


def _kinds(session: Session) -> tuple[str, ...] | None:
    """The kinds of rows this session is sent (None: every kind)."""
    if EVENT_PLAYBACK not in session.caps:
        return MESSAGES_ONLY
    return None if session.tag_mask & WANTS_TAGS else NOT_TAGMSG


def _sides(session: Session) -> list[tuple[str, float | None]]:
    """How the requester's private conversations name them, each with when their view
    of it starts: by account (all of it), and by their nick (from when they took it)."""
    user = session.user
    sides: list[tuple[str, float | None]] = []
    if user.account is not None:
        sides.append((conversation_side(user, True), None))
    sides.append((irc_lower(user.nick), user.nick_since))
    return sides


Work = Callable[[Any], Any]


def _history(core: ChatBase, session: Session, request: Request) -> None:
    """A channel's or a conversation's lines: who may read which is decided here, on the
    loop; the rows are read on the database's thread."""
    subcommand, name = request.subcommand, request.target
    user = session.user
    if is_channel_name(name):
        channel = core.find_channel(name)
        if channel is None or user.uid not in channel.members:
            raise Refusal("INVALID_TARGET", subcommand, _safe(name),
                          "Messages could not be retrieved")  # fmt: skip
        key: str | None = channel.folded
        shown = channel.name
        since: float | None = None
    elif core.valid_nick(name):
        other = core.find_user(name)
        key, shown, since = None, name, None
        if other is not None:
            by_account = user.account is not None and other.account is not None
            mine = conversation_side(user, by_account)
            key = conversation_key(mine, conversation_side(other, by_account))[0]
            shown = other.nick
            since = None if by_account else user.nick_since
    else:
        raise Refusal("INVALID_TARGET", subcommand, _safe(name), "Messages could not be retrieved")
    kinds, sides = _kinds(session), _sides(session)

    def work(c: Any) -> Any:
        where = (key, since) if key is not None else queries.conversation_with(c, sides, name)
        if where is None:
            return []
        floor = queries.floor_position(c, where[0], where[1])
        return _query(c, where[0], request, floor, kinds)

    def then(core: ChatBase, session: Session, rows: Any) -> None:
        _send_rows(core, session, shown, rows)

    _read(core, session, request, work, then)


def _query(c: Any, key: str, request: Request, floor: int, kinds: tuple[str, ...] | None) -> Any:
    subcommand, refs, limit = request.subcommand, request.refs, request.limit
    if subcommand == "LATEST":
        return queries.latest(c, key, refs[0], limit, floor, kinds)
    first = refs[0]
    assert first is not None  # only LATEST takes `*`
    if subcommand == "BETWEEN":
        second = refs[1]
        assert second is not None
        return queries.between(c, key, first, second, limit, floor, kinds)
    query = {"BEFORE": queries.before, "AFTER": queries.after, "AROUND": queries.around}
    return query[subcommand](c, key, first, limit, floor, kinds)


def _targets(core: ChatBase, session: Session, request: Request) -> None:
    """TARGETS: the channels one is in and one's own conversations that spoke between
    the two times, with when each last did."""
    first, second = request.refs
    assert first is not None and second is not None
    ascending = first.time <= second.time
    low, high = sorted((first.time, second.time))
    low += queries.MILLISECOND  # after the first millisecond named, before the second
    channels = [(channel.folded, channel.name) for channel in session.user.channels.values()]
    kinds, sides, limit = _kinds(session), _sides(session), request.limit

    def work(c: Any) -> Any:
        return queries.targets(c, channels, sides, low, high, limit, ascending, kinds)

    _read(core, session, request, work, _send_targets)


def _read(
    core: ChatBase, session: Session, request: Request, work: Work, then: Callable[..., None]
) -> None:
    """Run `work` on the database's thread after what waits to be written; `then` with its
    rows, or MESSAGE_ERROR when the read failed."""

    def finish(core: ChatBase, session: Session, result: Any) -> None:
        if result is None:
            context = (
                [request.subcommand, _safe(request.target)]
                if request.target
                else [request.subcommand]
            )
            core.fail(
                session, COMMAND, "MESSAGE_ERROR", *context, "Messages could not be retrieved"
            )
        else:
            then(core, session, result)

    core.later(session, lambda done: core.history.read(work, done), finish)


# ------------------------------------------------------------------ replies


def _send_rows(core: ChatBase, session: Session, shown: str, rows: Any) -> None:
    batched = BATCH in session.caps
    nested = batched and MULTILINE in session.caps
    ref = core.new_batch_ref() if batched else None
    server = core.settings.server_name
    lines = [f":{server} BATCH +{ref} {HISTORY_BATCH} {shown}"] if ref else []
    mask = session.tag_mask
    for row in rows:
        multiline_ref = core.new_batch_ref() if nested and row.lines is not None else None
        lines.extend(replay_lines(row, mask, ref, multiline_ref))
    if ref:
        lines.append(f":{server} BATCH -{ref}")
    core.router.write_lines(session, lines)


def _send_targets(core: ChatBase, session: Session, found: Any) -> None:
    ref = core.new_batch_ref() if BATCH in session.caps else None
    server = core.settings.server_name
    head = f"@batch={ref} :{server}" if ref else f":{server}"
    lines = [f":{server} BATCH +{ref} {TARGETS_BATCH}"] if ref else []
    lines += [f"{head} {COMMAND} TARGETS {name} {format_server_time(when)}" for name, when in found]
    if ref:
        lines.append(f":{server} BATCH -{ref}")
    core.router.write_lines(session, lines)
