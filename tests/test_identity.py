"""Who someone is, as it changes, over real sockets: SETNAME, CHGHOST, bot mode and
invite-notify, each as its IRCv3 specification says a client sees it."""

from __future__ import annotations

import re

from tcpchat.passwords import hash_password
from test_monitor import isupport, synced

from net_harness import LineClient, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def in_room(client: LineClient, nick: str, room: str = "#lobby") -> LineClient:
    client.send(f"JOIN {room}")
    client.expect(rf" 366 {nick} {re.escape(room)} ")
    return client


def whois_user(client: LineClient, nick: str) -> str:
    client.send(f"WHOIS {nick}")
    line = client.expect(r" 311 ").string
    client.expect(r" 318 ")
    return line


# -------------------------------------------------------------------- setname


def test_setname_reaches_those_with_the_capability_and_changes_the_real_name() -> None:
    with running_server() as server:
        bob = in_room(LineClient(server.port).register("bob", ("setname",)), "bob")
        alice = in_room(LineClient(server.port).register("alice", ("setname",)), "alice")
        carol = in_room(LineClient(server.port).register("carol"), "carol")
        assert "NAMELEN=150" in isupport(bob)

        bob.send("SETNAME :Robert Tables")
        bob.expect(r"^:bob!bob@127\.0\.0\.1 SETNAME :Robert Tables$")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 SETNAME :Robert Tables$")
        assert [line for line in synced(carol) if "SETNAME" in line] == []
        assert whois_user(carol, "bob").endswith(" * :Robert Tables")

        carol.send("SETNAME :Carol C")  # without the capability: done, silently
        assert [line for line in synced(carol) if "SETNAME" in line] == []
        alice.expect(r"^:carol!carol@127\.0\.0\.1 SETNAME :Carol C$")
        assert whois_user(alice, "carol").endswith(" * :Carol C")
        for client in (alice, bob, carol):
            client.close()


def test_setname_refuses_a_real_name_too_long_or_empty_and_user_cuts_it() -> None:
    with running_server(realname_length=10) as server:
        bob = LineClient(server.port).register("bob", ("setname",))
        assert "NAMELEN=10" in isupport(bob)
        bob.send("SETNAME :Robert Tables the Third")
        bob.expect(r"^:tcpchat FAIL SETNAME INVALID_REALNAME :Realname is not valid$")
        bob.send("SETNAME :")
        bob.expect(r"^:tcpchat FAIL SETNAME INVALID_REALNAME :Realname is not valid$")
        bob.send("SETNAME")
        bob.expect(r" 461 bob SETNAME :Not enough parameters$")
        assert whois_user(bob, "bob").endswith(" * :bob")

        carol = LineClient(server.port)
        carol.send("NICK carol", "USER carol 0 * :Caroline of the Long Name")
        carol.expect(r" 001 ")
        assert whois_user(carol, "carol").endswith(" * :Caroline o")
        carol.close()
        bob.close()


# -------------------------------------------------------------------- chghost


def test_chghost_tells_chghost_clients_and_simulates_a_reconnect_for_the_others() -> None:
    with running_server(operators={"root": ROOT_HASH}) as server:
        bob = in_room(LineClient(server.port).register("bob", ("chghost",)), "bob")  # its op
        alice = in_room(LineClient(server.port).register("alice", ("chghost",)), "alice")
        carol = in_room(LineClient(server.port).register("carol"), "carol")
        in_room(bob, "bob", "#dev")
        in_room(carol, "carol", "#dev")
        bob.send("MODE #dev +v bob")  # an op's voice too: MODE restores both
        carol.expect(r" MODE #dev \+v bob$")
        root = LineClient(server.port).register("root")
        root.send("OPER root hunter2")
        root.expect(r" 381 ")

        root.send("CHGHOST bob robert tables.example")
        root.expect(r"^:tcpchat NOTICE root :bob is now bob!robert@tables\.example$")
        bob.expect(r"^:bob!bob@127\.0\.0\.1 CHGHOST robert tables\.example$")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 CHGHOST robert tables\.example$")
        shown = [line for line in synced(carol) if "bob" in line]
        assert shown == [
            ":bob!bob@127.0.0.1 QUIT :Changing hostname",
            ":bob!robert@tables.example JOIN #lobby",
            ":tcpchat MODE #lobby +o bob",
            ":bob!robert@tables.example JOIN #dev",
            ":tcpchat MODE #dev +ov bob bob",
        ] or shown == [  # the rooms in either order
            ":bob!bob@127.0.0.1 QUIT :Changing hostname",
            ":bob!robert@tables.example JOIN #dev",
            ":tcpchat MODE #dev +ov bob bob",
            ":bob!robert@tables.example JOIN #lobby",
            ":tcpchat MODE #lobby +o bob",
        ]
        assert [line for line in synced(alice) if "bob" in line] == []  # one CHGHOST only
        assert " bob robert tables.example * " in whois_user(alice, "bob")
        bob.send("PRIVMSG #lobby :new address")
        alice.expect(r"^:bob!robert@tables\.example PRIVMSG #lobby :new address$")

        root.send("CHGHOST bob host.only")  # InspIRCd's and UnrealIRCd's form: the host alone
        alice.expect(r"^:bob!robert@tables\.example CHGHOST robert host\.only$")
        for client in (alice, bob, carol, root):
            client.close()


