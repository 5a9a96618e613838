"""labeled-response and batch framing, on encoded lines: no I/O, no state.

A labeled command's replies are collected as bytes (the reply buffer), so the label is put on
the finished lines: on the only line when there is one, on an `ACK` when there is none, and on
a `BATCH +ref labeled-response` around them when there are several (each line then tagged
`batch=ref`). A response that is one batch already (a multiline message's echo) takes the
label on its opening line instead of being wrapped again.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import escape_tag_value

LABELED_RESPONSE_BATCH = b"labeled-response"


def add_tag(line: bytes, tag: bytes) -> bytes:
    """`line` with `tag` (b'key=value', escaped) first among its tags."""
    if line[:1] == b"@":
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


def has_tag(line: bytes, key: bytes) -> bool:
    if line[:1] != b"@":
        return False
    tags = line[1 : line.find(b" ")]
    return any(item.partition(b"=")[0] == key for item in tags.split(b";"))


def _words(line: bytes) -> list[bytes]:
    """The command and parameters of a line, its tags and source aside."""
    words = line.split(b" ")
    if words and words[0][:1] == b"@":
        words = words[1:]
    if words and words[0][:1] == b":":
        words = words[1:]
    return words


def batch_ref(line: bytes, sign: bytes) -> bytes | None:
    """The reference of `BATCH +ref ...` (sign b'+') or `BATCH -ref` (b'-'), else None."""
    words = _words(line)
    if len(words) >= 2 and words[0] == b"BATCH" and words[1][:1] == sign:
        return words[1][1:]
    return None


def is_one_batch(lines: list[bytes]) -> bool:
    """Whether `lines` are exactly one batch, opened by the first and closed by the last."""
    if len(lines) < 2 or has_tag(lines[0], b"batch"):
        return False
    ref = batch_ref(lines[0], b"+")
    return ref is not None and ref == batch_ref(lines[-1], b"-")


def labeled_response(data: bytes, label: str, server: str, new_ref: Callable[[], str]) -> bytes:
    """The replies `data` (whole CRLF-terminated lines) framed for the label `label`."""
    tag = b"label=" + escape_tag_value(label).encode()
    lines = data.split(b"\r\n")
    lines.pop()  # what follows the last CRLF: nothing
    if not lines:
        return b"@" + tag + b" :" + server.encode() + b" ACK\r\n"
    if len(lines) == 1 or is_one_batch(lines):
        lines[0] = add_tag(lines[0], tag)
        return b"\r\n".join(lines) + b"\r\n"
    ref = new_ref().encode()
    inner = b"batch=" + ref
    source = b":" + server.encode()
    out = [b"@" + tag + b" " + source + b" BATCH +" + ref + b" " + LABELED_RESPONSE_BATCH]
    # A line of a batch of its own keeps its tag; that batch's own start and end lines
    # say they are nested in ours.
    out.extend(line if has_tag(line, b"batch") else add_tag(line, inner) for line in lines)
    out.append(source + b" BATCH -" + ref)
    return b"\r\n".join(out) + b"\r\n"
