"""Tests for the plain-text adapter: it has no I/O, so it is driven directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.plaintext import (
    CONNECTED_TEXT,
    HELP_TEXT,
    MESSAGE_CHUNK_BYTES,
    PlainSession,
    sane_nick,
)


def text_of(session: PlainSession) -> str:
    return session.take_text().decode("utf-8")


def server(session: PlainSession, *lines: str) -> list[str]:
    """Feed IRC lines as the core would write them, CRLF-terminated."""
    return session.from_server("".join(line + "\r\n" for line in lines).encode("utf-8"))


def registered(nick: str = "alice", room: str | None = "#lobby") -> PlainSession:
    """A session past registration, in `room` (None: in no room), with no text pending."""
    session = PlainSession()
    session.from_person(nick)
    server(session, f":tcpchat 001 {nick} :Welcome to tcpchat, {nick}")
    if room is not None:
        server(session, f":{nick}!{nick}@127.0.0.1 JOIN {room}")
    session.take_text()
    return session


# -- registration -----------------------------------------------------------


def test_greeting_explains_and_asks_for_a_nickname() -> None:
    greeting = PlainSession().greeting().decode()
    assert "/help" in greeting
    assert greeting.endswith("What's your nickname? ")
    assert "\r\n" in greeting


def test_first_line_is_the_nickname() -> None:
    session = PlainSession()
    assert session.from_person("alice") == ["USER alice 0 * :alice", "NICK alice"]
    assert session.nick is None


def test_empty_lines_before_the_nickname_are_ignored() -> None:
    session = PlainSession()
    assert session.from_person("") == []
    assert session.from_person("   ") == []
    assert session.from_person("bob")[-1] == "NICK bob"


def test_nickname_with_spaces_takes_the_first_word() -> None:
    assert PlainSession().from_person("  alice smith ")[-1] == "NICK alice"


def test_taken_nickname_asks_again_and_names_the_user_after_the_next_try() -> None:
    session = PlainSession()
    session.from_person("alice")
    assert server(session, ":tcpchat 433 * alice :Nickname is already in use") == []
    assert text_of(session) == "alice is taken; pick another nickname: "
    # The core keeps the last USER before it registers on the NICK it accepts.
    assert session.from_person("erin") == ["USER erin 0 * :erin", "NICK erin"]


def test_erroneous_nickname_explains_the_rules() -> None:
    session = PlainSession(nick_length=16)
    session.from_person("9lives")
    server(session, ":tcpchat 432 * 9lives :Erroneous nickname")
    prompt = text_of(session)
    assert prompt.startswith("9lives isn't allowed (letters, digits")
    assert "16" in prompt
    assert prompt.endswith("pick another nickname: ")
    assert session.from_person("lives")[-1] == "NICK lives"


def test_reserved_nickname_is_said_to_be_reserved_not_against_the_rule() -> None:
    session = PlainSession()
    session.from_person("Server")
    server(session, ":tcpchat 432 * Server :Nickname is reserved for the server's own use")
    assert text_of(session) == "Server is reserved; pick another nickname: "


def test_a_nickname_refused_for_another_reason_shows_the_servers_words() -> None:
    session = PlainSession()
    session.from_person("bot")
    server(session, ":irc.example 432 * bot :Invalid nickname: no bots here")
    assert text_of(session) == (
        "bot was refused (Invalid nickname: no bots here); pick another nickname: "
    )


@pytest.mark.parametrize(
    ("reply", "sentence"),
    [
        (
            ":tcpchat 432 alice José :Erroneous nickname",
            "You can't be José: that nickname isn't allowed (letters, digits and "
            "-[]\\`_^{|}, up to 30 characters, not starting with a digit or -).",
        ),
        (
            ":tcpchat 432 alice Server :Nickname is reserved for the server's own use",
            "You can't be Server: that nickname is reserved for the server's own use.",
        ),
        (
            ":tcpchat 433 alice bob :Nickname is already in use",
            "You can't be bob: that nickname is taken.",
        ),
    ],
)
def test_a_refused_nick_change_is_explained_in_a_sentence(reply: str, sentence: str) -> None:
    for session in (registered(), welcomed()):
        server(session, reply)
        assert session.take_lines() == [sentence]


def test_welcome_remembers_nick_greets_and_joins_default_channel() -> None:
    session = PlainSession(default_channel="#hall")
    session.from_person("alice")
    assert server(session, ":tcpchat 001 alice :Welcome to the network") == [
        "CAP REQ :away-notify chghost extended-monitor invite-notify message-tags setname"
        " batch server-time",
        "JOIN #hall",
    ]
    assert session.nick == "alice"
    assert text_of(session) == (
        "Welcome, alice! Type a message and press Enter to talk; /help lists commands.\r\n"
    )
    assert session.current_channel is None
    server(session, ":alice!alice@127.0.0.1 JOIN #hall")
    assert session.current_channel == "#hall"
    assert text_of(session) == "You joined #hall.\r\n"


def test_welcome_uses_the_nick_the_server_gave() -> None:
    session = PlainSession()
    session.from_person("averyveryverylongnick")
    server(session, ":tcpchat 001 averyvery :Welcome")
    assert session.nick == "averyvery"


def test_password_error_is_shown_in_words() -> None:
    session = PlainSession()
    session.from_person("alice")
    server(session, ":tcpchat 464 * :Password incorrect", "ERROR :Closing link")
    assert text_of(session) == "Password incorrect\r\nDisconnected: Closing link\r\n"


def test_registration_burst_is_not_shown_raw_but_motd_is() -> None:
    session = PlainSession()
    session.from_person("alice")
    server(
        session,
        ":tcpchat 001 alice :Welcome",
        ":tcpchat 002 alice :Your host is tcpchat",
        ":tcpchat 003 alice :This server was created today",
        ":tcpchat 004 alice tcpchat 0.1 io ntkl",
        ":tcpchat 005 alice CHANTYPES=# NICKLEN=30 :are supported by this server",
        ":tcpchat 251 alice :There are 3 users",
        ":tcpchat 265 alice 3 10 :Current local users 3, max 10",
        ":tcpchat 375 alice :- tcpchat Message of the day -",
        ":tcpchat 372 alice :- Everyone starts in #lobby.",
        ":tcpchat 376 alice :End of /MOTD command.",
    )
    lines = text_of(session).split("\r\n")
    assert lines[1:] == ["Everyone starts in #lobby.", ""]
    assert "tcpchat" not in "".join(lines[1:])


def test_motd_is_left_out_when_the_server_says_it_is_not_for_people() -> None:
    session = PlainSession(show_motd=False)
    session.from_person("alice")
    server(session, ":tcpchat 001 alice :Welcome", ":tcpchat 372 alice :- /join #lobby")
    assert "/join" not in text_of(session)


def test_missing_motd_is_silent() -> None:
    session = PlainSession()
    session.from_person("alice")
    server(session, ":tcpchat 001 alice :Welcome", ":tcpchat 422 alice :MOTD File is missing")
    assert "MOTD" not in text_of(session)


def test_help_and_quit_work_before_registration() -> None:
    session = PlainSession()
    assert session.from_person("/help") == []
    assert text_of(session) == HELP_TEXT.replace("\n", "\r\n") + "\r\nWhat's your nickname? "
    assert session.from_person("quit") == ["QUIT :Leaving"]


def test_other_slash_commands_before_registration_ask_for_a_nick() -> None:
    session = PlainSession()
    assert session.from_person("/join #dev") == []
    assert text_of(session).endswith("What's your nickname? ")
    assert session.from_person("/nick carol")[-1] == "NICK carol"


# -- typing after registration ------------------------------------------------


def test_plain_line_is_said_in_the_current_room() -> None:
    session = registered()
    assert session.from_person("Hello, Server!") == ["PRIVMSG #lobby :Hello, Server!"]
    assert session.take_text() == b""


def test_plain_line_without_a_room_explains() -> None:
    session = registered(room=None)
    assert session.from_person("hello") == []
    assert text_of(session) == "You are not in any room; /join #room first.\r\n"


def test_empty_lines_are_ignored_after_registration() -> None:
    session = registered()
    assert session.from_person("") == []
    assert session.from_person(" \t ") == []
    assert session.take_text() == b""


@pytest.mark.parametrize("word", ["quit", "over", "QUIT", " Over  "])
def test_quit_and_over_leave(word: str) -> None:
    assert registered().from_person(word) == ["QUIT :Leaving"]


def test_quit_inside_a_sentence_is_just_a_message() -> None:
    assert registered().from_person("quit it") == ["PRIVMSG #lobby :quit it"]


def test_double_slash_sends_a_message_starting_with_a_slash() -> None:
    assert registered().from_person("//join is a command") == ["PRIVMSG #lobby :/join is a command"]


def test_long_lines_are_split_to_fit_irc() -> None:
    session = registered()
    text = "word " * 200
    lines = session.from_person(text)
    assert len(lines) > 1
    for line in lines:
        assert line.startswith("PRIVMSG #lobby :")
        assert len(line.removeprefix("PRIVMSG #lobby :").encode()) <= MESSAGE_CHUNK_BYTES
    assert " ".join(line.removeprefix("PRIVMSG #lobby :") for line in lines) == text


def test_long_multibyte_lines_split_on_character_boundaries() -> None:
    lines = registered().from_person("é" * 400)
    assert "".join(line.removeprefix("PRIVMSG #lobby :") for line in lines) == "é" * 400


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/join #dev", ["JOIN #dev"]),
        ("/join dev", ["JOIN #dev"]),
        ("/JOIN #dev", ["JOIN #dev"]),
        ("/join #dev secret", ["JOIN #dev secret"]),
        ("/join #a,b", ["JOIN #a,#b"]),
        ("/part", ["PART #lobby"]),
        ("/part #dev", ["PART #dev"]),
        ("/part #dev gone fishing", ["PART #dev :gone fishing"]),
        ("/part gone fishing", ["PART #lobby :gone fishing"]),
        ("/nick robert", ["NICK robert"]),
        ("/me waves", ["PRIVMSG #lobby :\x01ACTION waves\x01"]),
        ("/names", ["NAMES #lobby"]),
        ("/names #dev", ["NAMES #dev"]),
        ("/names dev", ["NAMES #dev"]),
        ("/list", ["LIST"]),
        ("/topic", ["TOPIC #lobby"]),
        ("/topic #dev", ["TOPIC #dev"]),
        ("/topic #dev all about code", ["TOPIC #dev :all about code"]),
        ("/topic welcome all", ["TOPIC #lobby :welcome all"]),
        ("/who #lobby", ["WHO #lobby"]),
        ("/who bob", ["WHO bob"]),
        ("/who", ["WHO #lobby"]),
        ("/whois bob", ["WHOIS bob"]),
        ("/away", ["AWAY"]),
        ("/away gone to lunch", ["AWAY :gone to lunch"]),
        ("/quit", ["QUIT :Leaving"]),
        ("/quit see you", ["QUIT :see you"]),
    ],
)
def test_slash_commands_translate_to_irc(typed: str, expected: list[str]) -> None:
    session = registered()
    assert session.from_person(typed) == expected
    assert session.take_text() == b""


@pytest.mark.parametrize(
    ("typed", "expected", "shown"),
    [
        ("/msg bob hi there", ["PRIVMSG bob :hi there"], "-> bob: hi there\r\n"),
        ("/msg #dev hi", ["PRIVMSG #dev :hi"], "-> #dev: hi\r\n"),
    ],
)
def test_msg_is_sent_and_confirmed_as_sent(typed: str, expected: list[str], shown: str) -> None:
    session = registered()
    assert session.from_person(typed) == expected
    assert text_of(session) == shown


@pytest.mark.parametrize(
    ("typed", "usage"),
    [
        ("/join", "Usage: /join"),
        ("/msg bob", "Usage: /msg"),
        ("/nick", "Usage: /nick"),
        ("/me", "Usage: /me"),
        ("/whois", "Usage: /whois"),
    ],
)
def test_slash_commands_missing_arguments_show_usage(typed: str, usage: str) -> None:
    session = registered()
    assert session.from_person(typed) == []
    assert text_of(session).startswith(usage)


def test_commands_needing_a_room_explain_when_in_none() -> None:
    for typed in ("/me waves", "/part", "/names", "/topic"):
        session = registered(room=None)
        assert session.from_person(typed) == []
        assert text_of(session) == "You are not in any room; /join #room first.\r\n"


def test_help_lists_every_command() -> None:
    session = registered()
    assert session.from_person("/help") == []
    shown = text_of(session)
    for command in (
        "/join", "/part", "/switch", "/msg", "/me", "/nick", "/names", "/list",
        "/topic", "/who", "/whois", "/away", "/quit", "/help", "//",
    ):  # fmt: skip
        assert command in shown
    assert "\n" not in shown.replace("\r\n", "")


def test_unknown_command_is_explained_not_sent() -> None:
    session = registered()
    assert session.from_person("/foo bar") == []
    assert text_of(session) == "Unknown command /foo. Type /help for the list.\r\n"


def test_no_raw_irc_passthrough() -> None:
    session = registered()
    for typed in ("/quote KILL bob", "/raw PRIVMSG bob :x", "/mode #lobby o alice"):
        assert session.from_person(typed) == []


def test_arguments_that_would_break_a_line_are_refused() -> None:
    session = registered()
    assert session.from_person("/msg :bob hi") == []
    assert session.from_person("/nick :x") == []
    assert "valid" in text_of(session)


def test_switch_changes_the_current_room_locally() -> None:
    session = registered()
    server(session, ":alice!a@h JOIN #dev")
    assert session.current_channel == "#dev"
    assert session.from_person("/switch #lobby") == []
    assert session.current_channel == "#lobby"
    assert text_of(session).endswith("You are now talking in #lobby.\r\n")
    assert session.from_person("hi") == ["PRIVMSG #lobby :hi"]


def test_switch_to_a_room_not_joined_explains() -> None:
    session = registered()
    assert session.from_person("/switch #nowhere") == []
    assert session.current_channel == "#lobby"
    assert text_of(session) == "You are not in #nowhere; /join #nowhere first.\r\n"


def test_join_of_a_room_already_joined_switches_to_it() -> None:
    session = registered()
    server(session, ":alice!a@h JOIN #dev")
    assert session.from_person("/join lobby") == []
    assert session.current_channel == "#lobby"


# -- current room tracking ----------------------------------------------------


def test_current_room_follows_our_joins_and_parts() -> None:
    session = registered()
    server(session, ":alice!a@h JOIN #dev", ":alice!a@h JOIN #ops")
    assert session.current_channel == "#ops"
    server(session, ":alice!a@h PART #ops")
    assert session.current_channel == "#dev"
    assert text_of(session).endswith("You left #ops.\r\nYou are now talking in #dev.\r\n")
    server(session, ":alice!a@h PART #lobby :bye")
    assert session.current_channel == "#dev"
    server(session, ":alice!a@h PART #dev")
    assert session.current_channel is None


def test_being_kicked_leaves_the_room() -> None:
    session = registered()
    server(session, ":carol!c@h KICK #lobby alice :spamming")
    assert session.current_channel is None
    assert text_of(session) == "You were kicked from #lobby by carol (spamming)\r\n"


def test_others_joining_do_not_change_the_current_room() -> None:
    session = registered()
    server(session, ":bob!b@h JOIN #dev")
    assert session.current_channel == "#lobby"
    assert text_of(session) == "* bob joined #dev\r\n"


def test_room_names_compare_case_insensitively() -> None:
    session = registered()
    server(session, ":alice!a@h PART #LOBBY")
    assert session.current_channel is None


# -- rendering what the server sends ------------------------------------------


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (":bob!b@h PRIVMSG #lobby :Hi, alice!", "bob says: Hi, alice!"),
        (":bob!b@h PRIVMSG #dev :over here", "[#dev] bob says: over here"),
        (":bob!b@h PRIVMSG alice :psst", "bob (private) says: psst"),
        (":bob!b@h PRIVMSG #lobby :\x01ACTION waves\x01", "* bob waves"),
        (":bob!b@h PRIVMSG #dev :\x01ACTION waves\x01", "[#dev] * bob waves"),
        (":bob!b@h NOTICE alice :fyi", "-bob- fyi"),
        (":tcpchat NOTICE alice :Server restarting soon", "Server restarting soon"),
        (":bob!b@h JOIN #lobby", "* bob joined #lobby"),
        (":bob!b@h PART #lobby :gone home", "* bob left #lobby (gone home)"),
        (":bob!b@h PART #lobby", "* bob left #lobby"),
        (":bob!b@h QUIT :Quit: bye", "* bob quit (Quit: bye)"),
        (":bob!b@h NICK robert", "* bob is now known as robert"),
        (":bob!b@h TOPIC #lobby :new topic", "* bob set the topic of #lobby to: new topic"),
        (":carol!c@h KICK #lobby bob :behave", "* bob was kicked from #lobby by carol (behave)"),
        (":carol!c@h MODE #lobby +o bob", "* carol sets mode +o bob on #lobby"),
        (":tcpchat 332 alice #lobby :Welcome all", "Topic of #lobby: Welcome all"),
        (":tcpchat 331 alice #dev :No topic is set", "#dev has no topic."),
        (":tcpchat 305 alice :You are no longer marked as being away", "You are no longer away."),
        (":tcpchat 306 alice :You have been marked as being away", "You are now marked away."),
        (":tcpchat 301 alice bob :at lunch", "bob is away: at lunch"),
        (":tcpchat 401 alice bob :No such nick/channel", "No such nick/channel: bob"),
        (":tcpchat 404 alice #dev :Cannot send to channel", "Cannot send to channel: #dev"),
        (":tcpchat 481 alice :Permission Denied", "Permission Denied"),
        (
            ":tcpchat 433 alice bob :Nickname is already in use",
            "You can't be bob: that nickname is taken.",
        ),
        (":tcpchat 999 alice :Something unusual", "Something unusual"),
        ("ERROR :Server shutting down", "Disconnected: Server shutting down"),
        (
            "ERROR :Closing Link: 127.0.0.1 (Server restarting, reconnect in a few seconds)",
            "The server is restarting; connect again in a few seconds to carry on.",
        ),
        ("@time=2024-01-01T00:00:00Z :bob!b@h PRIVMSG #lobby :tagged", "bob says: tagged"),
        (":bob!b@h PRIVMSG #lobby :\x02b\x02 \x0304,01red\x03 \x1b[2Jx", "bob says: b red [2Jx"),
    ],
)  # fmt: skip
def test_server_lines_render_as_sentences(line: str, shown: str) -> None:
    session = registered()
    assert server(session, line) == []
    assert text_of(session) == shown + "\r\n"


@pytest.mark.parametrize(
    "line",
    [
        ":alice!a@h PRIVMSG #lobby :my own words echoed",
        ":alice!a@h QUIT :bye",
        ":tcpchat 333 alice #lobby bob 1700000000",
        ":tcpchat 321 alice Channel :Users Name",
        ":tcpchat 318 alice bob :End of /WHOIS list",
        ":alice MODE alice :+i",
        ":bob!b@h PRIVMSG alice :\x01VERSION\x01",
        ":bob!b@h NOTICE alice :\x01VERSION someclient 1.0\x01",
        ":bob!b@h PRIVMSG #lobby :\x01CLIENTINFO\x01",
        ":tcpchat PONG tcpchat :token",
        ":tcpchat CAP * LS :message-tags",
    ],
)
def test_lines_a_person_need_not_see_are_suppressed(line: str) -> None:
    session = registered()
    server(session, line)
    assert session.take_text() == b""


def test_our_own_nick_change_is_tracked() -> None:
    session = registered()
    server(session, ":alice!a@h NICK robert")
    assert session.nick == "robert"
    assert text_of(session) == "You are now known as robert.\r\n"
    server(session, ":bob!b@h PRIVMSG robert :hi robert")
    assert text_of(session) == "bob (private) says: hi robert\r\n"


def test_ping_is_answered_and_not_shown() -> None:
    session = registered()
    assert server(session, "PING :abc123") == ["PONG :abc123"]
    assert session.take_text() == b""


def test_ping_before_registration_is_answered() -> None:
    session = PlainSession()
    session.from_person("alice")
    assert session.from_server(b"PING :cookie\r\n") == ["PONG :cookie"]


def test_names_accumulate_until_end_of_names() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 353 alice = #lobby :@carol +bob",
        ":tcpchat 353 alice = #lobby :alice dave",
    )
    assert session.take_text() == b""
    server(session, ":tcpchat 366 alice #lobby :End of /NAMES list.")
    assert text_of(session) == "People in #lobby: @carol, +bob, alice, dave\r\n"


def test_names_of_two_rooms_do_not_mix() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 353 alice = #lobby :alice",
        ":tcpchat 353 alice = #dev :bob",
        ":tcpchat 366 alice #dev :End",
        ":tcpchat 366 alice #lobby :End",
    )
    assert text_of(session) == "People in #dev: bob\r\nPeople in #lobby: alice\r\n"


def test_list_accumulates_rooms() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 321 alice Channel :Users Name",
        ":tcpchat 322 alice #lobby 3 :General chat",
        ":tcpchat 322 alice #dev 1 :",
    )
    assert session.take_text() == b""
    server(session, ":tcpchat 323 alice :End of /LIST")
    assert text_of(session) == (
        "Rooms:\r\n  #lobby (3 people): General chat\r\n  #dev (1 person)\r\n"
    )


def test_empty_list_says_so() -> None:
    session = registered()
    server(session, ":tcpchat 321 alice Channel :Users Name", ":tcpchat 323 alice :End")
    assert text_of(session) == "No rooms.\r\n"


def test_who_replies_are_readable() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 352 alice #lobby bob 127.0.0.1 tcpchat bob H :0 Bob Smith",
        ":tcpchat 352 alice #lobby carol 0::1 tcpchat carol G@ :0 Carol",
        ":tcpchat 315 alice #lobby :End of /WHO list.",
    )
    assert text_of(session) == (
        "bob (bob@127.0.0.1): Bob Smith\r\ncarol (carol@0::1) (away): Carol\r\n"
    )
    server(session, ":tcpchat 315 alice nobody :End of /WHO list.")
    assert text_of(session) == "Nobody matches nobody.\r\n"


def test_whois_replies_are_readable() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 311 alice bob bob 127.0.0.1 * :Bob Smith",
        ":tcpchat 312 alice bob tcpchat :tcpchat server",
        ":tcpchat 313 alice bob :is an IRC operator",
        ":tcpchat 301 alice bob :at lunch",
        ":tcpchat 317 alice bob 125 1700000000 :seconds idle, signon time",
        ":tcpchat 319 alice bob :@#lobby #dev",
        ":tcpchat 318 alice bob :End of /WHOIS list.",
    )
    assert text_of(session).split("\r\n") == [
        "bob (bob@127.0.0.1): Bob Smith",
        "bob is connected to tcpchat (tcpchat server)",
        "bob is an IRC operator",
        "bob is away: at lunch",
        "bob has been idle for 2m 5s",
        "bob is in: @#lobby #dev",
        "",
    ]


def test_several_lines_in_one_write_and_bare_lf() -> None:
    session = registered()
    replies = session.from_server(
        b":bob!b@h PRIVMSG #lobby :one\n:bob!b@h PRIVMSG #lobby :two\r\nPING :x"
    )
    assert replies == ["PONG :x"]
    assert text_of(session) == "bob says: one\r\nbob says: two\r\n"


def test_malformed_lines_are_ignored() -> None:
    session = registered()
    data = b"\r\n:\r\n@\r\n:only-source\r\n\xff\xfe garbage\r\n:bob!b@h PRIVMSG\r\n433\r\n"
    assert session.from_server(data) == []
    assert session.take_text() == b""


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    session = registered()
    session.from_server(b":bob!b@h PRIVMSG #lobby :caf\xe9\r\n")
    assert text_of(session) == "bob says: caf\ufffd\r\n"


def test_take_text_empties_the_queue() -> None:
    session = registered()
    server(session, ":bob!b@h JOIN #lobby")
    assert session.take_text() != b""
    assert session.take_text() == b""


# -- properties: nothing raises, nothing breaks a line ------------------------

COMMANDS = [
    "PRIVMSG", "NOTICE", "JOIN", "PART", "KICK", "QUIT", "NICK", "TOPIC", "MODE",
    "INVITE", "PING", "ERROR", "FAIL", "WARN", "001", "005", "301", "305", "311",
    "312", "315", "317", "319", "322", "323", "324", "330", "331", "332", "352",
    "353", "366", "372", "401", "432", "433", "999", "AWAY",
]  # fmt: skip
params = st.lists(
    st.sampled_from(["a", "#", "@", "!", ":", " ", "\x01", "\x03", "7", "é", "alice", "- "]),
    max_size=8,
).map("".join)


def no_line_breaks(lines: list[str]) -> bool:
    return all(not any(ch in line for ch in "\r\n\0") for line in lines)


@given(st.lists(st.binary(max_size=200), max_size=5))
def test_garbage_from_the_server_never_raises(chunks: list[bytes]) -> None:
    for session in (PlainSession(), registered()):
        for chunk in chunks:
            assert no_line_breaks(session.from_server(chunk))
        session.take_text().decode("utf-8")


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", ":bob!b@h ", ":alice!a@h ", ":tcpchat ", ":a "]),
            st.sampled_from(COMMANDS),
            st.lists(params, max_size=5),
        ),
        max_size=6,
    )
)
def test_irc_shaped_lines_never_raise(lines: list[tuple[str, str, list[str]]]) -> None:
    for session in (PlainSession(), registered()):
        for source, command, args in lines:
            raw = source + command + "".join(" " + arg for arg in args)
            assert no_line_breaks(session.from_server(raw.encode() + b"\r\n"))
        shown = session.take_text().decode("utf-8")
        assert not any(ch in shown.replace("\r\n", "") for ch in "\r\n\0\x1b\x01")


@given(st.text())
def test_anything_typed_never_raises_or_breaks_a_line(line: str) -> None:
    for session in (PlainSession(), registered(), registered(room=None)):
        assert no_line_breaks(session.from_person(line))
        session.take_text()


@given(st.lists(st.text(alphabet=st.sampled_from(["/", " ", "#", ":", "a", "\r", "\0"]))))
def test_command_like_input_never_breaks_a_line(lines: list[str]) -> None:
    session = registered()
    for line in lines:
        out = session.from_person(line)
        assert no_line_breaks(out)
        assert all(not line.startswith((":", " ")) for line in out)


def test_telnet_negotiation_is_stripped_from_typed_lines():
    from tcpchat.plaintext import strip_telnet

    assert strip_telnet(b"\xff\xfb\x1f\xff\xfd\x03dave") == b"dave"
    assert strip_telnet(b"a\xff\xfa\x18\x00xterm\xff\xf0b") == b"ab"
    assert strip_telnet(b"\xff\xffliteral") == b"\xffliteral"
    assert strip_telnet(b"plain") == b"plain"


# -- client mode: the terminal client's IRC, driven directly ------------------


def client_session(
    nick: str = "alice", style_nick: Callable[[str], str] | None = None, **start: Any
) -> PlainSession:
    """A session in client mode, registration begun (its opening lines dropped)."""
    session = PlainSession(style_nick=style_nick)
    session.start(nick, **start)
    return session


def welcomed(
    nick: str = "alice", style_nick: Callable[[str], str] | None = None, **start: Any
) -> PlainSession:
    """A client-mode session past the welcome, in #lobby, with no text pending."""
    session = client_session(nick, style_nick, **start)
    server(session, f":srv 001 {nick} :Welcome", f":{nick}!u@h JOIN #lobby")
    session.take_lines()
    return session


