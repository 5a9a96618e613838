"""Lines out are counted by command (/metrics: tcpchat_lines_out_total{command=...}): the
command must be found in every shape of line the server sends, whatever its text holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.core.delivery import command_of

WORD = st.binary(min_size=1, max_size=12).filter(lambda b: not set(b) & set(b" \r\n\0"))
COMMAND = st.sampled_from([b"PRIVMSG", b"NOTICE", b"JOIN", b"001", b"433", b"PING", b"BATCH"])
TEXT = st.binary(max_size=40).filter(lambda b: not set(b) & set(b"\r\n\0"))


@given(
    tags=st.none() | WORD.map(lambda w: b"@" + w),
    source=st.none() | WORD.map(lambda w: b":" + w),
    command=COMMAND,
    params=st.none() | TEXT,
    end=st.sampled_from([b"\r\n", b""]),
)
def test_the_command_of_any_line_is_found(
    tags: bytes | None, source: bytes | None, command: bytes, params: bytes | None, end: bytes
) -> None:
    line = b" ".join(p for p in (tags, source, command) if p is not None)
    if params is not None:
        line += b" " + params
    assert command_of(line + end) == command


def test_a_message_with_spaces_in_its_text_is_counted_as_the_message():
    line = b"@time=x :alice!a@h PRIVMSG #room :PING you JOIN me 001\r\n"
    assert command_of(line) == b"PRIVMSG"
