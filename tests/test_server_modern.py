"""Queries, channel modes and server commands of the modern IRC documents, over real sockets:
each test does what the specification says a client does and checks what it would notice."""

from __future__ import annotations

import re
import socket

from tcpchat.passwords import hash_password
from tcpchat.protocol import Message, parse

from net_harness import LineClient, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def until(client: LineClient, pattern: str) -> list[str]:
    """Every line read up to and including the first that matches `pattern`."""
    start = len(client.seen)
    client.expect(pattern)
    return client.seen[start:]


def replies(client: LineClient, *commands: str) -> list[Message]:
    """Send `commands`, then a PING; return what came back before the PONG, parsed."""
    client.send(*commands, "PING :done")
    return [parse(line) for line in until(client, r" PONG \S+ :?done$")[:-1]]


def join(client: LineClient, nick: str, *rooms: str, caps: tuple[str, ...] = ()) -> LineClient:
    client.register(nick, caps)
    for room in rooms:
        client.send(f"JOIN {room}")
        client.expect(rf" 366 {nick} {re.escape(room)} ")
    return client


def isupport(client: LineClient) -> dict[str, str]:
    """The ISUPPORT tokens of the VERSION reply, as name -> value."""
    tokens: dict[str, str] = {}
    for msg in replies(client, "VERSION"):
        if msg.command == "005":
            assert len(msg.params) <= 15  # the client, 13 tokens at most, the text
            for token in msg.params[1:-1]:
                name, _, value = token.partition("=")
                assert re.fullmatch(r"[A-Z0-9]{1,20}", name), token
                tokens[name] = value
    return tokens


def oper(client: LineClient) -> LineClient:
    client.send("OPER root hunter2")
    client.expect(r" 381 ")
    client.expect(r" MODE \S+ \+o$")
    return client


# ------------------------------------------------------------------ registration


def test_user_with_an_empty_realname_gets_461_not_a_welcome():
    with running_server() as server:
        client = LineClient(server.port)
        client.send("NICK alice", "USER alice 0 * :")
        seen = until(client, r" 461 ")
        assert re.search(r" 461 alice USER :", seen[-1])
        assert not any(" 001 " in line for line in seen)
        client.send("USER alice 0 * :Alice Liddell")
        client.expect(r" 001 alice ")


# ------------------------------------------------------------------------ NAMES


def test_names_of_several_channels_ends_with_one_366_naming_them_all():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#a", "#b")
        _bob = join(LineClient(server.port), "bob", "#b")  # kept: a socket collected would quit
        carol = join(LineClient(server.port), "carol", "#s")
        carol.send("MODE #s +s")
        carol.expect(r" MODE #s \+s")
        dave = LineClient(server.port).register("dave")
        got = replies(dave, "NAMES #a,#b,#nosuch,#s")
        assert [(m.command, *m.params[1:]) for m in got] == [
            ("353", "=", "#a", "@alice"),
            ("353", "=", "#b", "@alice bob"),
            ("366", "#a,#b,#nosuch,#s", "End of /NAMES list"),
        ]
        # One channel: as before, its 366 names it; a secret one is a bare 366.
        assert [m.params[1:3] for m in replies(dave, "NAMES #s")] == [
            ["#s", "End of /NAMES list"]
        ]
        got = replies(alice, "NAMES #a")
        assert [m.command for m in got if m.command.isdigit()] == ["353", "366"]


# ------------------------------------------------------------------- away-notify


def test_away_user_joining_is_followed_by_away_for_away_notify_members():
    with running_server() as server:
        bob = join(LineClient(server.port), "bob", "#room", caps=("away-notify",))
        carol = join(LineClient(server.port), "carol", "#room")  # did not ask
        alice = LineClient(server.port).register("alice")
        alice.send("AWAY :gone to lunch")
        alice.expect(r" 306 alice ")
        alice.send("JOIN #room")
        alice.expect(r" 366 alice #room ")
        bob.expect(r"^:alice!\S+ JOIN #room$")
        assert re.match(r"^:alice!\S+ AWAY :gone to lunch$", bob.readline())
        carol.expect(r"^:alice!\S+ JOIN #room$")
        alice.send("PRIVMSG #room :marker")
        assert not any("AWAY" in line for line in until(carol, r"PRIVMSG #room :marker$"))
        # Someone who is not away joins: no AWAY follows.
        dave = LineClient(server.port).register("dave")
        dave.send("JOIN #room", "PRIVMSG #room :here")
        seen = until(bob, r":dave!\S+ PRIVMSG #room :here$")
        assert not any("AWAY" in line for line in seen)


