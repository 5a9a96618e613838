"""IRCv3 capability negotiation over real sockets: CAP LS 302 values and continuation lines,
cap-notify (NEW and DEL), all-or-nothing REQ, standard replies, the client tag limit and
UTF8ONLY."""

import re

from tcpchat.core.reconfigure import cap_del, cap_new
from tcpchat.protocol import parse

from net_harness import LineClient, running_server


def lines_until(client: LineClient, pattern: str) -> list[str]:
    """The lines read until one matches `pattern`, that one included."""
    start = len(client.seen)
    client.expect(pattern)
    return client.seen[start:]


def ls_reply(client: LineClient, request: str) -> list[str]:
    """Send a CAP LS request; the reply's lines (302 continuations included)."""
    client.send(request)
    lines = []
    while True:
        line = client.expect(r" CAP \S+ LS ").string
        lines.append(line)
        if not re.search(r" LS \* :", line):
            return lines


def offered(lines: list[str]) -> dict[str, str | None]:
    caps: dict[str, str | None] = {}
    for line in lines:
        for token in parse(line).params[-1].split():
            name, eq, value = token.partition("=")
            caps[name] = value if eq else None
    return caps


def test_cap_ls_302_gives_values_and_plain_ls_does_not():
    with running_server(multiline_max_bytes=2000, multiline_max_lines=20) as server:
        client = LineClient(server.port)
        caps = offered(ls_reply(client, "CAP LS 302"))
        assert caps["draft/multiline"] == "max-bytes=2000,max-lines=20"
        for name in ("batch", "labeled-response", "standard-replies", "cap-notify",
                     "message-tags", "server-time", "echo-message"):  # fmt: skip
            assert name in caps, name
        # A later LS without a version is answered as such: names only.
        plain = ls_reply(client, "CAP LS")
        assert all("=" not in token for token in parse(plain[0]).params[-1].split())
        assert "draft/multiline" in offered(plain)


def test_a_long_cap_ls_is_split_for_302_clients_and_every_line_fits():
    """A long server name leaves little room on a line: the list continues with `LS *`."""
    name = "irc." + "x" * 380 + ".example"
    with running_server(server_name=name) as server:
        client = LineClient(server.port)
        lines = ls_reply(client, "CAP LS 302")
        assert len(lines) >= 2
        assert all(len(line.encode()) + 2 <= 512 for line in lines)
        assert all(" LS * :" in line for line in lines[:-1])
        assert " LS * " not in lines[-1]
        assert "draft/multiline" in offered(lines) and "userhost-in-names" in offered(lines)
        # CAP LIST splits the same way for a 302 client.
        client.send("CAP REQ :" + " ".join(offered(lines)))
        client.expect(r" CAP \* ACK ")
        client.send("CAP LIST")
        listed = lines_until(client, r" CAP \* LIST :")
        assert len(listed) >= 2 and all(len(line.encode()) + 2 <= 512 for line in listed)
        assert all(" LIST * :" in line for line in listed[:-1])


def test_cap_notify_comes_with_302_and_new_and_del_reach_those_who_listen():
    with running_server() as server:
        modern = LineClient(server.port)
        ls_reply(modern, "CAP LS 302")
        modern.send("NICK modern", "USER m 0 * :M", "CAP END")
        modern.expect(r" 001 ")
        modern.send("CAP LIST")
        assert "cap-notify" in modern.expect(r" CAP modern LIST ").string.split(":")[-1].split()
        modern.send("CAP REQ :-cap-notify")  # a 302 client may not give it up
        modern.expect(r" CAP modern NAK :-cap-notify$")

        old = LineClient(server.port)
        ls_reply(old, "CAP LS")
        old.send("CAP REQ :cap-notify", "CAP REQ :-cap-notify")
        old.expect(r" CAP \* ACK :cap-notify$")
        old.expect(r" CAP \* ACK :-cap-notify$")
        old.send("NICK old", "USER o 0 * :O", "CAP END")
        old.expect(r" 001 ")

        core = server.server.core
        server.call(cap_new, core, "example.org/extra", "v=1")
        modern.expect(r"^:\S+ CAP modern NEW :example\.org/extra=v=1$")
        modern.send("CAP REQ :example.org/extra")
        modern.expect(r" CAP modern ACK :example\.org/extra$")
        server.call(cap_del, core, "example.org/extra")
        modern.expect(r"^:\S+ CAP modern DEL :example\.org/extra$")
        modern.send("CAP LIST")
        assert "example.org/extra" not in modern.expect(r" CAP modern LIST ").string
        modern.send("CAP REQ :example.org/extra")
        modern.expect(r" CAP modern NAK :example\.org/extra$")
        # The client that gave cap-notify up heard of none of it.
        old.send("PING :done")
        assert not any(" NEW " in line or " DEL " in line for line in lines_until(old, "PONG"))