def test_start_opens_registration_with_cap_nick_and_user() -> None:
    session = PlainSession()
    assert session.start("alice") == ["CAP LS 302", "NICK alice", "USER alice 0 * :tcpchat client"]
    assert session.nick is None
    assert not session.ready


def test_start_cleans_a_nick_that_would_break_the_line() -> None:
    assert PlainSession().start("al ice")[1] == "NICK al_ice"


def test_cap_ls_requests_only_what_the_client_uses_then_ends() -> None:
    session = client_session()
    assert server(session, ":srv CAP * LS * :away-notify multi-prefix") == []
    assert server(session, ":srv CAP * LS :sasl=PLAIN server-time") == [
        "CAP REQ :multi-prefix server-time away-notify"
    ]
    assert server(session, ":srv CAP * ACK :multi-prefix server-time away-notify") == [
        "CAP END"
    ]
    assert session.take_lines() == []


def test_cap_ls_without_anything_wanted_ends_at_once() -> None:
    session = client_session()
    assert server(session, ":srv CAP * LS :sasl echo-message") == ["CAP END"]


def test_a_server_without_cap_still_welcomes_us_and_nothing_odd_shows() -> None:
    session = client_session()
    replies = server(
        session,
        ":srv NOTICE * :*** Looking up your hostname...",
        ":srv 421 * CAP :Unknown command",
        ":srv 001 alice :Welcome to the network",
        ":srv 375 alice :- srv Message of the day -",
        ":srv 372 alice :- A very long message of the day",
        ":srv 376 alice :End of /MOTD command.",
    )
    assert replies == ["JOIN #lobby"]
    assert session.take_lines() == [CONNECTED_TEXT]
    server(session, ":alice!u@h JOIN #lobby")
    assert session.ready
    assert session.current_channel == "#lobby"


