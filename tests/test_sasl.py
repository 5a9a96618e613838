"""Logging in with SASL over real sockets (IRCv3 sasl-3.1 and sasl-3.2): PLAIN and
SCRAM-SHA-256 against accounts in a real SQLite file, wrong passwords, bad input, and the
`irc` library from PyPI logging in."""

from __future__ import annotations

import base64
import logging
import time

import irc.client
import pytest
from scramp import ScramClient

from net_harness import LineClient, running_server
from sasl_harness import (
    add_account,
    b64,
    negotiating,
    plain_login,
    plain_message,
    scram_login,
)


def pump_until(reactor: irc.client.Reactor, condition, timeout: float = 10.0) -> None:
    """Run the library's event loop until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the irc library"
        reactor.process_once(0.05)


@pytest.fixture
def data_dir(tmp_path):
    add_account(tmp_path, "Alice", "correct horse")
    add_account(tmp_path, "mallory", "pw", suspended="spamming #lobby")
    add_account(tmp_path, "newbie", "pw", verify_code="12345")
    return tmp_path


def test_cap_ls_302_names_the_mechanisms_and_older_clients_get_sasl_alone():
    with running_server() as server:
        modern = LineClient(server.port)
        modern.send("CAP LS 302")
        offered = modern.expect(r"CAP \* LS :(.*)$").group(1).split()
        assert "sasl=PLAIN,SCRAM-SHA-256,EXTERNAL" in offered
        assert {"account-tag", "account-notify", "extended-join"} <= set(offered)
        old = LineClient(server.port)
        old.send("CAP LS")
        assert "sasl" in old.expect(r"CAP \* LS :(.*)$").group(1).split()


def test_plain_logs_in_and_registration_waits_for_the_answer(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        alice = negotiating(server.port, "alice")
        plain_login(alice, "alice", "correct horse")
        alice.send("CAP END")  # at once, as clients do: registration waits for the check
        assert alice.expect(r" 900 ").string.endswith(
            " 900 alice alice!alice@127.0.0.1 Alice :You are now logged in as Alice"
        )
        alice.expect(r" 903 alice :SASL authentication successful$")
        alice.expect(r" 001 alice ")
        alice.expect(r" (376|422) ")
        alice.send("WHOIS alice")
        alice.expect(r" 330 alice alice Alice :is logged in as$")


def test_scram_sha_256_logs_in_with_a_real_scram_client(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        alice = negotiating(server.port, "alice")
        scram_login(alice, "alice", "correct horse")
        alice.send("AUTHENTICATE +", "CAP END")
        alice.expect(r" 900 alice \S+ Alice ")
        alice.expect(r" 903 ")
        alice.expect(r" 001 ")


def test_wrong_passwords_fail_alike_are_logged_and_make_the_client_pause(data_dir, caplog):
    caplog.set_level(logging.INFO, logger="tcpchat")
    with running_server(data_dir=str(data_dir)) as server:
        alice = negotiating(server.port, "alice")
        plain_login(alice, "alice", "battery staple")
        wrong = alice.expect(r" 904 ").string
        assert wrong.endswith(":SASL authentication failed: wrong account name or password")
        plain_login(alice, "alice", "correct horse")  # right, but too soon after a failure
        alice.expect(r" 904 alice :SASL authentication failed: too many attempts; wait ")

        stranger = negotiating(server.port, "eve")
        plain_login(stranger, "nobody", "anything")
        unknown = stranger.expect(r" 904 ").string
        assert unknown.split(" 904 eve ")[1] == wrong.split(" 904 alice ")[1]
        other = negotiating(server.port, "trudy")
        scram = ScramClient(["SCRAM-SHA-256"], "alice", "not it")
        other.send("AUTHENTICATE SCRAM-SHA-256")
        other.expect(r"^AUTHENTICATE \+$")
        other.send(f"AUTHENTICATE {b64(scram.get_client_first().encode())}")
        challenge = other.expect(r"^AUTHENTICATE (\S+)$").group(1)
        scram.set_server_first(base64.b64decode(challenge).decode())
        other.send(f"AUTHENTICATE {b64(scram.get_client_final().encode())}")
        other.expect(r" 904 trudy :SASL authentication failed: wrong account name or password$")
        for client in (alice, stranger, other):
            client.send("CAP END")
            client.expect(r" 001 ")
        alice.send("WHOIS alice")
        alice.expect(r" 318 ")
        assert not any(" 330 " in line for line in alice.seen)
    logged = caplog.text
    assert "failed SASL PLAIN login as 'alice' by alice from 127.0.0.1" in logged
    assert "failed SASL PLAIN login as 'nobody' by eve from 127.0.0.1" in logged
    assert "failed SASL SCRAM-SHA-256 login as 'alice' by trudy from 127.0.0.1" in logged


def test_suspended_and_unverified_accounts_cannot_log_in_and_are_told_why(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        mallory = negotiating(server.port, "mallory")
        plain_login(mallory, "mallory", "pw")
        mallory.expect(
            r" 904 mallory :SASL authentication failed: account mallory is suspended: "
            r"spamming #lobby$"
        )
        newbie = negotiating(server.port, "newbie")
        scram_login(newbie, "newbie", "pw")
        newbie.send("AUTHENTICATE +")
        newbie.expect(r" 904 newbie :SASL authentication failed: account newbie is not verified")
        for client in (mallory, newbie):
            client.send("CAP END")
            client.expect(r" 001 ")
            assert not any(" 900 " in line for line in client.seen)


def test_logging_in_after_registration_is_allowed_once_then_907(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        alice = LineClient(server.port).register("alice", caps=("sasl",))
        plain_login(alice, "Alice", "correct horse")
        alice.expect(r" 900 alice ")
        alice.expect(r" 903 ")
        alice.send("AUTHENTICATE PLAIN")
        alice.expect(r" 907 alice :You have already authenticated using SASL$")
        alice.send("AUTHENTICATE SCRAM-SHA-256")
        alice.expect(r" 907 ")


def test_bad_input_gets_the_specs_replies_and_no_one_else_notices(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        bystander = LineClient(server.port).register(
            "bob", caps=("account-notify", "account-tag", "extended-join", "message-tags")
        )
        bystander.send("JOIN #lobby")
        bystander.expect(r" 366 ")
        eve = LineClient(server.port)
        eve.send("AUTHENTICATE PLAIN")  # before CAP: the sasl capability was never asked for
        eve.expect(r" 904 \* :SASL authentication failed: ask for the sasl capability first")
        eve.send("CAP LS 302", "NICK eve", "USER eve 0 * :Eve", "CAP REQ :sasl")
        eve.expect(r"ACK :sasl")
        eve.send("AUTHENTICATE DIGEST-MD5")
        eve.expect(r" 908 eve PLAIN,SCRAM-SHA-256,EXTERNAL :are available SASL mechanisms$")
        eve.expect(r" 904 eve :SASL authentication failed")
        eve.send("AUTHENTICATE PLAIN")
        eve.expect(r"^AUTHENTICATE \+$")
        eve.send("AUTHENTICATE not!base64")
        eve.expect(r" 904 eve :SASL authentication failed: malformed base64$")
        eve.send("AUTHENTICATE PLAIN")
        eve.expect(r"^AUTHENTICATE \+$")
        eve.send("AUTHENTICATE " + "A" * 401)  # a line over 400 bytes
        eve.expect(r" 905 eve :SASL message too long$")
        eve.send("AUTHENTICATE PLAIN")
        eve.expect(r"^AUTHENTICATE \+$")
        eve.send(*["AUTHENTICATE " + "A" * 400] * 11)  # a message that never ends (4,400 bytes)
        eve.expect(r" 905 eve :SASL message too long$")
        eve.send("AUTHENTICATE PLAIN")
        eve.expect(r"^AUTHENTICATE \+$")
        eve.send(f"AUTHENTICATE {b64(b'no nul bytes at all')}")
        eve.expect(r" 904 eve :SASL authentication failed: malformed PLAIN message$")
        eve.send("AUTHENTICATE PLAIN")
        eve.expect(r"^AUTHENTICATE \+$")
        eve.send(f"AUTHENTICATE {plain_message('alice', 'correct horse', authzid='mallory')}")
        eve.expect(r" 904 eve :SASL authentication failed: you may only log in as yourself")
        eve.send("AUTHENTICATE *")
        eve.expect(r" 906 eve :SASL authentication aborted$")
        eve.send("AUTHENTICATE EXTERNAL")  # over plain TCP: no certificate
        eve.expect(r" 904 eve :SASL authentication failed: you did not connect with a TLS client")

        eve.send("CAP END")
        eve.expect(r" 001 eve ")
        tries = [eve]
        for tamper, reason in [
            (lambda final: final.replace("r=", "r=x", 1), "nonce does not match"),
            (lambda final: final.replace("c=biws", "c=" + b64(b"y,,")), "channel binding does not"),
            (lambda final: final[:-4] + ("AAA=" if final[-4:] != "AAA=" else "BBB="),
             "wrong account name or password"),
        ]:  # fmt: skip
            scram = ScramClient(["SCRAM-SHA-256"], "alice", "correct horse")
            trudy = negotiating(server.port, f"trudy{len(tries)}")  # (a failure makes one pause)
            trudy.send("AUTHENTICATE SCRAM-SHA-256")
            trudy.expect(r"^AUTHENTICATE \+$")
            trudy.send(f"AUTHENTICATE {b64(scram.get_client_first().encode())}")
            challenge = trudy.expect(r"^AUTHENTICATE (\S+)$").group(1)
            scram.set_server_first(base64.b64decode(challenge).decode())
            trudy.send(f"AUTHENTICATE {b64(tamper(scram.get_client_final()).encode())}")
            trudy.expect(rf" 904 trudy\d :SASL authentication failed: {reason}")
            trudy.send("CAP END")
            trudy.expect(r" 001 ")
            tries.append(trudy)
        for each in tries:
            each.send(f"WHOIS {each.seen[-1].split()[2]}")
            each.expect(r" 318 ")
            assert not any(" 330 " in line or " 900 " in line for line in each.seen)

        bystander.send("PING :only-this")
        assert bystander.readline().endswith(":only-this")  # nothing came before the PONG


def test_cap_end_in_the_middle_of_an_exchange_aborts_it_and_registers(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        alice = negotiating(server.port, "alice")
        alice.send("AUTHENTICATE PLAIN")
        alice.expect(r"^AUTHENTICATE \+$")
        alice.send("CAP END")
        alice.expect(r" 906 alice :SASL authentication aborted$")
        alice.expect(r" 001 alice ")


def test_the_irc_library_from_pypi_logs_in_with_sasl(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        reactor = irc.client.Reactor()
        events: list[irc.client.Event] = []
        reactor.add_global_handler("all_events", lambda conn, event: events.append(event), -10)
        connection = reactor.server().connect(
            "127.0.0.1", server.port, "alice", password="correct horse", sasl_login="Alice"
        )
        pump_until(reactor, lambda: any(e.type == "welcome" for e in events))
        assert [e.type for e in events if e.type in ("saslsuccess", "login_failed")] == [
            "saslsuccess"
        ]
        ours = LineClient(server.port).register("ours")
        ours.send("WHOIS alice")
        ours.expect(r" 330 ours alice Alice :is logged in as$")
        connection.disconnect()

        events.clear()
        reactor.server().connect(
            "127.0.0.1", server.port, "mallory", password="nope", sasl_login="alice"
        )
        pump_until(reactor, lambda: any(e.type == "welcome" for e in events))
        [failed] = [e for e in events if e.type == "login_failed"]
        said = f"{failed.target} {failed.arguments}"  # (the library shifts them)
        assert "SASL authentication failed: wrong account name or password" in said
