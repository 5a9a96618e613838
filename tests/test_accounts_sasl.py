"""AUTHENTICATE chunking and PLAIN, as the IRCv3 SASL specifications describe them."""

import base64

import pytest

from tcpchat.accounts.sasl import CHUNK, Assembler, SaslError, chunks, parse_plain


def test_a_message_split_over_lines_is_put_back_together():
    message = b"x" * 700  # 936 bytes of base64: 400 + 400 + 136
    parts = chunks(message)
    assert [len(p) for p in parts] == [400, 400, 136]
    assembler = Assembler()
    assert [assembler.add(p) for p in parts] == [None, None, message]


def test_a_message_of_exactly_400_bytes_ends_with_a_plus_and_empty_is_a_plus():
    message = b"y" * 300  # 400 bytes of base64
    parts = chunks(message)
    assert parts[-1] == "+" and len(parts[0]) == CHUNK
    assembler = Assembler()
    assert [assembler.add(p) for p in parts] == [None, message]
    assert chunks(b"") == ["+"] and Assembler().add("+") == b""


def test_bad_base64_and_endless_messages_are_refused():
    with pytest.raises(SaslError) as bad:
        Assembler().add("not base64!")
    assert not bad.value.too_long
    assembler = Assembler()
    with pytest.raises(SaslError) as long:
        for _ in range(20):
            assembler.add("A" * 400)
    assert long.value.too_long
    with pytest.raises(SaslError) as longer:
        Assembler().add("A" * 401)
    assert longer.value.too_long


def test_plain_carries_two_names_and_a_password():
    assert parse_plain(b"\0alice\0pw") == ("", "alice", "pw")
    for broken in (b"alice\0pw", b"\0\0pw", b"\0alice\0", b"\xff\0a\0b"):
        with pytest.raises(SaslError):
            parse_plain(broken)
    assert base64.b64decode(chunks(b"\0alice\0pw")[0]) == b"\0alice\0pw"