def test_taken_nick_tries_another_and_says_so_once_welcomed() -> None:
    session = client_session()
    assert server(session, ":srv 433 * alice :Nickname is already in use") == ["NICK alice_"]
    assert server(session, ":srv 433 * alice_ :Nickname is already in use") == ["NICK alice__"]
    assert session.take_lines() == []
    server(session, ":srv 001 alice__ :Welcome")
    assert session.nick == "alice__"
    assert session.take_lines() == [
        CONNECTED_TEXT,
        "The nickname alice is taken; you are alice__ instead.",
    ]


def test_taken_nick_at_the_length_limit_keeps_the_suffix() -> None:
    session = client_session("averyverylongname")
    assert server(session, ":srv 432 * averyverylongname :Erroneous") == ["NICK averyvery"]
    assert server(session, ":srv 433 * averyvery :Nickname is already in use") == ["NICK averyver_"]


def test_refused_nick_falls_back_to_a_sane_one_then_guest() -> None:
    session = client_session("averyverylongname")
    assert server(session, ":srv 432 * averyverylongname :Erroneous") == ["NICK averyvery"]
    assert server(session, ":srv 432 * averyvery :Erroneous") == ["NICK guest"]
    server(session, ":srv 001 guest :Welcome")
    assert session.take_lines()[1] == (
        "The nickname averyverylongname isn't allowed here; you are guest instead."
    )