# ----------------------------------------------------------------------- WHOWAS


def test_whowas_remembers_nicks_left_behind_most_recent_first():
    with running_server() as server:
        bob = LineClient(server.port).register("bob")
        assert [m.command for m in replies(bob, "WHOWAS alice")] == ["406", "369"]

        alice = LineClient(server.port)
        alice.send("NICK alice", "USER first 0 * :Alice the First")
        alice.expect(r" 001 ")
        alice.send("NICK alice2")
        alice.expect(r" NICK :?alice2$")
        alice.send("QUIT :bye")
        alice.expect_closed()
        again = LineClient(server.port)
        again.send("NICK alice", "USER second 0 * :Alice the Second")
        again.expect(r" 001 ")
        again.send("QUIT")
        again.expect_closed()

        got = replies(bob, "WHOWAS alice")
        assert [(m.command, *m.params[1:2]) for m in got] == [
            ("314", "alice"), ("312", "alice"), ("314", "alice"), ("312", "alice"),
            ("369", "alice"),
        ]  # fmt: skip
        assert got[0].params[2:] == ["second", "127.0.0.1", "*", "Alice the Second"]
        assert got[2].params[2:] == ["first", "127.0.0.1", "*", "Alice the First"]
        assert got[1].params[2] == server.settings.server_name
        assert got[-1].params[-1] == "End of WHOWAS"

        one = replies(bob, "WHOWAS ALICE 1")  # nicks compare case-insensitively
        assert [m.command for m in one] == ["314", "312", "369"]
        assert one[0].params[2] == "second"
        assert [m.params[1:] for m in replies(bob, "WHOWAS alice2")][0][:2] == ["alice2", "first"]
        got = replies(bob, "WHOWAS nobody")
        assert [(m.command, m.params[1]) for m in got] == [("406", "nobody"), ("369", "nobody")]
        assert [m.command for m in replies(bob, "WHOWAS")] == ["461"]


# ------------------------------------------------------------------------- WHOX


def test_whox_answers_exactly_the_fields_asked_in_the_spec_order():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#room")
        bob = join(LineClient(server.port), "bob", "#room")
        alice.send("AWAY :out")
        alice.expect(r" 306 ")
        assert "WHOX" in isupport(bob)

        got = replies(bob, "WHO #room %afnt,42")
        assert [m.command for m in got] == ["354", "354", "315"]
        assert got[0].params == ["bob", "42", "alice", "G@", "0"]
        assert got[1].params == ["bob", "42", "bob", "H", "0"]
        assert got[2].params[1] == "#room"

        every = replies(bob, "WHO alice %roladfnshiuct,7")  # any order asked, one order told
        assert every[0].command == "354"
        assert every[0].params == [
            "bob", "7", "*", "alice", "255.255.255.255", "127.0.0.1", server.settings.server_name,
            "alice", "G", "0", every[0].params[10], "0", "n/a", "alice",
        ]  # fmt: skip
        assert every[0].params[10].isdigit()  # seconds idle
        own = replies(bob, "WHO bob %i")
        assert own[0].params == ["bob", "127.0.0.1"]  # one's own address is no secret

        plain = replies(bob, "WHO #room")  # plain WHO is unchanged
        assert [m.command for m in plain] == ["352", "352", "315"]
        assert plain[0].params[1:7] == ["#room", "alice", "127.0.0.1", "tcpchat", "alice", "G@"]


# -------------------------------------------------------------------- STATUSMSG


