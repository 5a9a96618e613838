"""Plain-text mode: lets someone on `nc` or `telnet` chat on the IRC port.

The IRC core only speaks IRC. `PlainSession` sits between the person and the
core, translating typed lines into IRC commands and IRC replies into sentences,
so the core needs no special case for plain clients. Like the rest of the core
it does no I/O: the edge hands it text and bytes and writes back what it returns.

`text` holds pure helpers, `commands` what the person types, `rendering` what the
server sends (with `nicknames` for refused nicks), and `session` puts them together
as `PlainSession`.
"""

from .commands import MESSAGE_CHUNK_BYTES, confirms_itself
from .help import HELP_TEXT, help_text
from .session import CONNECTED_TEXT, PlainSession
from .text import displayable, sane_nick, strip_telnet, typed_lines

__all__ = [
    "CONNECTED_TEXT",
    "HELP_TEXT",
    "MESSAGE_CHUNK_BYTES",
    "PlainSession",
    "confirms_itself",
    "displayable",
    "help_text",
    "sane_nick",
    "strip_telnet",
    "typed_lines",
]
