"""IRC message parsing and serialisation, with IRCv3 tags. No I/O here.

The grammar follows the "Modern IRC Client Protocol" write-up:

    [@tags SPACE] [:source SPACE] command [params...] [SPACE :trailing]

Parsing is forgiving where real clients are sloppy (runs of spaces, a missing
final CRLF) and strict where a mistake could hurt someone else: no parameter
may contain CR, LF or NUL, so nothing can smuggle a second line to a peer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ProtocolError, UnsafeLineError

__all__ = [
    "Message",
    "ProtocolError",
    "UnsafeLineError",
    "parse",
    "serialize",
    "escape_tag_value",
    "format_tags",
    "unescape_tag_value",
    "irc_lower",
    "is_channel_name",
    "looks_like_irc",
    "safe_middle",
]


_TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def escape_tag_value(value: str) -> str:
    """Escape a tag value for the wire (IRCv3 message-tags)."""
    return "".join(_TAG_ESCAPES.get(ch, ch) for ch in value) if value else value


def unescape_tag_value(raw: str) -> str:
    """Undo `escape_tag_value`; unknown escapes drop the backslash, as the spec says."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_TAG_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class Message:
    """One IRC message. `params` holds middle and trailing parameters alike."""

    command: str
    params: list[str] = field(default_factory=list)
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def param(self, index: int, default: str = "") -> str:
        """The parameter at `index`, or `default` when the client left it out."""
        return self.params[index] if index < len(self.params) else default


def _parse_tags(raw: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key:
            raise ProtocolError("empty tag key")
        tags[key] = unescape_tag_value(value)
    return tags


def parse(line: str) -> Message:
    """Parse one line (with or without its CRLF) into a `Message`.

    Raises `ProtocolError` for an empty line, a line with no command, or a
    line that still contains CR, LF or NUL after its ending is removed.
    """
    line = line.rstrip("\r\n")
    if _has_line_breaker(line):
        raise ProtocolError("line contains CR, LF or NUL")
    rest = line.lstrip(" ")
    tags: dict[str, str] = {}
    source: str | None = None
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = _parse_tags(raw_tags)
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        if not source:
            raise ProtocolError("empty source")
        rest = rest.lstrip(" ")
    head, sep, trailing = rest.partition(" :")
    words = head.split(" ")  # spaces only: a tab is data
    if "" in words:
        words = [word for word in words if word]
    if not words:
        raise ProtocolError("no command")
    command = words[0].upper()
    if not command.isascii() or not command.isalnum():
        raise ProtocolError(f"invalid command {words[0]!r}")
    params = words[1:]
    if sep:
        params.append(trailing)
    return Message(command, params, source, tags)


def format_tags(tags: dict[str, str]) -> str:
    """The tags section's body (no '@'), values escaped."""
    return ";".join(f"{k}={escape_tag_value(v)}" if v else k for k, v in tags.items())


def serialize(msg: Message, trailing: bool = False) -> str:
    """Format `msg` as one line without CRLF.

    The last parameter becomes a trailing one whenever it must (empty, has a
    space, or starts with a colon), or always with `trailing=True`, which the
    server uses for free text so that naive clients read it right.

    Raises `UnsafeLineError` for a parameter that could break the line: CR, LF
    or NUL anywhere, or a space or leading colon in a parameter that is not last.
    """
    parts: list[str] = []
    if msg.tags:
        parts.append("@" + format_tags(msg.tags))
    if msg.source:
        parts.append(":" + msg.source)
    parts.append(msg.command)
    params = msg.params
    if params:
        *middle, last = params
        for param in middle:
            if not param or " " in param or param[0] == ":":
                raise UnsafeLineError(f"middle parameter {param!r} needs to be last")
        parts.extend(middle)
        if trailing or not last or " " in last or last[0] == ":":
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    if _has_line_breaker(line):
        raise UnsafeLineError("parameter contains CR, LF or NUL")
    return line


def _has_line_breaker(text: str) -> bool:
    return "\n" in text or "\r" in text or "\0" in text


_CHANNEL_NAME = re.compile(r"#[^\x00\x07\r\n ,:]+\Z")


def is_channel_name(name: str) -> bool:
    """'#' then anything but NUL, BEL, CR, LF, space, comma or colon (CHANTYPES=#)."""
    return _CHANNEL_NAME.match(name) is not None


# RFC 1459 casemapping: {}|^ are the lower-case forms of []\~.
_RFC1459_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")


_RFC1459_LOWER_BYTES = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", b"abcdefghijklmnopqrstuvwxyz{}|^"
)


def irc_lower(name: str) -> str:
    """Fold a nick or channel name under the advertised CASEMAPPING=rfc1459."""
    if name.isascii():  # nicks always are; bytes.translate is several times faster
        return name.encode().translate(_RFC1459_LOWER_BYTES).decode()
    return name.translate(_RFC1459_LOWER)


# What IRC clients may send first; people typing a name or "hello" never start so.
_OPENING_COMMANDS = frozenset(
    b"CAP NICK USER PASS PING PONG QUIT JOIN PRIVMSG NOTICE WHO WHOIS MODE LIST "
    b"AUTHENTICATE".split()
)


def looks_like_irc(first_line: bytes) -> bool:
    """Whether a connection's first line comes from an IRC client rather than a person.

    IRC clients open with an upper-case IRC command, usually CAP, NICK or
    PASS, possibly after tags; a person types a nickname or a sentence.
    """
    words = first_line.split()
    if words and words[0].startswith(b"@"):
        words = words[1:]
    return bool(words) and words[0] in _OPENING_COMMANDS


def safe_middle(param: str) -> str:
    """Make an echoed user word usable as a middle parameter of a reply."""
    param = param.replace(" ", "_")
    return "*" if not param or param.startswith(":") else param
