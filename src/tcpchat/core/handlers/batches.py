"""Batches a client opens: `BATCH +ref draft/multiline target`, its `@batch=ref PRIVMSG`
lines, then `BATCH -ref` (IRCv3 draft/multiline, on the client-batch framework).

The lines are collected on the session (`OpenBatch`) and checked as they come (the limits
`multiline_max_bytes` and `multiline_max_lines`, one target, one command); nothing is sent
until the batch closes. Then it is one message, one `MultilineSent` event. Every refusal is a
`FAIL BATCH <code>` with the spec's codes, and drops the rest of that batch. A label on the
opening BATCH (labeled-response) belongs to the whole batch: the answer at its end (the echo,
an ACK, or the FAIL that ended it) carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...protocol import Message, irc_lower
from .. import numerics as n
from ..base import ChatBase
from ..capabilities import MULTILINE, MULTILINE_CONCAT
from ..events import MultilineSent
from ..log_fields import message as log_message
from ..model import Labeled, OpenBatch, Session
from .messaging import destination

INVALID = "MULTILINE_INVALID"
MAX_BYTES = "MULTILINE_MAX_BYTES"
MAX_LINES = "MULTILINE_MAX_LINES"
INVALID_TARGET = "MULTILINE_INVALID_TARGET"


def handle_batch(core: ChatBase, session: Session, msg: Message) -> None:
    reference = msg.params[0]
    sign, ref = reference[:1], reference[1:]
    if sign == "+" and ref:
        _open(core, session, msg, ref)
    elif sign == "-" and ref:
        _close(core, session, ref)
    else:
        core.fail(session, "BATCH", INVALID, "Invalid batch reference")


def _open(core: ChatBase, session: Session, msg: Message, ref: str) -> None:
    if MULTILINE not in session.caps or msg.param(1) != MULTILINE:
        core.fail(session, "BATCH", INVALID, "Only draft/multiline batches may be sent")
        return
    if session.batch is not None:
        core.fail(session, "BATCH", INVALID, "A batch is open already; batches do not nest")
        return
    target = msg.param(2)
    if not target or "," in target:
        core.fail(session, "BATCH", INVALID, "A multiline batch needs one target")
        return
    labeled = session.label
    if labeled is not None:
        labeled.later = True  # the answer comes when the batch closes
    # The message's client-only tags come on the opening line (the lines carry none).
    client_tags = {k: v for k, v in msg.tags.items() if k.startswith("+")} or None
    session.batch = OpenBatch(ref, target, client_tags, labeled)


def batched_line(core: ChatBase, session: Session, msg: Message) -> None:
    """A line tagged `batch=ref`: a line of the open multiline batch, or refused."""
    batch = session.batch
    if batch is None or msg.tags["batch"] != batch.ref:
        core.fail(session, "BATCH", INVALID, "No such batch is open")
        return
    if batch.failed:
        return
    refusal = _refusal(core, batch, msg)
    if refusal is not None:
        _refuse(core, session, batch, refusal)
        return
    text = msg.params[1] if len(msg.params) > 1 else ""
    concat = MULTILINE_CONCAT in msg.tags
    batch.command = msg.command
    batch.size += len(text.encode()) + (1 if batch.lines and not concat else 0)
    batch.lines.append((text, concat))
    settings = core.settings
    if len(batch.lines) > settings.multiline_max_lines:
        limit = str(settings.multiline_max_lines)
        _refuse(core, session, batch, (MAX_LINES, limit, "Multiline batch max-lines exceeded"))
    elif batch.size > settings.multiline_max_bytes:
        limit = str(settings.multiline_max_bytes)
        _refuse(core, session, batch, (MAX_BYTES, limit, "Multiline batch max-bytes exceeded"))


def _refusal(core: ChatBase, batch: OpenBatch, msg: Message) -> tuple[str, ...] | None:
    """What is wrong with this line of `batch`, as FAIL parameters; None if nothing."""
    command = msg.command
    if command not in ("PRIVMSG", "NOTICE") or (batch.command and command != batch.command):
        return (INVALID, "A multiline batch holds PRIVMSG lines or NOTICE lines, nothing else")
    target = msg.param(0)
    if irc_lower(target) != irc_lower(batch.target):
        return (INVALID_TARGET, batch.target, target or "*", "Invalid multiline target")
    if MULTILINE_CONCAT in msg.tags and not msg.param(1):
        return (INVALID, "Invalid multiline batch with concatenated blank line")
    return None


def _refuse(core: ChatBase, session: Session, batch: OpenBatch, params: tuple[str, ...]) -> None:
    """FAIL BATCH ...; the batch is dead, and its label (if any) answered by this FAIL."""
    batch.failed = True
    batch.lines.clear()
    _answer(core, session, batch, lambda c, s, _: c.fail(s, "BATCH", *params))


Answer = Callable[[ChatBase, Session, Any], None]


def _answer(core: ChatBase, session: Session, batch: OpenBatch, answer: Answer) -> None:
    """Run `answer(core, session, None)` as the reply to the batch's labeled opening line."""
    labeled: Labeled | None = batch.label
    batch.label = None
    if labeled is None:
        answer(core, session, None)
    else:
        core.run_labeled(session, answer, None, labeled)


def _close(core: ChatBase, session: Session, ref: str) -> None:
    batch = session.batch
    if batch is None or batch.ref != ref:
        core.fail(session, "BATCH", INVALID, "No such batch is open")
        return
    session.batch = None
    if batch.failed:
        return
    if not batch.lines:
        _refuse(core, session, batch, (INVALID, "Invalid multiline batch with no lines"))
    elif not any(text for text, _ in batch.lines):
        _refuse(core, session, batch, (INVALID, "Invalid multiline batch with blank lines only"))
    else:
        _answer(core, session, batch, lambda c, s, _: _deliver(c, s, batch))


def _deliver(core: ChatBase, session: Session, batch: OpenBatch) -> None:
    """The batch is whole: one message to its target, if it may be sent there (the same
    checks and replies as a PRIVMSG or NOTICE of one line)."""
    command, target = batch.command, batch.target
    found = destination(core, session, command, target)
    if found is None:
        return
    shown, key, recipient, away = found
    user = session.user
    session.last_spoke = session.last_heard
    sent = MultilineSent(session.last_heard, core.msgid_origin, core.next_serial(), command,
                         user.uid, user.source, shown, key, recipient, tuple(batch.lines),
                         batch.tags, session.echo)  # fmt: skip
    core.emit(sent)
    if core.settings.log_messages:
        log_message(session, command, shown, sent.text)
    if away is not None and command == "PRIVMSG":
        core.reply(session, n.RPL_AWAY, shown, away)
