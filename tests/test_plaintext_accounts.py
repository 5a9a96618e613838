"""Accounts in the plain-text mode, driven directly: what /register, /login, /logout, /regain,
/verify and /account send, and how the server's account replies read."""

from __future__ import annotations

import base64

from tcpchat.plaintext import PlainSession, help_text
from test_plaintext import registered, server, text_of


def test_register_sends_register_for_the_current_nick() -> None:
    session = registered()
    assert session.from_person("/register correct horse battery") == [
        "REGISTER * * :correct horse battery"
    ]
    assert session.from_person("/register") == []
    assert text_of(session) == "Usage: /register password (your nick becomes your account)\r\n"


def test_the_servers_account_replies_read_as_sentences() -> None:
    session = registered()
    assert server(
        session,
        ":tcpchat REGISTER SUCCESS alice :Account alice registered",
        ":tcpchat 900 alice alice!alice@127.0.0.1 alice :You are now logged in as alice",
        ":tcpchat FAIL REGISTER ACCOUNT_EXISTS alice :alice is already registered; log in",
        ":tcpchat 901 alice alice!alice@127.0.0.1 :You are now logged out",
        ":tcpchat REGISTER VERIFICATION_REQUIRED bob :Account bob created; an operator must",
        ":tcpchat VERIFY SUCCESS bob :Account bob verified",
        ":tcpchat NOTICE alice :The nick alice belongs to an account.",
    ) == []
    assert text_of(session).split("\r\n") == [
        "Account alice registered",
        "You are now logged in as alice.",
        "alice is already registered; log in",
        "You are now logged out.",
        "Account bob created; an operator must",
        "Account bob verified",
        "The nick alice belongs to an account.",
        "",
    ]


def test_login_asks_for_sasl_then_speaks_scram_and_never_sends_the_password() -> None:
    session = registered()
    assert session.from_person("/login alice correct horse") == ["CAP REQ :sasl"]
    assert server(session, ":tcpchat CAP alice ACK :sasl") == ["AUTHENTICATE SCRAM-SHA-256"]
    first = server(session, "AUTHENTICATE +")
    assert len(first) == 1 and first[0].startswith("AUTHENTICATE ")
    assert base64.b64decode(first[0].split()[1]).startswith(b"n,,n=alice,r=")
    assert b"correct horse" not in base64.b64decode(first[0].split()[1])
    server(
        session,
        ":tcpchat 900 alice alice!alice@127.0.0.1 alice :You are now logged in as alice",
        ":tcpchat 903 alice :SASL authentication successful",
    )
    assert text_of(session) == "You are now logged in as alice.\r\n"


def test_login_with_a_password_alone_uses_the_nick_and_failures_read_well() -> None:
    session = registered("dave")
    assert session.from_person("/login sesame") == ["CAP REQ :sasl"]
    server(session, ":tcpchat CAP dave ACK :sasl")
    suspended = "SASL authentication failed: account dave is suspended: spam"
    server(session, f":tcpchat 904 dave :{suspended}")
    server(session, ":tcpchat 902 dave :Account dave is suspended")
    server(session, ":tcpchat 907 dave :You have already authenticated using SASL")
    assert text_of(session).split("\r\n") == [
        "Login as dave failed: account dave is suspended: spam.",
        "Login failed: Account dave is suspended",
        "You are logged in already.",
        "",
    ]
    assert session.from_person("/login") == []
    assert text_of(session) == "Usage: /login name password\r\n"


def test_logout_regain_verify_and_the_operators_account_command() -> None:
    session = registered()
    assert session.from_person("/logout") == ["LOGOUT"]
    assert session.from_person("/regain") == ["REGAIN"]
    assert session.from_person("/regain alice") == ["REGAIN alice"]
    assert session.from_person("/verify alice 1a2b3c4d") == ["VERIFY alice 1a2b3c4d"]
    assert session.from_person("/account info bob") == ["ACCOUNT INFO bob"]
    assert session.from_person("/account pending") == ["ACCOUNT PENDING"]
    assert session.from_person("/account suspend bob spamming the lobby") == [
        "ACCOUNT SUSPEND bob :spamming the lobby"
    ]
    assert session.from_person("/account create bob two words") == [
        "ACCOUNT CREATE bob :two words"
    ]
    assert session.from_person("/verify alice") == []
    assert text_of(session) == "Usage: /verify name code\r\n"


def test_help_tells_about_accounts() -> None:
    assert "/register password" in help_text()
    assert "/account" in help_text()
    for command in ("register", "login", "logout", "regain", "verify", "account"):
        usage, _, details = help_text(command).partition("\n  ")
        assert usage.startswith(f"/{command}") and details


def test_the_client_registers_the_same_way() -> None:
    session = PlainSession()
    session.start("alice")
    server(session, ":tcpchat 001 alice :Welcome")
    session.take_text()
    assert session.from_person("/register correct horse") == ["REGISTER * * :correct horse"]
