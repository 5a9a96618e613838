"""REGISTER and VERIFY (IRCv3 draft/account-registration) over real sockets, with a real
SQLite file where it matters: accounts that survive a restart, every refusal the spec names,
the approval flow, rate limits, and a database that cannot write."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading

import pytest

from tcpchat.core.commands import COMMANDS
from tcpchat.passwords import hash_password

from net_harness import TIMEOUT, LineClient, RunningServer, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def caps_offered(client: LineClient) -> list[str]:
    client.send("CAP LS 302")
    return client.expect(r" CAP \* LS :(.*)$")[1].split()


def oper(server: RunningServer, nick: str = "root") -> LineClient:
    root = LineClient(server.port).register(nick)
    root.send("OPER root hunter2")
    root.expect(rf" 381 {nick} ")
    return root


def registered(server: RunningServer, nick: str, password: str = "correct horse") -> LineClient:
    """A client with an account named after its nick, logged in to it."""
    client = LineClient(server.port).register(nick)
    client.send(f"REGISTER * * :{password}")
    client.expect(rf"^:tcpchat REGISTER SUCCESS {nick} :Account {nick} registered$")
    client.expect(rf"^:tcpchat 900 {nick} {nick}!\S+ {nick} :You are now logged in as {nick}$")
    return client


def quiet(client: LineClient) -> None:
    """Nothing more was sent to `client` than the answer to a PING now."""
    client.send("PING :sync")
    assert re.search(r" PONG \S+ :?sync$", client.readline()), client.recent()


# ------------------------------------------------------------------ registering


def test_register_logs_in_and_the_account_outlives_a_restart(tmp_path):
    with running_server(data_dir=str(tmp_path), nick_grace=2.0) as server:  # REGISTER comes first
        alice = LineClient(server.port)
        assert "draft/account-registration=before-connect" in caps_offered(alice)
        alice.send("CAP END")
        alice.register("alice")
        alice.send("REGISTER * alice@example.org :correct horse")
        alice.expect(r"^:tcpchat REGISTER SUCCESS alice :Account alice registered$")
        alice.expect(
            r"^:tcpchat 900 alice alice!alice@127\.0\.0\.1 alice :You are now logged in as alice$"
        )
        alice.send("QUIT")
        alice.expect_closed()
    assert (tmp_path / "tcpchat.sqlite3").exists()

    with running_server(data_dir=str(tmp_path), nick_grace=0.5) as server:
        mallory = LineClient(server.port).register("alice")
        mallory.expect(r"^:tcpchat NOTICE alice :The nick alice belongs to an account\.")
        mallory.send("REGISTER * * :another password")
        mallory.expect(r"^:tcpchat FAIL REGISTER ACCOUNT_EXISTS alice :alice is already registered")
        mallory.expect(r"^:alice!alice@127\.0\.0\.1 NICK :?Guest\d{5}$")


@pytest.mark.skipif("AUTHENTICATE" not in COMMANDS, reason="SASL comes with its own branch")
def test_a_registered_account_logs_in_with_sasl_plain_after_a_restart(tmp_path):
    import base64

    with running_server(data_dir=str(tmp_path)) as server:
        registered(server, "alice").close()
    with running_server(data_dir=str(tmp_path)) as server:
        alice = LineClient(server.port)
        alice.send("CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER alice 0 * :A")
        alice.expect(r" CAP \* ACK :sasl")
        alice.send("AUTHENTICATE PLAIN")
        alice.expect(r"^AUTHENTICATE \+$")
        alice.send("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct horse").decode())
        alice.expect(r" 900 alice \S+ alice :")
        alice.expect(r" 903 alice :")


def test_register_before_connecting_then_the_welcome():
    with running_server() as server:
        bob = LineClient(server.port)
        bob.send("CAP LS 302", "REGISTER * * :correct horse")
        bob.expect(r"^:tcpchat FAIL REGISTER NEED_NICK \* :Choose a nick first")
        bob.send("NICK bob", "REGISTER bob bob@example.org :correct horse")
        bob.expect(r"^:tcpchat REGISTER SUCCESS bob :")
        bob.expect(r"^:tcpchat 900 bob bob!\S+@127\.0\.0\.1 bob :You are now logged in as bob$")
        bob.send("USER bob 0 * :Bob", "CAP END")
        bob.expect(r" 001 bob ")
        bob.expect(r" (376|422) bob ")
        quiet(bob)  # no grace notice: bob is logged in to bob


def test_with_a_server_password_register_waits_for_the_connection():
    with running_server(password="sesame") as server:
        carol = LineClient(server.port)
        offered = caps_offered(carol)
        assert "draft/account-registration" in offered  # without before-connect
        carol.send("NICK carol", "REGISTER * * :correct horse", "VERIFY carol 1234")
        carol.expect(r"^:tcpchat FAIL REGISTER COMPLETE_CONNECTION_REQUIRED :Finish connecting")
        carol.expect(r"^:tcpchat FAIL VERIFY COMPLETE_CONNECTION_REQUIRED :Finish connecting")
        carol.send("PASS sesame", "USER carol 0 * :Carol", "CAP END")
        carol.expect(r" 001 carol ")
        carol.send("REGISTER * * :correct horse")
        carol.expect(r"^:tcpchat REGISTER SUCCESS carol ")


def test_bad_registrations_get_the_specs_replies_and_nothing_happens():
    with running_server() as server:
        peer = LineClient(server.port).register("peer")
        peer.send("JOIN #lobby")
        peer.expect(r" 366 peer ")
        rosa = LineClient(server.port).register("rosalinda")
        rosa.send("JOIN #lobby")
        rosa.expect(r" 366 rosalinda ")
        peer.expect(r"^:rosalinda!\S+ JOIN #lobby")
        refusals = [
            ("REGISTER * * :", "WEAK_PASSWORD rosalinda :Choose a password of at least 8"),
            ("REGISTER * * :seven77", "WEAK_PASSWORD rosalinda :Choose a password of at least 8"),
            ("REGISTER * * :ROSALINDA", "WEAK_PASSWORD rosalinda :Your password may not be"),
            ("REGISTER * * :" + "x" * 301, "UNACCEPTABLE_PASSWORD rosalinda :A password may be"),
            ("REGISTER 9lives * :correct horse", "BAD_ACCOUNT_NAME 9lives :An account name must"),
            ("REGISTER bob * :correct horse", "ACCOUNT_NAME_MUST_BE_NICK bob :You can only"),
            ("REGISTER * nobody :correct horse", "INVALID_EMAIL rosalinda :Not an e-mail"),
            (f"REGISTER * {'a' * 250}@example.org :correct horse", "UNACCEPTABLE_EMAIL rosalinda"),
            ("VERIFY rosalinda 12345678", "FAIL VERIFY INVALID_CODE rosalinda :That code is wrong"),
        ]
        for line, reply in refusals:
            rosa.send(line)
            rosa.expect(rf"^:tcpchat (FAIL REGISTER )?{re.escape(reply)}")
        rosa.send("REGISTER * *")
        rosa.expect(r"^:tcpchat 461 rosalinda REGISTER :Not enough parameters$")
        rosa.send("NICK Guest4242", "REGISTER * * :correct horse")
        rosa.expect(r"FAIL REGISTER BAD_ACCOUNT_NAME Guest4242 :Guest nicks are handed out")
        rosa.send("NICK rosalinda")
        rosa.expect(r"^:Guest4242!\S+ NICK :?rosalinda$")
        quiet(rosa)
        peer.expect(r"^:rosalinda!\S+ NICK :?Guest4242$")
        peer.expect(r"^:Guest4242!\S+ NICK :?rosalinda$")
        quiet(peer)  # no one else noticed anything but the nick changes
        rosa.send("REGISTER * * :correct horse")  # the refusals used nothing up
        rosa.expect(r"^:tcpchat REGISTER SUCCESS rosalinda ")
        rosa.send("REGISTER * * :correct horse")
        rosa.expect(r"^:tcpchat FAIL REGISTER ALREADY_AUTHENTICATED rosalinda :")


def test_registration_turned_off_refuses_register_and_operators_still_create_accounts():
    with running_server(registration=False, operators={"root": ROOT_HASH}) as server:
        dave = LineClient(server.port)
        assert not any(cap.startswith("draft/account-registration") for cap in caps_offered(dave))
        dave.send("CAP END")
        dave.register("dave")
        dave.send("REGISTER * * :correct horse")
        dave.expect(
            r"^:tcpchat FAIL REGISTER TEMPORARILY_UNAVAILABLE dave :Registration is turned off"
        )
        dave.send("ACCOUNT CREATE dave :correct horse")
        dave.expect(r" 481 dave :Permission Denied")
        root = oper(server)
        root.send("ACCOUNT CREATE dave :correct horse")
        root.expect(r"^:tcpchat NOTICE root :Account dave created$")
        # dave holds the nick of an account now, without being logged in to it
        dave.expect(r"^:tcpchat NOTICE dave :The nick dave belongs to an account\.")
        root.send("ACCOUNT INFO dave")
        root.expect(
            r"^:tcpchat NOTICE root :Account dave: registered \d{4}-\d\d-\d\d .*, e-mail none$"
        )
        root.expect(r"^:tcpchat NOTICE root :dave is verified$")
        root.expect(r"^:tcpchat NOTICE root :Nobody is logged in to dave now$")
        root.send("ACCOUNT CREATE dave :correct horse", "ACCOUNT CREATE 4x :correct horse")
        root.expect(r"^:tcpchat FAIL ACCOUNT ACCOUNT_EXISTS dave :")
        root.expect(r"^:tcpchat FAIL ACCOUNT BAD_ACCOUNT_NAME 4x :")


def test_approval_an_operator_gives_out_the_code_and_wrong_codes_are_slowed(caplog):
    settings = {"registration_requires_approval": True, "operators": {"root": ROOT_HASH}}
    with running_server(**settings) as server:
        fay = LineClient(server.port).register("fay")
        fay.send("REGISTER * fay@example.org :correct horse")
        fay.expect(r"^:tcpchat REGISTER VERIFICATION_REQUIRED fay :Account fay created; an oper")
        quiet(fay)  # not logged in (no 900), and the nick is nobody's yet (no grace)
        root = oper(server)
        root.send("ACCOUNT PENDING")
        waiting = r"^:tcpchat NOTICE root :fay waits for VERIFY fay (\w+) \(since .*, e-mail "
        code = root.expect(waiting + r"fay@example\.org\)$")[1]
        root.expect(r"NOTICE root :1 waiting; ACCOUNT APPROVE name approves one$")

        with caplog.at_level(logging.WARNING, logger="tcpchat"):
            fay.send("VERIFY fay wrongcode")
            fay.expect(r"^:tcpchat FAIL VERIFY INVALID_CODE fay :That code is wrong")
            fay.send(f"VERIFY fay {code}")  # too soon after a wrong one
            fay.expect(r"^:tcpchat FAIL VERIFY TEMPORARILY_UNAVAILABLE fay :Too many attempts")
        assert "wrong VERIFY code for account 'fay' by fay from 127.0.0.1" in caplog.text

        other = LineClient(server.port).register("fay2")  # the same person, another client
        other.send(f"VERIFY fay {code}")
        other.expect(r"^:tcpchat VERIFY SUCCESS fay :Account fay verified$")
        other.expect(r"^:tcpchat 900 fay2 fay2!\S+ fay :You are now logged in as fay$")
        fay.expect(r"^:tcpchat NOTICE fay :The nick fay belongs to an account\.")
        other.send(f"VERIFY fay {code}")
        other.expect(r"^:tcpchat FAIL VERIFY ALREADY_AUTHENTICATED fay :")
        root.send("ACCOUNT PENDING")
        root.expect(r"^:tcpchat NOTICE root :No account is waiting for VERIFY$")


def test_an_operator_approves_a_waiting_account():
    settings = {"registration_requires_approval": True, "operators": {"root": ROOT_HASH}}
    with running_server(**settings) as server:
        gus = LineClient(server.port).register("gus")
        gus.send("REGISTER * * :correct horse")
        gus.expect(r"REGISTER VERIFICATION_REQUIRED gus ")
        root = oper(server)
        root.send("ACCOUNT APPROVE gus")
        root.expect(r"^:tcpchat NOTICE root :Account gus approved; its owner may log in$")
        gus.expect(r"^:tcpchat NOTICE gus :The nick gus belongs to an account\.")
        root.send("ACCOUNT APPROVE gus", "ACCOUNT APPROVE nobody")
        root.expect(r"^:tcpchat NOTICE root :Account gus is verified already$")
        root.expect(r"^:tcpchat FAIL ACCOUNT NO_SUCH_ACCOUNT nobody :There is no account nobody$")


def test_registrations_are_limited_per_address_and_per_minute(caplog):
    with running_server(registrations_per_address=2, registrations_per_minute=0) as server:
        registered(server, "gina")
        registered(server, "hank")
        ivan = LineClient(server.port).register("ivan")
        with caplog.at_level(logging.INFO, logger="tcpchat"):
            ivan.send("REGISTER * * :correct horse")
            ivan.expect(
                r"^:tcpchat FAIL REGISTER TEMPORARILY_UNAVAILABLE ivan :Too many accounts were "
                r"registered from your address; try again in an hour$"
            )
        assert "REGISTER ivan from 127.0.0.1 refused" in caplog.text
    with running_server(registrations_per_minute=1, registrations_per_address=0) as server:
        registered(server, "gina")
        hank = LineClient(server.port).register("hank")
        hank.send("REGISTER * * :correct horse")
        hank.expect(r"UNAVAILABLE hank :Too many accounts were registered in the last minute")


def _fill_the_disk(connection: sqlite3.Connection) -> None:
    """The database may grow no more, and its accounts' pages are full: as on a full disk."""
    connection.execute("PRAGMA max_page_count = 1")  # no more pages than it has
    for number in range(100_000):
        try:
            connection.execute(
                "INSERT INTO accounts VALUES (?, ?, NULL, x'00', 1, x'00', x'00', 0, NULL, NULL)",
                (f"filler{number}", f"filler{number}"),
            )
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
            return
    raise AssertionError("the database never filled up")


