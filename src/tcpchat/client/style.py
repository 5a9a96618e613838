"""Nick colours: each nick keeps one colour, taken from the terminal's own palette.

We emit the 16 basic ANSI colour codes, never RGB, so the user's terminal theme
decides what "red" looks like. White and black are left out: one of them is
always invisible against the background.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from ..protocol import irc_lower

__all__ = ["colour_wanted", "dim", "nick_colour", "style_nick"]

# Red, green, yellow, blue, magenta, cyan; then their bright variants.
_PALETTE = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)
_DEFAULT_FOREGROUND = 39


def nick_colour(nick: str) -> int:
    """The ANSI SGR code for `nick`: the same in every run, for every case of the nick."""
    return _PALETTE[zlib.crc32(irc_lower(nick).encode("utf-8")) % len(_PALETTE)]


def style_nick(nick: str) -> str:
    """`nick` wrapped in its colour; the default foreground is restored after it."""
    return f"\x1b[{nick_colour(nick)}m{nick}\x1b[{_DEFAULT_FOREGROUND}m"


def dim(line: str) -> str:
    """`line` faint (SGR 2), as earlier messages are shown; normal intensity after it."""
    return f"\x1b[2m{line}\x1b[22m"


def colour_wanted(environ: Mapping[str, str]) -> bool:
    """False when NO_COLOR is set to anything non-empty (https://no-color.org)."""
    return not environ.get("NO_COLOR")
