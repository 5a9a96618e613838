"""draft/multiline over real sockets: a client sends one message of several lines as a batch;
those who negotiated the capability get it as one batch with one msgid, the others (plain-text
people too) line by one; the limits are refused with the spec's FAIL codes, nothing relayed."""

import re

from tcpchat.protocol import parse

from net_harness import LineClient, running_server

MULTILINE = ("batch", "draft/multiline", "message-tags", "echo-message", "labeled-response")


def lines_until(client: LineClient, pattern: str) -> list[str]:
    start = len(client.seen)
    client.expect(pattern)
    return client.seen[start:]


def read_batch(client: LineClient) -> tuple[dict[str, str], list[str], list[str]]:
    """The next draft/multiline batch: its opening tags and parameters, and its lines."""
    opening = parse(client.expect(r" BATCH \+\S+ draft/multiline ").string)
    ref = opening.params[0][1:]
    lines = lines_until(client, rf" BATCH -{re.escape(ref)}$")[:-1]
    assert all(parse(line).tags["batch"] == ref for line in lines)
    return opening.tags, opening.params, lines


def send_batch(client: LineClient, ref: str, target: str, *lines: str, tags: str = "") -> None:
    """BATCH +ref ... lines ... BATCH -ref; a line starting with '+' is concatenated."""
    opening = f"@{tags} " if tags else ""
    out = [f"{opening}BATCH +{ref} draft/multiline {target}"]
    for line in lines:
        if line.startswith("+"):
            out.append(f"@batch={ref};draft/multiline-concat PRIVMSG {target} :{line[1:]}")
        else:
            out.append(f"@batch={ref} PRIVMSG {target} :{line}")
    out.append(f"BATCH -{ref}")
    client.send(*out)


def test_a_multiline_message_is_one_batch_for_those_who_can_and_lines_for_the_rest():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", MULTILINE)
        bob = LineClient(server.port).register("bob", ("batch", "draft/multiline", "message-tags"))
        carol = LineClient(server.port).register("carol", ("message-tags",))
        for client in (alice, bob, carol):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        person = LineClient(server.port)
        person.expect_text("nickname? ")
        person.send("dave")
        person.expect(r"Welcome, dave!")
        person.send("/join #room")
        person.expect(r"You joined #room")
        alice.expect(r"dave\S* JOIN")

        send_batch(alice, "x1", "#room", "hello", "", "how is ", "+everyone?",
                   tags="label=L1;+draft/reply=abc")  # fmt: skip

        tags, params, lines = read_batch(bob)
        assert params[1:] == ["draft/multiline", "#room"]
        msgid = tags["msgid"]
        assert tags["+draft/reply"] == "abc" and "label" not in tags
        texts = [(parse(line).params, "draft/multiline-concat" in line) for line in lines]
        assert texts == [
            (["#room", "hello"], False),
            (["#room", ""], False),
            (["#room", "how is "], False),
            (["#room", "everyone?"], True),
        ]
        assert all("msgid" not in parse(line).tags for line in lines)

        # The sender's echo is the same batch, labeled on its opening line.
        echo_tags, _, echo_lines = read_batch(alice)
        assert echo_tags["label"] == "L1" and echo_tags["msgid"] == msgid
        assert len(echo_lines) == 4

        # Without the capability: the lines one by one, no blank one, the msgid on the first.
        got = [parse(carol.expect(r" PRIVMSG #room ").string) for _ in range(3)]
        assert [m.params[1] for m in got] == ["hello", "how is ", "everyone?"]
        assert got[0].tags["msgid"] == msgid and got[0].tags["+draft/reply"] == "abc"
        assert all("msgid" not in m.tags for m in got[1:])
        person.expect(r"^alice says: hello$")
        person.expect(r"^alice says: how is $")
        person.expect(r"^alice says: everyone\?$")

        # Nothing else came: the next message is the next thing each of them reads.
        alice.send("PRIVMSG #room :next")
        for client in (bob, carol):
            assert client.readline().endswith("PRIVMSG #room :next")
        person.expect(r"^alice says: next$")


def test_a_multiline_private_message_and_its_echo():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", MULTILINE)
        bob = LineClient(server.port).register("bob")
        send_batch(alice, "p1", "bob", "one", "two")
        assert bob.readline().endswith("PRIVMSG bob :one")
        assert bob.readline().endswith("PRIVMSG bob :two")
        _, params, lines = read_batch(alice)
        assert params[2] == "bob" and len(lines) == 2
        send_batch(alice, "p2", "nobody", "one", "two", tags="label=L2")
        assert re.match(r"^@label=L2 :\S+ 401 alice nobody ", alice.readline())


def test_multiline_limits_and_mistakes_are_refused_with_fail_and_nothing_is_relayed():
    with running_server(multiline_max_lines=3, multiline_max_bytes=20) as server:
        alice = LineClient(server.port).register("alice", MULTILINE)
        bob = LineClient(server.port).register("bob", ("batch", "draft/multiline"))
        for client in (alice, bob):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        alice.expect(r"bob\S* JOIN")

        send_batch(alice, "a", "#room", "1", "2", "3", "4", tags="label=too-many")
        assert re.match(
            r"^@label=too-many :\S+ FAIL BATCH MULTILINE_MAX_LINES 3 :", alice.readline()
        )
        send_batch(alice, "b", "#room", "0123456789", "0123456789")  # 21 bytes with the LF
        alice.expect(r"^:\S+ FAIL BATCH MULTILINE_MAX_BYTES 20 :")
        alice.send("BATCH +c draft/multiline #room", "@batch=c PRIVMSG #other :x", "BATCH -c")
        alice.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID_TARGET #room #other :")
        send_batch(alice, "d", "#room", "", "")
        alice.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID :")
        send_batch(alice, "e", "#room", "a", "+")
        alice.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID :")
        alice.send("BATCH +f draft/multiline #room", "@batch=f PRIVMSG #room :x",
                   "@batch=f NOTICE #room :y", "BATCH -f")  # fmt: skip
        alice.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID :")

        alice.send("PRIVMSG #room :after")
        assert bob.readline().endswith("PRIVMSG #room :after")  # none of the above came


def test_only_clients_with_the_capability_may_open_a_multiline_batch():
    with running_server() as server:
        carol = LineClient(server.port).register("carol", ("batch",))
        carol.send("BATCH +z draft/multiline carol")
        carol.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID :")