def test_a_database_that_cannot_write_says_temporarily_unavailable_and_logs_it(tmp_path, caplog):
    with running_server(data_dir=str(tmp_path)) as server:
        database = server.server.database
        assert database is not None
        filled = threading.Event()
        server.call(lambda: database.run(_fill_the_disk, lambda _: filled.set()))
        assert filled.wait(TIMEOUT)
        jane = LineClient(server.port).register("jane")
        with caplog.at_level(logging.INFO, logger="tcpchat"):
            jane.send("REGISTER * * :correct horse")
            jane.expect(
                r"^:tcpchat FAIL REGISTER TEMPORARILY_UNAVAILABLE jane :The server could not "
                r"store the account just now; try again later$"
            )
        assert "database or disk is full" in caplog.text
        assert "REGISTER jane from 127.0.0.1: the account could not be stored" in caplog.text
        quiet(jane)  # and everything else goes on
        jane.send("JOIN #lobby")
        jane.expect(r" 366 jane #lobby ")


def test_a_labeled_register_is_answered_once_after_both_of_its_steps():
    """REGISTER finishes later twice (hashing, then storing): its answer is still one
    labeled batch, and the commands after it wait their turn."""
    with running_server() as server:
        alice = LineClient(server.port).register("alice", caps=("labeled-response", "batch"))
        alice.send("@label=r1 REGISTER * * :correct horse", "@label=r2 LOGOUT", "PING :after")
        ref = alice.expect(r"^@label=r1 :tcpchat BATCH \+(\w+) labeled-response$")[1]
        alice.expect(rf"^@batch={ref} :tcpchat REGISTER SUCCESS alice :")
        alice.expect(rf"^@batch={ref} :tcpchat 900 alice ")
        alice.expect(rf"^:tcpchat BATCH -{ref}$")
        ref = alice.expect(r"^@label=r2 :tcpchat BATCH \+(\w+) labeled-response$")[1]
        alice.expect(rf"^@batch={ref} :tcpchat 901 alice ")
        alice.expect(rf"^@batch={ref} :tcpchat NOTICE alice :The nick alice belongs to an ")
        alice.expect(rf"^:tcpchat BATCH -{ref}$")
        assert re.search(r" PONG \S+ :?after$", alice.readline()), alice.recent()
