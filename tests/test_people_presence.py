"""/notify, bots, changed addresses and real names as people see them: the terminal client
(`ChatClient`, headless) and someone on nc, each against a real server; and the sentences
the plain-text session makes of such lines from any server."""

from __future__ import annotations

from client_harness import RunningClient, blocking, client_options, irc_user, run
from tcpchat.passwords import hash_password
from tcpchat.plaintext import PlainSession
from test_client import cut_connection
from test_typed_commands import person

from net_harness import LineClient, RunningServer, running_server

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def operator(server: RunningServer) -> LineClient:
    root = LineClient(server.port).register("root")
    root.send("OPER root hunter2")
    root.expect(r" 381 ")
    return root


# -- the terminal client -----------------------------------------------------------


def test_client_notify_says_who_comes_goes_and_is_away_then_unnotify_stops_it() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/notify bob")
            await alice.screen.expect(r"^bob is offline\.$")
            bob = await irc_user(server, "bob")
            await alice.screen.expect(r"^bob is online\.$")
            await alice.say("/notify")
            await alice.screen.expect(r"^On your notify list: bob\.$")
            await alice.screen.expect(r"^bob is online\.$")
            bob.send("AWAY :lunch")  # no room shared: extended-monitor brings it
            await alice.screen.expect(r"^bob is away: lunch$")
            bob.send("AWAY")
            await alice.screen.expect(r"^bob is back\.$")
            bob.send("QUIT")
            await alice.screen.expect(r"^bob is offline\.$")

            await alice.say("/unnotify bob")
            await alice.screen.expect(r"^You will no longer be told when bob comes or goes\.$")
            again = await irc_user(server, "bob", "#lobby")
            await alice.screen.expect(r"^\* bob joined #lobby$")
            assert not [line for line in alice.screen.lines[-3:] if "online" in line]
            await alice.say("/notify")
            await alice.screen.expect(r"^Your notify list is empty; /notify nick adds someone\.$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            again.close()

    run(main)


def test_client_asks_again_about_its_notify_list_after_a_reconnect() -> None:
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server)).start()
            await alice.say("/notify bob,carol")
            await alice.screen.expect(r"^bob is offline\.$")
            await blocking(cut_connection, server, "alice")
            await alice.screen.expect(r"^Reconnected to the server\.$")
            await alice.screen.expect(r"^bob is offline\.$")
            await alice.screen.expect(r"^carol is offline\.$")
            bob = await irc_user(server, "bob")
            await alice.screen.expect(r"^bob is online\.$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_client_follows_chghost_and_setname_and_marks_bots_and_invites() -> None:
    async def main() -> None:
        with running_server(operators={"root": ROOT_HASH}) as server:
            bob = await irc_user(server, "bob", "#lobby")
            robot = await irc_user(server, "robot", "#lobby")
            alice = await RunningClient(client_options(server)).start()
            await blocking(bob.expect, r"^:alice!\S+ JOIN #lobby$")
            root = await blocking(operator, server)

            root.send("CHGHOST bob robert tables.example")
            await alice.screen.expect(r"^\* bob's address is now robert@tables\.example$")
            assert not [line for line in alice.screen.lines if line.startswith("* bob ")]
            assert "bob" in alice.client.roster.nicks()
            bob.send("SETNAME :Robert Tables")
            await alice.screen.expect(r"^\* bob's real name is now: Robert Tables$")

            robot.send("MODE robot +B", "PRIVMSG #lobby :beep")
            robot.send("PRIVMSG #lobby :\x01ACTION whirs\x01")
            await alice.screen.expect(r"^robot \[bot\] says: beep$")
            await alice.screen.expect(r"^\* robot \[bot\] whirs$")
            await alice.say("/who robot")
            await alice.screen.expect(r"^robot \(robot@127\.0\.0\.1\) \(bot\): robot$")
            await alice.say("/whois robot")
            await alice.screen.expect(r"^robot is a bot$")

            bob.send("INVITE root #lobby")
            await alice.screen.expect(r"^\* bob invited root to #lobby$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            for client in (bob, robot, root):
                client.close()

    run(main)


# -- someone on nc ---------------------------------------------------------------------


def test_nc_notify_bots_and_changed_addresses() -> None:
    with running_server(operators={"root": ROOT_HASH}) as server:
        dave = person(server, "dave")
        dave.send("/notify bob")
        dave.expect(r"^bob is offline\.$")
        bob = LineClient(server.port).register("bob")
        dave.expect(r"^bob is online\.$")
        bob.send("JOIN #lobby", "MODE bob +B", "PRIVMSG #lobby :beep")
        dave.expect(r"^\* bob joined #lobby$")
        dave.expect(r"^bob \[bot\] says: beep$")

        root = operator(server)
        root.send("CHGHOST bob robert tables.example")
        dave.expect(r"^\* bob's address is now robert@tables\.example$")
        bob.send("QUIT :done")
        dave.expect(r"^\* bob quit \(Quit: done\)$")
        dave.expect(r"^bob is offline\.$")
        dave.send("/help notify")
        dave.expect(r"^/notify \[nick\], /unnotify nick$")
        dave.close()
        root.close()


# -- the sentences, from any server ----------------------------------------------------


def welcomed(*isupport: str) -> PlainSession:
    session = PlainSession()
    session.start("alice")
    lines = [":srv 001 alice :Welcome", f":srv 005 alice {' '.join(isupport)} :are supported"]
    session.from_server("".join(line + "\r\n" for line in lines).encode())
    session.take_lines()
    return session


def test_notify_without_monitor_says_it_cannot_work() -> None:
    session = welcomed("CHANTYPES=#")
    assert session.from_person("/notify bob") == []
    assert session.take_lines() == [
        "This server doesn't offer MONITOR, so /notify can't work here."
    ]


def test_notify_sends_monitor_and_a_full_list_is_explained() -> None:
    session = welcomed("MONITOR=2")
    assert session.from_person("/notify a1 a2,a3") == ["MONITOR + a1,a2,a3"]
    session.from_server(b":srv 734 alice 2 a3 :Monitor list is full.\r\n")
    assert session.take_lines() == ["Your notify list is full (at most 2); not added: a3."]
    assert session.notify_list == ["a1", "a2"]
    assert session.from_person("/notify #room") == []
    assert session.take_lines() == ["That isn't a nickname: #room"]
    assert session.from_person("/unnotify") == []
    assert session.take_lines() == ["Usage: /unnotify nick"]


def test_a_reconnecting_client_monitors_its_list_again_once_offered() -> None:
    session = PlainSession()
    session.start("alice", notify=["bob", "carol"])
    session.from_server(b":srv 001 alice :Welcome\r\n")
    assert session.from_server(b":srv 005 alice MONITOR :are supported\r\n") == [
        "MONITOR + bob,carol"
    ]
    assert session.from_server(b":srv 005 alice MONITOR=100 :are supported\r\n") == []


def test_draft_bot_tags_and_old_servers_invites_read_well() -> None:
    session = welcomed("BOT=B")
    session.from_server(b"@draft/bot :robot!r@h PRIVMSG alice :hi\r\n")
    session.from_server(b"@bot=ignored :robot!r@h NOTICE alice :ho\r\n")
    session.from_server(b":bob!b@h INVITE alice #dev\r\n")
    assert session.take_lines() == [
        "robot [bot] (private) says: hi",
        "-robot [bot]- ho",
        "* bob invites you to #dev; type /join #dev to go there.",
    ]
