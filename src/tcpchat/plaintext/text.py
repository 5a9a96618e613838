"""Small pure helpers for plain text: no session state, so each is easy to test alone."""

from __future__ import annotations

import re
from collections.abc import Iterator

# mIRC-style colours and formatting, then anything a terminal could act on.
_FORMATTING = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKERS = str.maketrans("", "", "\r\n\0")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")

# Status prefixes on nicks in NAMES (~owner &admin @op %halfop +voice) until ISUPPORT says.
STATUS_PREFIXES = "~&@%+"

_MAX_NICK_TRIES = 30
_NICK_CHARS = re.compile(r"[^A-Za-z0-9\[\]\\`_^{|}-]")


# Telnet commands: IAC IAC (a literal 0xFF), option negotiation (IAC WILL/WONT/DO/DONT
# opt), subnegotiation (IAC SB ... IAC SE) and the two-byte commands.
_TELNET = re.compile(rb"\xff(\xff|[\xfb-\xfe][\s\S]?|\xfa[\s\S]*?(?:\xff\xf0|\Z)|[\xf0-\xf9])")


def strip_telnet(line: bytes) -> bytes:
    """Remove telnet negotiation from what a person typed; `telnet` may send it unasked."""
    if b"\xff" not in line:
        return line
    return _TELNET.sub(lambda m: b"\xff" if m.group(1) == b"\xff" else b"", line)


def clean_input(text: str) -> str:
    """Drop CR, LF and NUL so nothing typed can end an IRC line early."""
    return text.translate(_LINE_BREAKERS)


def typed_lines(text: str) -> list[str]:
    """What was typed at once, as the lines to handle one by one.

    A terminal's bracketed paste hands over a whole block with its line breaks;
    each line of it is meant as a line of its own, never glued to the next. The
    blank lines of a block are dropped; a single line is returned as it is.
    """
    lines = _LINE_ENDS.split(text)
    if len(lines) == 1:
        return lines
    return [line for line in lines if line.strip()]


def displayable(text: str) -> str:
    """Text safe to put on a terminal: no colour codes, no escape sequences."""
    return _CONTROLS.sub("", _FORMATTING.sub("", text))


def is_middle(param: str) -> bool:
    """Whether `param` can be a non-final IRC parameter (or a bare final one)."""
    return bool(param) and not param.startswith(":") and not any(c in param for c in " \r\n\0")


def nick_of(source: str | None) -> str:
    """The nick in `nick!user@host` (or a server name, which has no `!`)."""
    if not source:
        return ""
    return source.partition("!")[0].partition("@")[0]


def sane_nick(name: str, limit: int = 30) -> str:
    """A nick every IRC server accepts, made from `name` (a login name, a rejected nick)."""
    nick = _NICK_CHARS.sub("", name.replace(".", "_").replace(" ", "_"))
    if not nick or nick[0].isdigit() or nick[0] == "-":
        nick = "_" + nick if nick else "guest"
    return nick[:limit]


def nick_candidates(base: str, limit: int) -> Iterator[str]:
    """alice, alice_, alice__, alice1, alice2, ...: each cut to `limit`, suffix kept."""
    for suffix in ("", "_", "__", *(str(n) for n in range(1, _MAX_NICK_TRIES))):
        yield base[: limit - len(suffix)] + suffix


def chunks(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` UTF-8 bytes, at spaces when possible."""
    pieces: list[str] = []
    while len(text.encode("utf-8")) > limit:
        cut = max(1, len(text.encode("utf-8")[:limit].decode("utf-8", "ignore")))
        space = text.rfind(" ", 0, cut + 1)
        if space > cut // 2:
            pieces.append(text[:space])
            text = text[space + 1 :]
        else:
            pieces.append(text[:cut])
            text = text[cut:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def duration(seconds: int) -> str:
    """12345 -> '3h 25m 45s': idle times people can read at a glance."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def parenthesised(reason: str) -> str:
    """' (reason)' to end a sentence with, or nothing."""
    return f" ({reason})" if reason else ""