def test_statusmsg_reaches_only_members_with_that_status():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#room")  # operator
        bob = join(LineClient(server.port), "bob", "#room")
        carol = join(LineClient(server.port), "carol", "#room")
        echo = join(LineClient(server.port), "erin", "#room", caps=("echo-message",))
        alice.send("MODE #room +v bob")
        for client in (alice, bob, carol, echo):
            client.expect(r" MODE #room \+v bob$")
        assert isupport(carol)["STATUSMSG"] == "@+"

        carol.send("PRIVMSG @#room :ops only", "NOTICE +#ROOM :voices too", "PRIVMSG #room :end")
        seen = {c: until(c, r":carol!\S+ PRIVMSG #room :end$") for c in (alice, bob, echo)}
        assert any(re.match(r"^:carol!\S+ PRIVMSG @#room :ops only$", x) for x in seen[alice])
        assert any(re.match(r"^:carol!\S+ NOTICE \+#room :voices too$", x) for x in seen[alice])
        assert any(re.match(r"^:carol!\S+ NOTICE \+#room :voices too$", x) for x in seen[bob])
        assert not any("ops only" in x for x in seen[bob])
        assert not any("only" in x or "too" in x for x in seen[echo])

        echo.send("PRIVMSG @#room :to the ops")  # the sender's own copy, with echo-message
        echo.expect(r"^:erin!\S+ PRIVMSG @#room :to the ops$")
        alice.expect(r"^:erin!\S+ PRIVMSG @#room :to the ops$")
        assert [m.command for m in replies(carol, "PRIVMSG @#nosuch :x")] == ["403"]


# ----------------------------------------------------------------- +e and +I


def test_ban_exceptions_and_invite_exceptions():
    with running_server(max_list_entries=3) as server:
        alice = join(LineClient(server.port), "alice", "#room")
        tokens = isupport(alice)
        assert tokens["EXCEPTS"] == "e" and tokens["INVEX"] == "I"
        assert tokens["CHANMODES"] == "beI,k,l,Uimnst"
        assert tokens["MAXLIST"] == "beI:3"

        alice.send("MODE #room +be bob bob!*@127.0.0.1")
        alice.expect(r" MODE #room \+be bob!\*@\* bob!\*@127\.0\.0\.1$")
        bob = join(LineClient(server.port), "bob", "#room")  # banned, but excepted
        bob.send("PRIVMSG #room :the exception lets me speak")
        alice.expect(r"PRIVMSG #room :the exception lets me speak$")
        got = [m for m in replies(alice, "MODE #room e") if m.command.isdigit()]
        assert [m.command for m in got] == ["348", "349"]
        assert got[0].params[1:3] == ["#room", "bob!*@127.0.0.1"]
        assert got[1].params[1:] == ["#room", "End of channel exception list"]

        alice.send("MODE #room +iI carol")
        alice.expect(r" MODE #room \+iI carol!\*@\*$")
        _carol = join(LineClient(server.port), "carol", "#room")  # no invitation needed
        dave = LineClient(server.port).register("dave")
        assert [m.command for m in replies(dave, "JOIN #room")] == ["473"]
        got = [m for m in replies(alice, "MODE #room I") if m.command.isdigit()]
        assert [(m.command, *m.params[1:3]) for m in got] == [
            ("346", "#room", "carol!*@*"), ("347", "#room", "End of channel invite exception list")
        ]  # fmt: skip

        # b, e and I share one limit (MAXLIST=beI:3): a fourth entry is refused.
        alice.send("MODE #room +I erin", "MODE #room -e bob!*@127.0.0.1", "PRIVMSG #room :x")
        seen = until(bob, r"PRIVMSG #room :x$")
        assert not any("+I erin" in line for line in seen)
        assert any(re.search(r" MODE #room -e bob!\*@127\.0\.0\.1$", line) for line in seen)
        bob.send("PRIVMSG #room :still here?")
        bob.expect(r" 404 bob #room ")


# ------------------------------------------------------------------------ ELIST


