"""labeled-response and batch over real sockets: a labeled command's replies carry its label
on their one line, in a `labeled-response` batch when there are several, or on an ACK when
there are none; commands that finish later (OPER) keep both the label and the order."""

import re

from tcpchat.passwords import hash_password
from tcpchat.protocol import parse

from net_harness import LineClient, running_server

CAPS = ("batch", "labeled-response", "echo-message", "message-tags")
ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def lines_until(client: LineClient, pattern: str) -> list[str]:
    start = len(client.seen)
    client.expect(pattern)
    return client.seen[start:]


def labeled_batch(client: LineClient, label: str) -> tuple[str, list[str]]:
    """Read a labeled-response batch for `label`: its reference and the lines inside."""
    opening = parse(client.expect(rf"^@label={label} \S+ BATCH \+").string)
    assert opening.params[1] == "labeled-response"
    ref = opening.params[0][1:]
    assert re.fullmatch(r"[A-Za-z0-9-]+", ref)
    inner = lines_until(client, rf"^:\S+ BATCH -{ref}$")[:-1]
    for line in inner:
        assert parse(line).tags.get("batch") == ref, line
        assert "label=" not in line
    return ref, inner


def test_one_reply_carries_the_label_and_several_come_in_a_batch():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", CAPS)
        alice.send("@label=p1 PING :one")
        assert re.match(r"^@label=p1 :\S+ PONG \S+ :one$", alice.expect(r" PONG ").string)

        alice.send("@label=j1 JOIN #room")
        ref, inner = labeled_batch(alice, "j1")
        assert [parse(line).command for line in inner] == ["JOIN", "353", "366"]

        alice.send("@label=w1 WHOIS alice")
        ref2, inner = labeled_batch(alice, "w1")
        assert ref2 != ref  # every batch has a reference of its own
        assert parse(inner[0]).command == "311" and parse(inner[-1]).command == "318"

        alice.send("@label=e1 PRIVMSG nobody :hello?")
        assert alice.expect(r" 401 ").string.startswith("@label=e1 ")
        alice.send("@label=u1 FROBNICATE")
        assert alice.expect(r" 421 ").string.startswith("@label=u1 ")


def test_a_command_with_no_reply_gets_a_labeled_ack_and_labels_need_the_capability():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", CAPS)
        alice.send("@label=a1 PONG :nothing", "@label=a2 NOTICE nobody :quiet", "PING :after")
        assert re.match(r"^@label=a1 :\S+ ACK$", alice.readline())
        assert re.match(r"^@label=a2 :\S+ ACK$", alice.readline())
        assert alice.readline().endswith("PONG tcpchat :after")

        # A client that did not negotiate labeled-response: its labels mean nothing.
        plain = LineClient(server.port).register("plain", ("batch", "message-tags"))
        plain.send("@label=x1 PONG :nothing", "@label=x2 PING :after")
        (line,) = lines_until(plain, r" PONG ")  # no ACK before it
        assert line.startswith(":") and "label" not in line


def test_the_echo_of_ones_own_message_carries_the_label_others_see_none():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", CAPS)
        bob = LineClient(server.port).register("bob", CAPS)
        for client in (alice, bob):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        alice.expect(r"bob\S* JOIN")
        alice.send("@label=m1;+draft/reply=x PRIVMSG #room :hi all")
        echo = parse(alice.expect(r" PRIVMSG #room ").string)
        assert echo.tags["label"] == "m1" and echo.tags["+draft/reply"] == "x"
        delivered = parse(bob.expect(r" PRIVMSG #room ").string)
        assert "label" not in delivered.tags
        assert delivered.tags["msgid"] == echo.tags["msgid"]


def test_oper_finishing_later_brings_its_label_and_keeps_the_order():
    """OPER's check runs on a worker thread: its label comes with 381 (or 464), and the
    labeled PING after it is answered after it."""
    with running_server(operators={"root": ROOT_HASH}) as server:
        admin = LineClient(server.port).register("admin", CAPS)
        admin.send("@label=o1 OPER root hunter2", "@label=p1 PING :next")
        ref, inner = labeled_batch(admin, "o1")
        assert [parse(line).command for line in inner] == ["381", "MODE"]
        assert re.match(r"^@label=p1 :\S+ PONG \S+ :next$", admin.readline())

        guesser = LineClient(server.port).register("guesser", CAPS)
        guesser.send("@label=o2 OPER root wrong", "@label=p2 PING :next")
        assert re.match(r"^@label=o2 :\S+ 464 guesser ", guesser.readline())
        assert re.match(r"^@label=p2 :\S+ PONG ", guesser.readline())


def test_a_labeled_quit_has_its_error_labeled():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", CAPS)
        alice.send("@label=q1 QUIT :bye")
        assert any(
            line.startswith("@label=q1 ") and "ERROR :Closing Link" in line
            for line in alice.expect_closed()
        )


def test_a_message_to_oneself_is_delivered_unlabeled_and_acknowledged():
    """labeled-response: the label never goes on a message one sent oneself, except as the
    echo-message echo."""
    with running_server() as server:
        alice = LineClient(server.port).register("alice", ("batch", "labeled-response"))
        alice.send("@label=s1 PRIVMSG alice :note to self")
        assert alice.readline().startswith(":alice!alice@127.0.0.1 PRIVMSG alice :note")
        assert re.match(r"^@label=s1 :\S+ ACK$", alice.readline())
        bob = LineClient(server.port).register("bob", CAPS)  # with echo-message
        bob.send("@label=s2 PRIVMSG bob :note to self")
        assert re.match(r"^@label=s2;msgid=\S+ :bob!\S+ PRIVMSG bob :note", bob.readline())