def test_reserved_nick_tries_a_variant_first() -> None:
    session = client_session("Server")
    assert server(session, ":srv 432 * Server :Erroneous nickname") == ["NICK Server_"]


def test_reserved_nick_tries_a_variant_and_says_it_was_reserved() -> None:
    session = client_session("Server")
    reply = ":srv 432 * Server :Nickname is reserved for the server's own use"
    assert server(session, reply) == ["NICK Server_"]
    server(session, ":srv 001 Server_ :Welcome")
    assert session.take_lines()[1] == "The nickname Server is reserved; you are Server_ instead."


def test_nick_changed_by_the_server_is_reported() -> None:
    session = client_session("alice")
    server(session, ":srv 001 alic :Welcome")
    assert session.take_lines()[1] == (
        "The nickname alice was changed by the server; you are alic instead."
    )


def test_welcome_joins_the_rooms_and_keeps_the_preferred_current_one() -> None:
    session = client_session(channels=["#dev", "#lobby", "#ops"], current="#LOBBY")
    assert server(session, ":srv 001 alice :Welcome") == ["JOIN #dev,#lobby,#ops"]
    server(session, ":alice!u@h JOIN #dev", ":alice!u@h JOIN #lobby")
    assert not session.ready
    server(session, ":alice!u@h JOIN #ops")
    assert session.ready
    assert session.current_channel == "#lobby"
    assert session.joined_channels == ["#dev", "#lobby", "#ops"]
    server(session, ":alice!u@h JOIN #later")
    assert session.current_channel == "#later"  # a room joined by hand becomes current


