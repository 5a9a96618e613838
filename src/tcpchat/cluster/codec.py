"""Events and the chat's state as JSON, for the cluster's bus and for a new node's snapshot.

An event is a list: its kind's index in `EVENT_TYPES`, then its fields in order. The few
fields that are not plain values (a `User`, a kept channel, mode changes, a message inside
a status message) are written as lists of their own fields and rebuilt on the way in.
Pure functions, no I/O: a node encodes the batch it appends and decodes what others did.
The JSON is orjson's (the cluster extra brings it), else the standard library's: the same
text either way, so nodes with and without it read each other.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import astuple
from typing import Any

from ..core.events import (
    EVENT_TYPES,
    ChannelModeChanged,
    ChannelRestored,
    Event,
    MessageSent,
    ModeChange,
    MultilineSent,
    Quit,
    Registered,
    ServerTold,
    StatusMessageSent,
    StoreWritten,
    UserModeChanged,
)
from ..core.model import Channel, User
from ..store.accounts import RegisteredChannel

try:
    import orjson
except ImportError:  # pragma: no cover - the cluster extra brings it
    orjson = None  # type: ignore[assignment]

__all__ = ["decode_batch", "decode_state", "encode_batch", "encode_state"]

_INDEX = {kind: i for i, kind in enumerate(EVENT_TYPES)}
_MESSAGE = _INDEX[MessageSent]
_make_message = MessageSent._make

# A user's fields, in the order they are written.
_USER = ("uid", "host", "nick", "user", "realname", "away", "account", "node", "signon",
         "nick_since")  # fmt: skip


def _user_out(user: User, node: str) -> list[Any]:
    row = [getattr(user, name) for name in _USER]
    row[7] = user.node or node  # a local user's node is this one
    return [*row, "".join(sorted(user.modes))]


def _user_in(row: list[Any]) -> User:
    user = User(**dict(zip(_USER, row[:-1], strict=True)))
    user.modes = frozenset(row[-1])
    user.refresh_source()
    return user


def _event_out(event: Event, node: str) -> list[Any]:
    kind = type(event)
    if kind is MessageSent:  # most of what a busy bus carries: plain values only
        return [_MESSAGE, *event]
    fields: list[Any] = list(event)
    if isinstance(event, Registered):
        fields[1] = _user_out(event.user, node)
    elif isinstance(event, ChannelRestored):
        fields[3] = list(astuple(event.kept))
    elif isinstance(event, StatusMessageSent):
        fields[2] = list(event.message)
    elif isinstance(event, StoreWritten):
        fields[1] = statements_out(event.statements)
    return [_INDEX[kind], *fields]


def _event_in(row: list[Any]) -> Event:
    if row[0] == _MESSAGE:
        return _make_message(row[1:])
    kind = EVENT_TYPES[row[0]]
    fields = row[1:]
    if kind is Registered:
        fields[1] = _user_in(fields[1])
    elif kind is ChannelRestored:
        kept = fields[3]
        kept[10] = tuple(tuple(each) for each in kept[10])  # its lists
        fields[3] = RegisteredChannel(*kept)
    elif kind is StatusMessageSent:
        fields[2] = MessageSent(*fields[2])
    elif kind is ChannelModeChanged or kind is UserModeChanged:
        fields[-1] = tuple(ModeChange(*change) for change in fields[-1])
    elif kind is Quit:
        fields[-1] = tuple(fields[-1])
    elif kind is MultilineSent:
        fields[9] = tuple((text, concat) for text, concat in fields[9])
    elif kind is ServerTold:
        fields[-1] = tuple(fields[-1])
    elif kind is StoreWritten:
        fields[1] = tuple(statements_in(fields[1]))
    event: Event = kind(*fields)
    return event


def statements_out(statements: Iterable[tuple[str, list[Any]]]) -> list[Any]:
    """SQL statements with their parameters; bytes (a password's keys) as base64."""
    return [[sql, [{"b": base64.b64encode(p).decode()} if isinstance(p, bytes) else p
                   for p in params]] for sql, params in statements]  # fmt: skip


def statements_in(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    return [(sql, [base64.b64decode(p["b"]) if isinstance(p, dict) else p for p in params])
            for sql, params in rows]  # fmt: skip


def _dumps(value: Any) -> bytes:
    """JSON, by orjson: 0.2 µs a message's event where `json` takes 2 to 3.5, which was a
    third of what the bus cost a small room's message. A string orjson refuses (no valid
    UTF-8: none is made today) goes by `json`, which escapes it."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, separators=(",", ":")).encode()


def _loads(text: str | bytes) -> Any:
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # what only `json` takes: an escaped lone surrogate
            pass
    return json.loads(text)


def encode_batch(events: list[Event], node: str) -> bytes:
    """The events one node appends in one step, as one JSON text (UTF-8)."""
    return _dumps([_event_out(event, node) for event in events])


def decode_batch(text: str | bytes) -> list[Event]:
    return [_event_in(row) for row in _loads(text)]


# ------------------------------------------------------------------- snapshots


def _channel_out(channel: Channel) -> list[Any]:
    lists = [[letter, mask, setter, when]
             for letter, masks in (("b", channel.bans), ("e", channel.excepts),
                                   ("I", channel.invex))
             for mask, (setter, when) in masks.items()]  # fmt: skip
    return [channel.name, channel.folded, channel.created, channel.members, channel.topic,
            channel.topic_setter, channel.topic_time, "".join(sorted(channel.modes)),
            channel.key, channel.limit, lists, sorted(channel.invited)]  # fmt: skip


def _channel_in(row: list[Any]) -> Channel:
    name, folded, created, members, topic, setter, when, modes, key, limit, lists, invited = row
    channel = Channel(
        name, folded, created, members=members, topic=topic, topic_setter=setter,
        topic_time=when, modes=frozenset(modes), key=key, limit=limit, invited=set(invited),
    )  # fmt: skip
    for letter, mask, by, at in lists:
        channel.mask_list(letter)[mask] = (by, at)
    return channel


def encode_state(
    users: list[User], channels: list[Channel], node: str,
    store: Iterable[tuple[str, list[Any]]] = (),
) -> str:
    """What a new node needs to know of the network: every registered user and channel,
    and the statements that make its accounts and registered channels."""
    return _dumps(
        {"users": [_user_out(user, node) for user in users],
         "channels": [_channel_out(channel) for channel in channels],
         "store": statements_out(store)},
    ).decode()  # fmt: skip


def decode_state(
    text: str | bytes,
) -> tuple[list[User], list[Channel], list[tuple[str, list[Any]]]]:
    data = _loads(text)
    users = [_user_in(row) for row in data["users"]]
    return users, [_channel_in(c) for c in data["channels"]], statements_in(data["store"])
