"""What the network sees of accounts, over real sockets: account-notify, extended-join,
account-tag, WHOIS (330) and WHOX's `a`, each only for the clients that asked for it."""

from __future__ import annotations

import pytest

from net_harness import LineClient, running_server
from sasl_harness import add_account, negotiating, plain_login

WATCHER_CAPS = ("account-notify", "account-tag", "extended-join", "server-time")


@pytest.fixture
def data_dir(tmp_path):
    add_account(tmp_path, "Alice", "pw")
    return tmp_path


def test_peers_see_logins_joins_and_messages_with_the_account_only_if_they_asked(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        watcher = LineClient(server.port).register("watcher", caps=WATCHER_CAPS)
        plain = LineClient(server.port).register("plain")
        for client in (watcher, plain):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        # alice comes in without an account: extended-join says so with '*'
        alice = LineClient(server.port).register("alice", caps=("sasl", "account-notify"))
        alice.send("JOIN #room")
        watcher.expect(r"^@time=\S+ :alice!alice@127\.0\.0\.1 JOIN #room \* :alice$")
        plain.expect(r"^:alice!alice@127\.0\.0\.1 JOIN #room$")
        alice.send("PRIVMSG #room :anonymous")
        assert "account=" not in watcher.expect(r"PRIVMSG #room :anonymous$").string

        plain_login(alice, "alice", "pw")  # after registration (sasl-3.2)
        alice.expect(r" 900 alice ")
        alice.expect(r"^:alice!\S+ ACCOUNT Alice$")  # account-notify includes oneself
        alice.expect(r" 903 ")
        watcher.expect(r"^@time=\S+ :alice!alice@127\.0\.0\.1 ACCOUNT Alice$")

        alice.send("PRIVMSG #room :signed", "NICK alicia", "NICK alice")
        line = watcher.expect(r"PRIVMSG #room :signed$").string
        assert line.startswith("@") and "account=Alice" in line.split(" ")[0]
        assert "account=Alice" in watcher.expect(r" NICK :?alicia$").string
        alice.send("PART #room", "JOIN #room")
        assert "account=Alice" in watcher.expect(r" PART :?#room$").string
        joined = watcher.expect(r"^@\S+ :alice!\S+ JOIN #room Alice :alice$").string
        assert "account=Alice" in joined.split(" ")[0]

        alice.send("WHO #room %tna,42", "WHOIS alice")
        alice.expect(r" 315 ")
        who = {line.split(" ", 3)[3] for line in alice.seen if " 354 " in line}
        assert who == {"42 watcher :0", "42 plain :0", "42 alice :Alice"}
        alice.expect(r" 330 alice alice Alice :is logged in as$")

        plain.send("PING :end")
        plain.expect(r"PONG \S+ :?end$")
        seen = "\n".join(plain.seen)
        assert "ACCOUNT" not in seen and "account=" not in seen and "Alice" not in seen
        assert ":alice!alice@127.0.0.1 JOIN #room" in plain.seen  # the plain JOIN, again


def test_someone_who_logged_in_quits_with_the_account_tag_and_monitors_hear_of_logins(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        monitor = LineClient(server.port).register(
            "monitor", caps=("account-notify", "extended-monitor")
        )
        monitor.send("MONITOR + alice")
        monitor.expect(r" 731 ")
        peer = LineClient(server.port).register("peer", caps=("account-tag",))
        peer.send("JOIN #room")
        peer.expect(r" 366 ")
        alice = negotiating(server.port, "alice")
        plain_login(alice, "alice", "pw")
        alice.send("CAP END")
        alice.expect(r" 001 ")
        monitor.expect(r" 730 monitor :alice!")
        alice.send("JOIN #room")
        peer.expect(r"^@account=Alice :alice!\S+ JOIN #room$")
        alice.send("QUIT :bye")
        peer.expect(r"^@account=Alice :alice!\S+ QUIT :Quit: bye$")
        # logged in before registering: no ACCOUNT line, the login was part of coming online
        monitor.send("PING :end")
        monitor.expect(r"PONG \S+ :?end$")
        assert not any(" ACCOUNT " in line for line in monitor.seen)

        bob = LineClient(server.port).register("bob", caps=("sasl",))
        monitor.send("MONITOR + bob")
        monitor.expect(r" 730 monitor :bob!")
        plain_login(bob, "alice", "pw")
        bob.expect(r" 903 ")
        monitor.expect(r"^:bob!\S+ ACCOUNT Alice$")  # extended-monitor: as if in a room