def test_a_room_the_server_refuses_does_not_hold_typed_lines_back() -> None:
    session = client_session(channels=["#lobby", "#banned"])
    server(session, ":srv 001 alice :Welcome", ":alice!u@h JOIN #lobby")
    assert not session.ready
    server(session, ":srv 474 alice #banned :Cannot join channel (+b)")
    assert session.ready
    assert session.take_lines()[-1] == "Cannot join channel (+b): #banned"


def test_no_rooms_means_ready_at_the_welcome() -> None:
    session = client_session(channels=[])
    assert server(session, ":srv 001 alice :Welcome") == []
    assert session.ready
    assert session.current_channel is None


def test_typing_before_the_welcome_waits_except_quit_and_help() -> None:
    session = client_session()
    assert session.from_person("hello") == []
    assert session.take_lines() == ["Still connecting to the server; try again in a moment."]
    assert session.from_person("/help") == []
    assert "/join" in "\n".join(session.take_lines())
    assert session.from_person("/quit bye") == ["QUIT :bye"]
    assert session.quitting


def test_error_says_the_server_ended_the_chat_unless_we_quit() -> None:
    session = welcomed()
    server(session, "ERROR :Closing Link: 127.0.0.1 (Server shutting down)")
    assert session.take_lines() == [
        "The server ended the chat: Closing Link: 127.0.0.1 (Server shutting down)"
    ]
    restarting = welcomed()  # the client says it reconnects, not that the chat ended
    server(restarting, "ERROR :Closing Link: 127.0.0.1 (Server restarting, reconnect in a bit)")
    assert restarting.take_lines() == []
    leaving = welcomed()
    assert leaving.from_person("over") == ["QUIT :Leaving"]
    assert leaving.quitting
    server(leaving, "ERROR :Closing Link: 127.0.0.1 (Quit: Leaving)")
    assert leaving.take_lines() == []


