"""How the lines the server sends are built: server-time stamps, a serialised event line,
and a multiline message as a batch or as lines one by one. No state here."""

from __future__ import annotations

import time as _time

from ..protocol import Message, format_tags, serialize
from .capabilities import MULTILINE, MULTILINE_CONCAT
from .events import MultilineSent
from .model import WANTS_TAGS

__all__ = ["format_server_time", "multiline_lines"]


def format_server_time(timestamp: float) -> str:
    """The IRCv3 server-time format: ISO 8601, UTC, milliseconds."""
    millis = int(timestamp * 1000) % 1000
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(timestamp)) + f".{millis:03d}Z"


def event_line(source: str, command: str, params: list[str], text_last: bool = True) -> bytes:
    return (serialize(Message(command, params, source), text_last) + "\r\n").encode()


def with_tags(tags: dict[str, str], line: str) -> str:
    return f"@{format_tags(tags)} {line}" if tags else line


def multiline_lines(
    event: MultilineSent,
    batch_ref: str,
    mask: int,
    server_time: str | None,
    account: str | None = None,
) -> bytes:
    """A multiline message for one kind of recipient: a draft/multiline batch (when given
    `batch_ref`) or its lines one by one, blank ones left out; tags as `mask` asks (with
    the sender's `account` for account-tag)."""
    tags: dict[str, str] = {}
    if server_time is not None:
        tags["time"] = server_time
    if account is not None:
        tags["account"] = account
    first = dict(tags)  # the message's own tags go on its first line, or its batch
    if mask & WANTS_TAGS:
        first["msgid"] = event.msgid
        if event.tags:
            first.update(event.tags)
    source, target = event.source, event.target
    head = f":{source} {event.command} {target} :"
    if batch_ref:
        ref = batch_ref
        out = [with_tags(first, f":{source} BATCH +{ref} {MULTILINE} {target}")]
        for text, concat in event.lines:
            tag = f"@batch={ref};{MULTILINE_CONCAT} " if concat else f"@batch={ref} "
            out.append(f"{tag}{head}{text}")
        out.append(f":{source} BATCH -{ref}")
    else:
        out = []
        for text, _ in event.lines:
            if text:  # a client without multiline is never sent a blank line
                out.append(with_tags(tags if out else first, head + text))
    return ("\r\n".join(out) + "\r\n").encode() if out else b""
