"""Bytes in, lines out: the line framing every stream transport shares. No I/O here.

LF, CRLF and a lone CR each end a line (clients and people on telnet send all three), empty
lines are dropped, and a line with no end in sight is not buffered forever: once `limit`
bytes are waiting without a line end, they are handed on as one truncated line (the core
answers 417) and the rest of that line is skipped up to its end.
"""

from __future__ import annotations

__all__ = ["LineFramer"]


class LineFramer:
    """Cuts a byte stream into lines; `feed` takes what arrived and returns what is whole."""

    __slots__ = ("limit", "rest", "discarding")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rest = b""  # the start of a line whose end has not arrived yet
        self.discarding = False  # skipping the rest of an overlong line

    def feed(self, data: bytes) -> tuple[list[bytes], bytes | None]:
        """The complete lines in `data` (after what came before), without their line
        ends, and the truncated start of an overlong line if one just passed `limit`."""
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
            if b"\r" in data:
                data = data.replace(b"\r", b"\n")
        if self.rest:
            data = self.rest + data
            self.rest = b""
        lines = data.split(b"\n")
        rest = lines.pop()  # the unfinished line after the last line end
        if self.discarding and lines:
            self.discarding = False
            del lines[0]  # the end of an overlong line, already answered
        if b"" in lines:
            lines = [line for line in lines if line]
        cut = None
        if len(rest) <= self.limit:
            self.rest = rest
        elif not self.discarding:
            cut = rest[: self.limit]
            self.discarding = True
        return lines, cut

    @property
    def waiting(self) -> bool:
        """Whether part of a line has arrived (its first bytes are still to be judged)."""
        return bool(self.rest)
