"""Stored history as lines again: each row as it was first delivered (same msgid, same
time, same text), with the tags this recipient asked for, inside a batch when given one.

Used by CHATHISTORY and by the playback on join; the rows come from store/history.py.
"""

from __future__ import annotations

import json

from ..protocol import escape_tag_value
from ..store.history import Stored
from .capabilities import MULTILINE, MULTILINE_CONCAT
from .lines import format_server_time
from .model import WANTS_ACCOUNT, WANTS_TAGS, WANTS_TIME

__all__ = ["replay_lines"]


def replay_lines(row: Stored, mask: int, batch: str | None, multiline_ref: str | None) -> list[str]:
    """The lines (without CRLF) that send `row` again to a recipient whose tags are `mask`,
    inside the batch `batch` if any. A message of several lines goes as a draft/multiline
    batch `multiline_ref` (nested in `batch`) when the recipient has multiline, else line by
    line, blank lines left out."""
    # In the order live delivery uses (delivery.py): time, msgid, client tags, account;
    # the batch first. `own` tags the message itself (its first line, or its batch).
    tags: list[str] = [] if batch is None else [f"batch={batch}"]
    if mask & WANTS_TIME:
        tags.append("time=" + format_server_time(row.time))
    own = list(tags)
    if mask & WANTS_TAGS:
        own.append("msgid=" + row.msgid)
        if row.tags:
            own.append(row.tags)  # stored formatted, as they went out
    if mask & WANTS_ACCOUNT and row.account is not None:
        account = "account=" + escape_tag_value(row.account)
        own.append(account)
        tags.append(account)
    if row.lines is None:
        return [_tagged(own, row.line)]
    head = row.line + " :"
    parts: list[list[object]] = json.loads(row.lines)
    if multiline_ref is None:
        texts = [str(text) for text, _ in parts if text]
        return [_tagged(own if i == 0 else tags, head + text) for i, text in enumerate(texts)]
    source, _, rest = row.line.partition(" ")
    target = rest.partition(" ")[2]
    out = [_tagged(own, f"{source} BATCH +{multiline_ref} {MULTILINE} {target}")]
    for text, concat in parts:
        inner = (
            f"@batch={multiline_ref};{MULTILINE_CONCAT} " if concat else f"@batch={multiline_ref} "
        )
        out.append(inner + head + str(text))
    out.append(
        _tagged([] if batch is None else [f"batch={batch}"], f"{source} BATCH -{multiline_ref}")
    )
    return out


def _tagged(tags: list[str], line: str) -> str:
    return "@" + ";".join(tags) + " " + line if tags else line
