"""Bytes in, lines out: the line framing every stream transport shares. No I/O here.

LF, CRLF and a lone CR each end a line (clients and people on telnet send all three), empty
lines are dropped, and a line with no end in sight is not buffered forever: once `limit`
bytes are waiting without a line end, they are handed on as one truncated line (the core
answers 417) and the rest of that line is skipped up to its end.

The state (what is left of an unfinished line, whether an overlong one is being skipped)
lives in fields of the connection itself (`Framed`): an object of its own per connection
would cost about 80 bytes for every idle one. So does the limit, an int shared by every
connection with the same one (`shared_limit`: an int above 256 is 28 bytes of its own).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Framed", "LineLimits", "feed", "shared_limit"]

# One int object for each limit in use (a handful at most: one per reload that changed it).
_LIMITS: dict[int, int] = {}


class Framed(Protocol):
    """Whatever a byte stream is framed for."""

    rest: bytes  # the start of a line whose end has not arrived yet
    discarding: bool  # skipping the rest of an overlong line
    limit: int  # bytes a line may have before it is cut


class LineLimits(Protocol):
    """The settings the longest line comes from (config.Settings has them)."""

    @property
    def max_line_bytes(self) -> int: ...

    @property
    def max_tags_bytes(self) -> int: ...


def shared_limit(limits: LineLimits) -> int:
    """Bytes a line may have before it is cut (the line and its tags), as an int object
    shared with every other connection that has the same limit."""
    limit = limits.max_line_bytes + limits.max_tags_bytes
    return _LIMITS.setdefault(limit, limit)


def feed(framed: Framed, data: bytes) -> tuple[list[bytes], bytes | None]:
    """The complete lines in `data` (after what came before), without their line ends,
    and the truncated start of an overlong line if one just passed the limit."""
    if framed.rest:
        data = framed.rest + data
        framed.rest = b""
    # bytes.splitlines ends lines at exactly LF, CRLF and CR, in one pass with no copy of
    # the whole (replacing CRLF first, then splitting, cost 4% of the server's CPU).
    lines = data.splitlines()
    # The unfinished line after the last line end, if any. A CR at the very end may be half
    # a CRLF: its LF then comes first in the next read, as an empty line, dropped.
    ended = data[-1:] in (b"\n", b"\r")
    rest = lines.pop() if lines and not ended else b""
    if framed.discarding and lines:
        framed.discarding = False
        del lines[0]  # the end of an overlong line, already answered
    if b"" in lines:
        lines = [line for line in lines if line]
    cut = None
    if len(rest) <= framed.limit:
        framed.rest = rest
    elif not framed.discarding:
        cut = rest[: framed.limit]
        framed.discarding = True
    return lines, cut
