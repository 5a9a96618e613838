"""LIST, with the ELIST filters of the modern IRC documents, within the send queue (SAFELIST).

`LIST [#a,#b] [conditions]`, where a condition is (ELIST=CMNTU):

- `>n`, `<n`: more or fewer than n users (U);
- `C>n`, `C<n`: created more or less than n minutes ago (C);
- `T>n`, `T<n`: topic set more or less than n minutes ago (T; a room without a topic has
  no topic time and matches neither);
- `#pat*`: names matching a mask (M), `!#pat*`: names not matching it (N).

Conditions may come first too (`LIST >3`, as most clients send it). All of them must hold,
except that a room matching any one of several masks is listed. A malformed condition is
ignored.

A LIST can be far larger than the send queue (`sendq_bytes`), and a client whose queue
overflows is dropped. So the reply stops at half the send queue, with a NOTICE saying so
and how to narrow the list down, and always ends with 323: LIST never costs a client its
connection (SAFELIST), even on a slow link.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ...protocol import Message, is_channel_name
from .. import numerics as n
from ..base import ChatBase
from ..model import Channel, Session
from .channels import mask_matches, visible

Condition = Callable[[Channel, float], bool]

_NUMBERED = re.compile(r"([CcTt]?)([<>])([0-9]{1,9})\Z")


def _users(more: bool, count: int) -> Condition:
    if more:
        return lambda channel, now: len(channel.members) > count
    return lambda channel, now: len(channel.members) < count


def _created(more: bool, minutes: int) -> Condition:
    if more:
        return lambda channel, now: now - channel.created > minutes * 60
    return lambda channel, now: now - channel.created < minutes * 60


def _topic_set(more: bool, minutes: int) -> Condition:
    if more:
        return lambda channel, now: bool(channel.topic) and now - channel.topic_time > minutes * 60
    return lambda channel, now: bool(channel.topic) and now - channel.topic_time < minutes * 60


def _not_matching(mask: str) -> Condition:
    return lambda channel, now: not mask_matches(mask, channel.name)


class _Query:
    """A LIST's parameters, sorted into rooms named, masks and other conditions."""

    def __init__(self, params: list[str]) -> None:
        self.names: list[str] = []
        self.masks: list[str] = []
        self.conditions: list[Condition] = []
        for param in params[:2]:
            for item in param.split(","):
                if item:
                    self._add(item)

    def _add(self, item: str) -> None:
        numbered = _NUMBERED.match(item)
        if numbered:
            kind, sign, number = numbered.groups()
            make = {"": _users, "c": _created, "t": _topic_set}[kind.lower()]
            self.conditions.append(make(sign == ">", int(number)))
        elif item[0] in "<>" or item[1:2] in ("<", ">"):
            return  # malformed: ignored
        elif item[0] == "!":
            if item[1:]:
                self.conditions.append(_not_matching(item[1:]))
        elif "*" in item or "?" in item or not is_channel_name(item):
            self.masks.append(item)
        else:
            self.names.append(item)

    def matches(self, channel: Channel, now: float) -> bool:
        if self.masks and not any(mask_matches(mask, channel.name) for mask in self.masks):
            return False
        return all(condition(channel, now) for condition in self.conditions)


def handle_list(core: ChatBase, session: Session, msg: Message) -> None:
    query = _Query(msg.params)
    if query.names:
        found = (core.state.channel(name) for name in query.names)
        channels = [c for c in found if c is not None]
    else:
        channels = sorted(core.state.all_channels(), key=lambda c: c.folded)
    now = core.clock()
    user = session.user
    core.reply(session, n.RPL_LISTSTART, "Channel", "Users  Name")
    budget = core.settings.sendq_bytes // 2
    overhead = len(core.settings.server_name) + len(user.nick) + 16  # ":server 322 nick  :\r\n"
    shown = 0
    for channel in channels:
        if not visible(channel, user) or not query.matches(channel, now):
            continue
        budget -= overhead + len(channel.name) + len(channel.topic)
        if budget < 0:
            core.notice(
                session,
                f"LIST stopped after {shown} rooms: the rest would not fit in what the server "
                "holds for you. Narrow it down, e.g. LIST >10 (rooms of more than 10 users) "
                "or LIST #name* (rooms whose names match).",
            )
            break
        core.reply(session, n.RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
        shown += 1
    core.reply(session, n.RPL_LISTEND, "End of /LIST")