def test_chghost_is_for_operators_and_checks_what_it_is_given() -> None:
    with running_server(operators={"root": ROOT_HASH}) as server:
        bob = LineClient(server.port).register("bob")
        bob.send("CHGHOST bob evil evil.example")
        bob.expect(r" 481 bob :Permission Denied")
        bob.send("OPER root hunter2")
        bob.expect(r" 381 ")
        bob.send("CHGHOST nobody u h.example")
        bob.expect(r" 401 bob nobody :No such nick")
        bob.send("CHGHOST bob u bad!host")
        bob.expect(r"^:tcpchat FAIL CHGHOST INVALID_HOST bad!host :")
        bob.send("CHGHOST bob b@d h.example")
        bob.expect(r"^:tcpchat FAIL CHGHOST INVALID_USERNAME b@d :")
        bob.send(f"CHGHOST bob u {'h' * 65}")
        bob.expect(r"^:tcpchat FAIL CHGHOST INVALID_HOST h+ :")
        bob.send("CHGHOST bob")
        bob.expect(r" 461 bob CHGHOST :Not enough parameters")
        assert " bob bob 127.0.0.1 * " in whois_user(bob, "bob")
        bob.close()


# ----------------------------------------------------------------- invite-notify


def test_invite_notify_tells_members_and_only_operators_of_an_invite_only_room() -> None:
    with running_server() as server:
        alice = in_room(LineClient(server.port).register("alice", ("invite-notify",)), "alice")
        bob = in_room(LineClient(server.port).register("bob", ("invite-notify",)), "bob")
        carol = in_room(LineClient(server.port).register("carol"), "carol")
        eve = LineClient(server.port).register("eve", ("invite-notify",))

        bob.send("INVITE eve #lobby")
        bob.expect(r" 341 bob eve :?#lobby$")
        eve.expect(r"^:bob!bob@127\.0\.0\.1 INVITE eve #lobby$")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 INVITE eve #lobby$")
        assert [line for line in synced(bob) if " INVITE " in line] == []  # 341 says it
        assert [line for line in synced(carol) if " INVITE " in line] == []

        alice.send("MODE #lobby +i", "MODE #lobby +o carol")
        bob.expect(r" MODE #lobby \+o carol$")
        carol.send("CAP REQ invite-notify")
        carol.expect(r" CAP carol ACK :?invite-notify$")
        alice.send("INVITE eve #lobby")
        alice.expect(r" 341 alice eve :?#lobby$")
        carol.expect(r"^:alice!alice@127\.0\.0\.1 INVITE eve #lobby$")
        assert [line for line in synced(bob) if " INVITE " in line] == []  # not an operator
        for client in (alice, bob, carol, eve):
            client.close()


# -------------------------------------------------------------------- bot mode


def test_a_bot_is_marked_in_whois_who_and_its_messages_for_message_tags_clients() -> None:
    with running_server() as server:
        robot = in_room(LineClient(server.port).register("robot"), "robot")
        alice = in_room(LineClient(server.port).register("alice", ("message-tags",)), "alice")
        carol = in_room(LineClient(server.port).register("carol", ("server-time",)), "carol")
        dave = in_room(LineClient(server.port).register("dave"), "dave")
        assert "BOT=B" in isupport(robot)

        robot.send("MODE robot +B")
        robot.expect(r"^:robot!robot@127\.0\.0\.1 MODE robot :?\+B$")
        alice.send("WHOIS robot")
        alice.expect(r"^:tcpchat 335 alice robot :is a bot$")
        alice.expect(r" 318 ")
        alice.send("WHO robot")
        alice.expect(r" 352 alice \* robot 127\.0\.0\.1 tcpchat robot HB :0 robot$")
        alice.send("WHO #lobby")
        alice.expect(r" 352 alice #lobby robot 127\.0\.0\.1 tcpchat robot H@B :0 robot$")

        robot.send("PRIVMSG #lobby :beep", "NOTICE alice :boop")
        said = alice.expect(r"^@(\S+) :robot!robot@127\.0\.0\.1 PRIVMSG #lobby :beep$")
        assert "bot" in said.group(1).split(";")
        told = alice.expect(r"^@(\S+) :robot!robot@127\.0\.0\.1 NOTICE alice :boop$")
        assert "bot" in told.group(1).split(";")
        carol.expect(r"^@time=[^; ]+ :robot!robot@127\.0\.0\.1 PRIVMSG #lobby :beep$")
        dave.expect(r"^:robot!robot@127\.0\.0\.1 PRIVMSG #lobby :beep$")

        robot.send("MODE robot -B", "PRIVMSG #lobby :human now")
        said = alice.expect(r"^@(\S+) :robot!\S+ PRIVMSG #lobby :human now$")
        assert "bot" not in said.group(1).split(";")
        alice.send("WHOIS robot")
        assert [line for line in synced(alice) if " 335 " in line] == []
        for client in (alice, carol, dave, robot):
            client.close()