def test_plain_mode_is_not_quitting_after_quit() -> None:
    session = registered()
    session.from_person("quit")
    assert not session.quitting  # the nc user is not a client: the edge closes for them


def test_style_nick_wraps_every_nick_shown_and_nothing_else() -> None:
    session = welcomed(style_nick=lambda nick: f"<{nick}>")
    server(
        session,
        ":bob!b@h PRIVMSG #lobby :hi <alice>",
        ":bob!b@h PRIVMSG alice :psst",
        ":bob!b@h PRIVMSG #lobby :\x01ACTION waves\x01",
        ":bob!b@h NICK robert",
        ":carol!c@h KICK #lobby robert :bye",
        ":srv 353 alice = #lobby :@carol +alice",
        ":srv 366 alice #lobby :End",
    )
    assert session.take_lines() == [
        "<bob> says: hi <alice>",
        "<bob> (private) says: psst",
        "* <bob> waves",
        "* <bob> is now known as <robert>",
        "* <robert> was kicked from #lobby by <carol> (bye)",
        "People in #lobby: @<carol>, +<alice>",
    ]


def test_styling_cannot_be_used_to_smuggle_escapes() -> None:
    session = welcomed(style_nick=lambda nick: f"\x1b[31m{nick}\x1b[39m")
    server(session, ":b\x1bob!b@h PRIVMSG #lobby :\x1b[2Jhi\x9b")
    assert session.take_lines() == ["\x1b[31mbob\x1b[39m says: [2Jhi"]