def test_cap_req_is_all_or_nothing():
    with running_server() as server:
        client = LineClient(server.port)
        client.send("CAP REQ :batch labeled-response no-such-cap")
        client.expect(r" CAP \* NAK :batch labeled-response no-such-cap$")
        client.send("CAP LIST")
        client.expect(r" CAP \* LIST :$")
        client.send("CAP REQ :batch labeled-response")
        client.expect(r" CAP \* ACK :batch labeled-response$")


def test_standard_replies_are_offered_and_sent():
    with running_server() as server:
        client = LineClient(server.port)
        assert "standard-replies" in offered(ls_reply(client, "CAP LS 302"))
        client.send("CAP END")
        client.register("alice")
        client.send("BATCH -never-opened")
        client.expect(r"^:\S+ FAIL BATCH MULTILINE_INVALID :")


def tagged(size: int, line: str) -> str:
    """`line` with one client-only tag, making `size` bytes of tag data."""
    return "@+example.org/big=" + "x" * (size - len("+example.org/big=")) + " " + line


def test_client_tags_over_4094_bytes_are_refused_with_417_and_not_relayed():
    with running_server() as server:
        alice = LineClient(server.port).register("alice", ("message-tags",))
        bob = LineClient(server.port).register("bob", ("message-tags",))
        for client in (alice, bob):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        alice.expect(r"bob\S* JOIN")
        alice.send(tagged(4095, "PRIVMSG #room :too big"), tagged(4100, "TAGMSG #room"))
        alice.expect(r" 417 alice :Input line was too long")
        alice.expect(r" 417 alice :Input line was too long")
        alice.send(tagged(4094, "PRIVMSG #room :just fits"))
        line = bob.expect(r"PRIVMSG #room :").string
        assert line.endswith(":just fits")  # the refused ones never came first
        assert len(parse(line).tags["+example.org/big"]) == 4094 - len("+example.org/big=")


def test_utf8_only_refuses_invalid_utf8_with_fail_and_relays_nothing():
    with running_server(utf8_only=True) as server:
        alice = LineClient(server.port)
        alice.send("NICK alice", "USER alice 0 * :A")
        isupport = " ".join(lines_until(alice, r" (376|422) "))
        assert " UTF8ONLY " in isupport
        bob = LineClient(server.port).register("bob")
        for client in (alice, bob):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        alice.send(b"PRIVMSG #room :caf\xe9")
        alice.expect(r"^:\S+ FAIL PRIVMSG INVALID_UTF8 :")
        alice.send(b"\xff\xfe")  # no command to name
        alice.expect(r"^:\S+ FAIL \* INVALID_UTF8 :")
        alice.send("PRIVMSG #room :café")
        assert bob.expect(r" PRIVMSG #room :").string.endswith(":café")


def test_by_default_invalid_utf8_is_read_as_latin1_and_utf8only_is_not_advertised():
    with running_server() as server:
        alice = LineClient(server.port)
        alice.send("NICK alice", "USER alice 0 * :A")
        assert "UTF8ONLY" not in " ".join(lines_until(alice, r" (376|422) "))
        bob = LineClient(server.port).register("bob")
        bob.send("JOIN #room")
        bob.expect(r" 366 ")
        alice.send("JOIN #room")
        alice.expect(r" 366 ")
        alice.send(b"PRIVMSG #room :caf\xe9")
        assert bob.expect(r" PRIVMSG #room :").string.endswith(":café")
