"""The IRC message parser and serialiser, on examples and on generated input."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.protocol import (
    Message,
    ProtocolError,
    escape_tag_value,
    irc_lower,
    looks_like_irc,
    parse,
    serialize,
    unescape_tag_value,
)


def test_parses_tags_source_command_middle_and_trailing():
    msg = parse("@time=2024-01-01T00:00:00.000Z;+draft/x=a\\sb :nick!u@h PRIVMSG #c :hi there\r\n")
    assert msg.tags == {"time": "2024-01-01T00:00:00.000Z", "+draft/x": "a b"}
    assert msg.source == "nick!u@h"
    assert msg.command == "PRIVMSG"
    assert msg.params == ["#c", "hi there"]


def test_command_is_case_insensitive_and_spaces_are_forgiven():
    msg = parse("privmsg   #c   :  two  spaces")
    assert msg.command == "PRIVMSG"
    assert msg.params == ["#c", "  two  spaces"]


def test_empty_trailing_is_a_parameter():
    assert parse("TOPIC #c :").params == ["#c", ""]


@pytest.mark.parametrize("line", ["", "   ", ":src", "@a=b", "PRIV\x00MSG x", "A\rB", "&&& x"])
def test_bad_lines_raise_protocol_error(line):
    with pytest.raises(ProtocolError):
        parse(line)


def test_serialize_uses_trailing_only_when_needed_or_asked():
    assert serialize(Message("NICK", ["bob"], "a!b@c")) == ":a!b@c NICK bob"
    assert serialize(Message("PRIVMSG", ["#c", "hi"])) == "PRIVMSG #c hi"
    assert serialize(Message("PRIVMSG", ["#c", "hi"]), trailing=True) == "PRIVMSG #c :hi"
    assert serialize(Message("PRIVMSG", ["#c", ":)"])) == "PRIVMSG #c ::)"
    assert serialize(Message("TOPIC", ["#c", ""])) == "TOPIC #c :"


@pytest.mark.parametrize("bad", ["a\r\nQUIT", "a\nb", "a\x00b"])
def test_serialize_refuses_parameters_that_would_smuggle_a_line(bad):
    with pytest.raises(ValueError):
        serialize(Message("PRIVMSG", ["#c", bad]))


def test_serialize_refuses_a_middle_parameter_with_a_space():
    with pytest.raises(ValueError):
        serialize(Message("KICK", ["#c", "two words", "reason"]))


def test_tag_escaping_round_trips():
    value = "a;b c\\d\r\ne"
    assert escape_tag_value(value) == "a\\:b\\sc\\\\d\\r\\ne"
    assert unescape_tag_value(escape_tag_value(value)) == value
    assert unescape_tag_value("trailing\\") == "trailing"
    assert unescape_tag_value("\\x") == "x"


def test_rfc1459_casemapping():
    assert irc_lower("Nick[]\\~") == "nick{}|^"


def test_irc_clients_and_people_are_told_apart_by_their_first_line():
    assert looks_like_irc(b"CAP LS 302")
    assert looks_like_irc(b"NICK alice")
    assert looks_like_irc(b"@label=1 PING x")
    assert not looks_like_irc(b"alice")
    assert not looks_like_irc(b"hello everyone")
    assert not looks_like_irc(b"nick alice")


# ------------------------------------------------------------ properties

_word = st.text(
    st.characters(blacklist_characters="\r\n\0 ", blacklist_categories=("Cs",)), min_size=1
).filter(lambda w: not w.startswith(":"))
_trailing = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)))
_command = st.one_of(st.from_regex(r"\A[A-Z]{1,12}\Z"), st.from_regex(r"\A[0-9]{3}\Z"))
_tag_key = st.from_regex(r"\A\+?[a-z][a-z0-9/.-]{0,15}\Z")
_tags = st.dictionaries(_tag_key, _trailing, max_size=4)
_source = st.none() | _word.filter(lambda w: not w.startswith("@"))
messages = st.builds(
    Message,
    command=_command,
    params=st.tuples(st.lists(_word, max_size=6), st.lists(_trailing, max_size=1)).map(
        lambda parts: parts[0] + parts[1]
    ),
    source=_source,
    tags=_tags,
)


@given(messages)
def test_parse_inverts_serialize(msg):
    assert parse(serialize(msg)) == msg


@given(messages)
def test_serialized_messages_are_one_line(msg):
    line = serialize(msg, trailing=True)
    assert "\r" not in line and "\n" not in line and "\0" not in line


@given(st.text())
def test_parse_raises_nothing_but_protocol_error(line):
    try:
        msg = parse(line)
    except ProtocolError:
        return
    # Whatever parses, serialises, and parses back to the same message.
    assert parse(serialize(msg)) == msg


@given(st.binary())
def test_arbitrary_bytes_decoded_as_latin1_never_break_the_parser(data):
    with contextlib.suppress(ProtocolError):
        parse(data.decode("latin-1"))