def test_names_prefixes_follow_isupport() -> None:
    session = welcomed(style_nick=lambda nick: f"<{nick}>")
    server(
        session,
        ":srv 005 alice PREFIX=(qaohv)~&@%+ :are supported",
        ":srv 353 alice = #lobby :~@owner %half",
        ":srv 366 alice #lobby :End",
    )
    assert session.take_lines() == ["People in #lobby: ~@<owner>, %<half>"]


def test_take_lines_splits_and_empties() -> None:
    session = welcomed()
    assert session.take_lines() == []
    server(session, ":bob!b@h JOIN #lobby", ":bob!b@h PART #lobby")
    assert session.take_lines() == ["* bob joined #lobby", "* bob left #lobby"]
    assert session.take_lines() == []


@pytest.mark.parametrize(
    ("login", "nick"),
    [
        ("alice", "alice"),
        ("john.doe", "john_doe"),
        ("42", "_42"),
        ("-x", "_-x"),
        ("ünïcode", "ncode"),
        ("", "guest"),
        ("é", "guest"),
        ("a" * 40, "a" * 30),
    ],
)
def test_sane_nick_makes_any_login_a_valid_nick(login: str, nick: str) -> None:
    assert sane_nick(login) == nick


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", ":bob!b@h ", ":alice!a@h ", ":srv ", ":a "]),
            st.sampled_from([*COMMANDS, "CAP", "431", "436", "421", "451", "474"]),
            st.lists(params, max_size=5),
        ),
        max_size=8,
    )
)
def test_client_mode_never_raises_on_irc_shaped_lines(
    lines: list[tuple[str, str, list[str]]],
) -> None:
    for session in (client_session(), welcomed(style_nick=lambda nick: f"[{nick}]")):
        for source, command, args in lines:
            raw = source + command + "".join(" " + arg for arg in args)
            assert no_line_breaks(session.from_server(raw.encode() + b"\r\n"))
        for shown in session.take_lines():
            assert not any(ch in shown for ch in "\r\n\0\x1b\x01")


