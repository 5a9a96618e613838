"""MONITOR and extended-monitor over real sockets, as IRCv3 clients use them.

What a client must *not* get is checked with a PING of its own afterwards: the server
answers in order, so whatever it was going to send that client comes before the PONG.
"""

from __future__ import annotations

import re

from tcpchat.passwords import hash_password

from net_harness import LineClient, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash
EXTENDED = ("extended-monitor", "away-notify", "chghost", "setname")


def synced(client: LineClient, token: str = "sync") -> list[str]:
    """Everything the server sent `client` before the answer to a PING sent now."""
    start = len(client.seen)
    client.send(f"PING {token}")
    client.expect(rf" PONG \S+ :?{re.escape(token)}$")
    return client.seen[start:-1]


def isupport(client: LineClient) -> list[str]:
    """The ISUPPORT tokens, as VERSION sends them again."""
    client.send("VERSION")
    lines = [line for line in synced(client, "isupport") if " 005 " in line]
    return [token for line in lines for token in line.split(" :")[0].split()[3:]]


def test_monitor_says_who_is_online_and_follows_them_coming_going_and_renaming() -> None:
    with running_server() as server:
        alice = LineClient(server.port).register("alice")
        assert "MONITOR=100" in isupport(alice)
        alice.send("MONITOR + bob,Carol")
        alice.expect(r"^:tcpchat 731 alice :bob,Carol$")

        bob = LineClient(server.port).register("bob")
        alice.expect(r"^:tcpchat 730 alice :bob!bob@127\.0\.0\.1$")

        alice.send("MONITOR L")
        alice.expect(r"^:tcpchat 732 alice :bob,Carol$")
        alice.expect(r"^:tcpchat 733 alice :End of MONITOR list$")
        alice.send("MONITOR S")
        alice.expect(r"^:tcpchat 730 alice :bob!bob@127\.0\.0\.1$")
        alice.expect(r"^:tcpchat 731 alice :Carol$")

        bob.send("NICK carol")  # under another monitored nick: one goes, the other comes
        alice.expect(r"^:tcpchat 731 alice :bob$")
        alice.expect(r"^:tcpchat 730 alice :carol!bob@127\.0\.0\.1$")
        bob.send("QUIT :bye")
        alice.expect(r"^:tcpchat 731 alice :carol$")

        alice.send("MONITOR - carol")
        again = LineClient(server.port).register("Carol")
        assert not [line for line in synced(alice) if " 73" in line]
        alice.send("MONITOR C", "MONITOR L")
        alice.expect(r" 733 alice :End of MONITOR list$")
        assert not [line for line in alice.seen[-3:] if " 732 " in line]
        again.close()
        alice.close()


def test_monitor_refuses_what_goes_beyond_its_limit_and_what_is_no_nick() -> None:
    with running_server(monitor_limit=2) as server:
        alice = LineClient(server.port).register("alice")
        assert "MONITOR=2" in isupport(alice)
        alice.send("MONITOR + a1,a2,a3,a4")
        alice.expect(r"^:tcpchat 734 alice 2 a3,a4 :Monitor list is full\.?$")
        alice.expect(r"^:tcpchat 731 alice :a1,a2$")
        alice.send("MONITOR + A1")  # already there: no error, its status again
        assert synced(alice) == [":tcpchat 731 alice :A1"]
        alice.send("MONITOR + 9lives,#room")  # not nicks: ignored
        assert synced(alice) == []
        alice.send("MONITOR +", "MONITOR")
        alice.expect(r" 461 alice MONITOR :Not enough parameters$")
        alice.expect(r" 461 alice MONITOR :Not enough parameters$")
        alice.close()


def test_monitor_lists_of_a_gone_client_are_forgotten() -> None:
    with running_server() as server:
        alice = LineClient(server.port).register("alice")
        alice.send("MONITOR + bob")
        alice.expect(r" 731 alice :bob$")
        alice.send("QUIT")
        alice.expect_closed()
        core = server.server.core  # type: ignore[union-attr]
        monitors = core.router.monitors
        assert server.call(lambda: (monitors.lists, monitors.watchers)) == ({}, {})


def test_extended_monitor_tells_of_away_host_and_realname_changes_without_a_channel() -> None:
    with running_server(operators={"root": ROOT_HASH}) as server:
        alice = LineClient(server.port).register("alice", EXTENDED)
        plain = LineClient(server.port).register("plain", ("away-notify", "chghost", "setname"))
        partial = LineClient(server.port).register("partial", ("extended-monitor", "chghost"))
        bob = LineClient(server.port).register("bob", ("setname",))
        for watcher in (alice, plain, partial):
            watcher.send("MONITOR + bob")
            watcher.expect(r" 730 \S+ :bob!")

        bob.send("AWAY :lunch")
        bob.expect(r" 306 ")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 AWAY :lunch$")
        bob.send("SETNAME :Robert Tables")
        bob.expect(r"^:bob!bob@127\.0\.0\.1 SETNAME :Robert Tables$")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 SETNAME :Robert Tables$")

        root = LineClient(server.port).register("root")
        root.send("OPER root hunter2")
        root.expect(r" 381 ")
        root.send("CHGHOST bob robert tables.example")
        root.expect(r" NOTICE root :")
        alice.expect(r"^:bob!bob@127\.0\.0\.1 CHGHOST robert tables\.example$")
        partial.expect(r"^:bob!bob@127\.0\.0\.1 CHGHOST robert tables\.example$")

        assert [line for line in synced(alice) if "bob!" in line] == []
        assert [line for line in synced(plain) if "bob!" in line] == []  # no extended-monitor
        assert [line for line in synced(partial) if "bob!" in line] == []  # no away-notify...

        # Sharing a channel as well: each change once, not twice.
        for client, nick in ((alice, "alice"), (bob, "bob")):
            client.send("JOIN #room")
            client.expect(rf" 366 {nick} #room ")
        bob.send("AWAY")
        bob.expect(r" 305 ")
        assert [line for line in synced(alice) if " AWAY" in line] == [
            ":bob!robert@tables.example AWAY :lunch",  # away-notify: bob joined while away
            ":bob!robert@tables.example AWAY",  # back: once, though alice monitors him too
        ]
        for client in (alice, plain, partial, bob, root):
            client.close()