def test_list_filters_by_users_times_and_masks():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#big", "#small")
        _bob = join(LineClient(server.port), "bob", "#big")
        _carol = join(LineClient(server.port), "carol", "#big")
        alice.send("TOPIC #small :quiet here")
        alice.expect(r" TOPIC #small :quiet here$")
        tokens = isupport(alice)
        assert tokens["ELIST"] == "CMNTU" and "SAFELIST" in tokens

        def listed(*params: str) -> list[str]:
            got = replies(alice, " ".join(("LIST", *params)))
            assert got[-1].command == "323"
            return [m.params[1] for m in got if m.command == "322"]

        assert listed() == ["#big", "#small"]
        assert listed(">2") == ["#big"]
        assert listed("<2") == ["#small"]
        assert listed(">1,<3") == []
        assert listed("C<60") == ["#big", "#small"]  # created less than an hour ago
        assert listed("C>60") == []
        assert listed("T<60") == ["#small"]  # only #small has a topic
        assert listed("T>60") == []
        assert listed("#b*") == ["#big"]
        assert listed("!#b*") == ["#small"]
        assert listed("#big,#small", ">2") == ["#big"]


def test_a_huge_list_does_not_get_the_client_dropped():
    """SAFELIST: a LIST far larger than the send queue still ends with 323, and the
    client stays connected, even when it reads slowly."""
    settings = {
        "sendq_bytes": 4096, "socket_send_buffer": 4096, "flood_rate": 0, "channels_per_user": 100
    }  # fmt: skip
    with running_server(**settings) as server:
        alice = join(LineClient(server.port), "alice")
        topic = "t" * 380
        for i in range(80):  # a few at a time: alice's own replies must fit her send queue
            alice.send(f"JOIN #room{i}", f"TOPIC #room{i} :{topic}")
            if i % 4 == 3:
                alice.expect(rf" TOPIC #room{i} ")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        reader = LineClient.__new__(LineClient)
        reader.sock, reader.buffer, reader.seen = slow, b"", []
        reader.register("bob")
        reader.send("LIST")
        seen = until(reader, r" 323 bob ")
        assert any(" 322 bob #room" in line for line in seen)
        assert any("NOTICE bob :" in line and "LIST" in line for line in seen)
        assert [m.command for m in replies(reader, "TIME")] == ["391"]  # still connected


# ------------------------------------------------------------------------ KNOCK


def test_knock_asks_the_operators_of_an_invite_only_room():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#room")
        carol = join(LineClient(server.port), "carol", "#room", "#open")
        alice.send("MODE #room +i")
        carol.expect(r" MODE #room \+i$")
        bob = LineClient(server.port).register("bob")
        assert "KNOCK" in isupport(bob)

        got = replies(bob, "KNOCK #room :let me in please")
        assert [m.params[1:] for m in got] == [["#room", "Your KNOCK has been delivered"]]
        assert got[0].command == "711"
        alice.expect(r"^:\S+ 710 #room #room bob!bob@127\.0\.0\.1 :.*let me in please")
        alice.send("PRIVMSG #room :marker")
        assert not any(" 710 " in line for line in until(carol, r"PRIVMSG #room :marker$"))

        assert [m.command for m in replies(bob, "KNOCK #room")] == ["712"]  # too soon
        assert [m.command for m in replies(bob, "KNOCK #open")] == ["713"]  # just join
        assert [m.command for m in replies(alice, "KNOCK #room")] == ["714"]  # already in
        assert [m.command for m in replies(bob, "KNOCK #nosuch")] == ["403"]
        assert [m.command for m in replies(bob, "KNOCK")] == ["461"]


# ------------------------------------------------------------- server commands


def test_help_has_a_topic_for_every_command():
    with running_server() as server:
        alice = LineClient(server.port).register("alice")
        index = replies(alice, "HELP")
        assert index[0].command == "704" and index[-1].command == "706"
        assert {m.command for m in index[1:-1]} == {"705"}
        assert all(m.params[1] == "*" for m in index)
        text = " ".join(m.params[-1] for m in index)
        for command in ("PRIVMSG", "WHOWAS", "KNOCK", "HELP", "WALLOPS"):
            assert command in text

        topic = replies(alice, "HELPOP whowas")
        assert [m.command for m in topic][:1] == ["704"] and topic[-1].command == "706"
        assert "WHOWAS" in " ".join(m.params[-1] for m in topic)
        assert all(m.params[1].upper() == "WHOWAS" for m in topic)
        missing = replies(alice, "HELP frobnicate")
        assert [(m.command, m.params[1]) for m in missing] == [("524", "frobnicate")]