# -- powers of room and server operators ----------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/kick bob", ["KICK #lobby bob"]),
        ("/kick bob go away", ["KICK #lobby bob :go away"]),
        ("/kick #dev bob be nice", ["KICK #dev bob :be nice"]),
        ("/ban", ["MODE #lobby +b"]),
        ("/ban bob", ["MODE #lobby +b bob"]),
        ("/ban #dev *!*@10.0.0.*", ["MODE #dev +b *!*@10.0.0.*"]),
        ("/unban bob", ["MODE #lobby -b bob"]),
        ("/op bob", ["MODE #lobby +o bob"]),
        ("/deop #dev bob", ["MODE #dev -o bob"]),
        ("/voice bob", ["MODE #lobby +v bob"]),
        ("/devoice bob", ["MODE #lobby -v bob"]),
        ("/invite bob", ["INVITE bob #lobby"]),
        ("/invite bob dev", ["INVITE bob #dev"]),
        ("/key sesame", ["MODE #lobby +k sesame"]),
        ("/key", ["MODE #lobby -k *"]),
        ("/key #dev s3", ["MODE #dev +k s3"]),
        ("/mode", ["MODE #lobby"]),
        ("/mode +im", ["MODE #lobby +im"]),
        ("/mode #dev +l 20", ["MODE #dev +l 20"]),
        ("/oper root hunter2", ["OPER root hunter2"]),
        ("/kill bob", ["KILL bob :No reason given"]),
        ("/kill bob spam bot", ["KILL bob :spam bot"]),
        ("/stats", ["STATS"]),
        ("/stats u", ["STATS u"]),
    ],
)  # fmt: skip
def test_operator_commands_translate_to_irc(typed: str, expected: list[str]) -> None:
    session = registered()
    assert session.from_person(typed) == expected
    assert session.take_text() == b""


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("/kick", "Usage: /kick nick [reason]"),
        ("/unban", "Usage: /unban mask"),
        ("/op", "Usage: /op nick"),
        ("/invite", "Usage: /invite nick [#room]"),
        ("/oper root", "Usage: /oper name password"),
        ("/kill", "Usage: /kill nick [reason]"),
        ("/mode im", "Usage: /mode [#room] [+flags|-flags [arguments]]"),
        ("/op :bob", "That isn't a valid name: :bob"),
        ("/ban :x!y@z", "That isn't a valid name: :x!y@z"),
    ],
)
def test_operator_commands_explain_their_usage(typed: str, shown: str) -> None:
    session = registered()
    assert session.from_person(typed) == []
    assert text_of(session) == shown + "\r\n"


def test_operator_commands_needing_a_room_explain_when_in_none() -> None:
    for typed in ("/kick bob", "/ban", "/op bob", "/invite bob", "/key", "/mode +m"):
        session = registered(room=None)
        assert session.from_person(typed) == []
        assert text_of(session) == "You are not in any room; /join #room first.\r\n"


def test_help_lists_the_operator_commands() -> None:
    session = registered()
    session.from_person("/help")
    shown = text_of(session)
    for command in ("/kick", "/ban", "/unban", "/op", "/deop", "/voice", "/invite", "/key",
                    "/mode", "/oper", "/kill", "/stats"):  # fmt: skip
        assert command in shown


def test_ban_list_and_operator_replies_read_as_sentences() -> None:
    session = registered()
    server(
        session,
        ":tcpchat 367 alice #lobby bob!*@* carol!c@h 1700000000",
        ":tcpchat 367 alice #lobby *!*@10.0.0.* carol!c@h 1700000000",
        ":tcpchat 368 alice #lobby :End of channel ban list",
        ":tcpchat 368 alice #dev :End of channel ban list",
        ":tcpchat 381 alice :You are now an IRC operator",
        ":tcpchat 242 alice :Server Up 0 days 0:00:05",
        ":tcpchat 219 alice u :End of /STATS report",
        ":carol!c@h KILL alice :spamming",
        "ERROR :Closing Link: 127.0.0.1 (Killed (carol (spamming)))",
    )
    assert text_of(session).split("\r\n") == [
        "Banned in #lobby: bob!*@* (by carol)",
        "Banned in #lobby: *!*@10.0.0.* (by carol)",
        "Nobody is banned in #dev.",
        "You are now an IRC operator",
        "Server Up 0 days 0:00:05",
        "Disconnected: Closing Link: 127.0.0.1 (Killed (carol (spamming)))",
        "",
    ]