def test_info_links_users_and_invite_list():
    with running_server() as server:
        alice = join(LineClient(server.port), "alice", "#room", "#other")
        info = replies(alice, "INFO")
        assert info[-1].command == "374" and {m.command for m in info[:-1]} == {"371"}
        assert any("tcpchat" in m.params[-1] for m in info)
        links = replies(alice, "LINKS")
        assert [(m.command, *m.params[1:]) for m in links] == [
            ("364", "*", server.settings.server_name, links[0].params[-1]),
            ("365", "*", "End of /LINKS list"),
        ]
        assert links[0].params[-1].startswith("0 ")
        assert [m.command for m in replies(alice, "USERS")] == ["446"]

        bob = LineClient(server.port).register("bob")
        assert [m.command for m in replies(bob, "INVITE")] == ["337"]
        alice.send("INVITE bob #room", "INVITE bob #other")
        bob.expect(r" INVITE bob #other$")
        got = replies(bob, "INVITE")
        assert sorted(m.params[1] for m in got if m.command == "336") == ["#other", "#room"]
        assert got[-1].command == "337"
        assert [m.command for m in replies(bob, "INVITE bob")] == ["461"]


def test_wallops_reach_users_with_mode_w_and_linking_is_refused_clearly():
    with running_server(operators={"root": ROOT_HASH}) as server:
        admin = LineClient(server.port).register("admin")
        watcher = LineClient(server.port).register("watcher")
        other = LineClient(server.port).register("other")
        for command in ("WALLOPS :hello", "SQUIT x :y", "CONNECT x"):
            assert [m.command for m in replies(admin, command)] == ["481"]
        watcher.send("MODE watcher +w")
        watcher.expect(r"^:watcher!\S+ MODE watcher \+w$")
        oper(admin)
        assert [m.command for m in replies(admin, "WALLOPS")] == ["461"]
        admin.send("WALLOPS :server restarts at noon", "PRIVMSG other :marker")
        watcher.expect(r"^:admin!\S+ WALLOPS :server restarts at noon$")
        admin.expect(r"^:admin!\S+ WALLOPS :server restarts at noon$")  # the sender's copy
        seen = until(other, r"PRIVMSG other :marker$")
        assert not any("WALLOPS" in line for line in seen)
        for command in ("SQUIT other.server :bye", "CONNECT other.server 6667"):
            got = replies(admin, command)
            assert [m.command for m in got] == ["NOTICE"]
            assert "does not link" in got[0].params[-1]
        assert [m.command for m in replies(admin, "SQUIT")] == ["461"]


# ---------------------------------------------------------------------- ISUPPORT


def test_isupport_is_complete_and_made_from_the_settings():
    settings = {"targets_per_message": 7, "max_list_entries": 33, "network_name": "TestNet"}
    with running_server(**settings) as server:
        tokens = isupport(LineClient(server.port).register("alice"))
        for name in ("SAFELIST", "WHOX", "KNOCK"):
            assert tokens[name] == ""
        assert tokens["NETWORK"] == "TestNet"
        assert tokens["CHANTYPES"] == "#"
        assert tokens["STATUSMSG"] == "@+"
        assert tokens["ELIST"] == "CMNTU"
        assert tokens["EXCEPTS"] == "e" and tokens["INVEX"] == "I"
        assert tokens["MAXLIST"] == "beI:33"
        assert tokens["KICKLEN"] == "255"
        targmax = dict(pair.split(":") for pair in tokens["TARGMAX"].split(","))
        assert targmax == {
            "PRIVMSG": "7", "NOTICE": "7", "TAGMSG": "1", "JOIN": "", "PART": "", "KICK": "",
            "NAMES": "", "LIST": "", "WHOIS": "1", "WHOWAS": "1",
        }  # fmt: skip
