"""Nick ownership over real sockets, from both sides: whoever takes an account's nick is
told, then renamed after `nick_grace`; the owner regains it at once; operators suspend and
drop accounts; people on nc register, log out and read all of it as sentences."""

from __future__ import annotations

import pytest

from client_harness import RunningClient, client_options, run
from tcpchat.console import OperatorConsole
from tcpchat.core.commands import COMMANDS
from tcpchat.passwords import hash_password
from test_accounts_register import oper, quiet, registered
from test_console import Screen, type_at

from net_harness import LineClient, RunningServer, running_server

ROOT_HASH = hash_password("hunter2", n=16)


def in_lobby(server: RunningServer, nick: str) -> LineClient:
    client = LineClient(server.port).register(nick)
    client.send("JOIN #lobby")
    client.expect(rf" 366 {nick} #lobby ")
    return client


def person(server: RunningServer, nick: str) -> LineClient:
    """Someone on nc, past the nickname prompt and in #lobby."""
    client = LineClient(server.port)
    client.expect_text("nickname? ")
    client.send(nick)
    client.expect(r"^You joined #lobby\.$")
    client.expect(r"^People in #lobby: ")
    return client


def graces(server: RunningServer) -> dict:
    assert server.server is not None
    core = server.server.core
    return server.call(lambda: dict(core.nick_graces))


def test_someone_on_an_accounts_nick_is_told_and_renamed_after_the_grace():
    with running_server(nick_grace=0.5) as server:
        alice = registered(server, "alice")
        alice.send("NICK alice_away")
        alice.expect(r"^:alice!\S+ NICK :?alice_away$")
        watcher = in_lobby(server, "watcher")
        mallory = in_lobby(server, "mallory")
        watcher.expect(r"^:mallory!\S+ JOIN #lobby")

        mallory.send("NICK alice")
        mallory.expect(r"^:mallory!mallory@127\.0\.0\.1 NICK :?alice$")
        mallory.expect(
            r"^:tcpchat NOTICE alice :The nick alice belongs to an account\. If it is yours, log "
            r"in within 0\.5 seconds \(with SASL; on nc or telnet, /login alice PASSWORD\), or "
            r"you will be renamed to a guest nick\.$"
        )
        guest = mallory.expect(r"^:alice!mallory@127\.0\.0\.1 NICK :?(Guest\d{5})$")[1]
        mallory.expect(
            rf"^:tcpchat NOTICE {guest} :You were renamed to {guest}: the nick alice belongs to "
            r"an account, and you did not log in within 0\.5 seconds\.$"
        )
        watcher.expect(r"^:mallory!\S+ NICK :?alice$")
        watcher.expect(rf"^:alice!\S+ NICK :?{guest}$")
        assert graces(server) == {}

        alice.send("NICK alice")  # the owner takes it: no grace, no notice
        alice.expect(r"^:alice_away!\S+ NICK :?alice$")
        quiet(alice)
        assert graces(server) == {}


def test_the_owner_regains_their_nick_at_once():
    with running_server(nick_grace=60) as server:
        alice = registered(server, "alice")
        alice.send("NICK alice_")
        alice.expect(r" NICK :?alice_$")
        mallory = LineClient(server.port).register("alice")
        mallory.expect(r"^:tcpchat NOTICE alice :The nick alice belongs to an account\.")

        mallory.send("REGAIN alice")
        mallory.expect(
            r"^:tcpchat FAIL REGAIN ACCOUNT_REQUIRED alice :Log in to the nick's account first"
        )
        alice.send("REGAIN bob")
        alice.expect(
            r"^:tcpchat FAIL REGAIN NOT_YOUR_NICK bob :You can only regain alice, the nick of "
            r"the account you are logged in to$"
        )
        alice.send("REGAIN")
        guest = mallory.expect(r"^:alice!\S+ NICK :?(Guest\d{5})$")[1]
        mallory.expect(
            rf"^:tcpchat NOTICE {guest} :You were renamed to {guest}: alice_ \(alice\) took back "
            r"their nick alice\.$"
        )
        alice.expect(r"^:alice_!alice@127\.0\.0\.1 NICK :?alice$")
        assert graces(server) == {}
        alice.send("REGAIN alice")
        alice.expect(r"^:tcpchat NOTICE alice :You already have the nick alice$")


def test_logging_out_keeps_the_account_but_not_the_nick():
    with running_server(nick_grace=0.5) as server:
        kate = registered(server, "kate")
        kate.send("LOGOUT")
        kate.expect(r"^:tcpchat 901 kate kate!kate@127\.0\.0\.1 :You are now logged out$")
        kate.expect(r"^:tcpchat NOTICE kate :The nick kate belongs to an account\.")
        kate.expect(r"^:kate!\S+ NICK :?Guest\d{5}$")
        kate.send("LOGOUT")
        kate.expect(r"^:tcpchat FAIL LOGOUT NOT_LOGGED_IN :You are not logged in$")


def test_operators_suspend_and_drop_accounts_and_their_users_are_logged_out():
    with running_server(operators={"root": ROOT_HASH}, nick_grace=0.5) as server:
        kim = registered(server, "kim")
        nobody = LineClient(server.port).register("nobody")
        nobody.send("ACCOUNT INFO kim", "ACCOUNT PENDING")
        nobody.expect(r" 481 nobody :Permission Denied")
        nobody.expect(r" 481 nobody :Permission Denied")
        root = oper(server)

        root.send("ACCOUNT SUSPEND kim :spamming the lobby")
        root.expect(r"^:tcpchat NOTICE root :Account kim suspended: spamming the lobby$")
        kim.expect(r"^:tcpchat 901 kim kim!kim@127\.0\.0\.1 :You are now logged out$")
        kim.expect(
            r"^:tcpchat NOTICE kim :You were logged out: the account kim was suspended by an "
            r"operator \(spamming the lobby\)\.$"
        )
        kim.expect(r"^:tcpchat NOTICE kim :The nick kim belongs to an account\.")
        kim.expect(r"^:kim!\S+ NICK :?Guest\d{5}$")  # a suspended account's nick stays its own
        root.send("ACCOUNT INFO kim")
        root.expect(r"^:tcpchat NOTICE root :kim is suspended: spamming the lobby$")
        root.send("ACCOUNT UNSUSPEND kim")
        root.expect(r"^:tcpchat NOTICE root :Account kim is not suspended; it may log in$")

        lee = registered(server, "lee")
        root.send("ACCOUNT INFO lee")
        root.expect(r"^:tcpchat NOTICE root :Logged in to lee now: lee!lee@127\.0\.0\.1$")
        root.send("ACCOUNT DROP lee")
        root.expect(r"^:tcpchat NOTICE root :Account lee dropped$")
        lee.expect(r"^:tcpchat 901 lee lee!lee@127\.0\.0\.1 :You are now logged out$")
        lee.expect(
            r"^:tcpchat NOTICE lee :You were logged out: the account lee was dropped by an "
            r"operator\.$"
        )
        quiet(lee)  # the nick is nobody's now: no grace
        assert graces(server) == {}
        root.send("ACCOUNT INFO lee", "ACCOUNT DROP lee", "ACCOUNT FROB lee", "ACCOUNT INFO")
        root.expect(r"^:tcpchat FAIL ACCOUNT NO_SUCH_ACCOUNT lee :There is no account lee$")
        root.expect(r"^:tcpchat FAIL ACCOUNT NO_SUCH_ACCOUNT lee :")
        root.expect(r"^:tcpchat FAIL ACCOUNT UNKNOWN_SUBCOMMAND FROB :ACCOUNT takes INFO, ")
        root.expect(r"^:tcpchat 461 root ACCOUNT :Not enough parameters$")
        lee.send("REGISTER * * :a new password")
        lee.expect(r"^:tcpchat REGISTER SUCCESS lee ")


def test_people_on_nc_register_log_out_and_read_what_happens_to_their_nick():
    with running_server(nick_grace=0.5) as server:
        dave = person(server, "dave")
        dave.send("/register correct horse")
        dave.expect(r"^Account dave registered$")
        dave.expect(r"^You are now logged in as dave\.$")
        dave.send("/logout")
        dave.expect(r"^You are now logged out\.$")
        dave.expect(
            r"^The nick dave belongs to an account\. If it is yours, log in within 0\.5 seconds "
            r"\(with SASL; on nc or telnet, /login dave PASSWORD\), or you will be renamed to a "
            r"guest nick\.$"
        )
        guest = dave.expect(r"^You are now known as (Guest\d{5})\.$")[1]
        dave.expect(
            rf"^You were renamed to {guest}: the nick dave belongs to an account, and you did "
            r"not log in within 0\.5 seconds\.$"
        )
        dave.send("/register correct horse")
        dave.expect(r"^Guest nicks are handed out by the server; choose a nick of your own first$")


@pytest.mark.skipif("AUTHENTICATE" not in COMMANDS, reason="SASL comes with its own branch")
def test_people_on_nc_log_in_with_login_and_keep_their_nick():
    with running_server(nick_grace=60) as server:
        registered(server, "dave").close()
        dave = person(server, "dave")
        assert any(line.startswith("The nick dave belongs to an account.") for line in dave.seen)
        dave.send("/login dave correct horse")
        dave.expect(r"^You are now logged in as dave\.$")
        assert graces(server) == {}  # logging in ended the grace
        dave.send("/login dave wrong password")
        dave.expect(r"^You are logged in already\.$|^Login as dave failed")


def test_the_terminal_client_registers_with_slash_register():
    async def main() -> None:
        with running_server() as server:
            alice = await RunningClient(client_options(server, nick="alice")).start()
            await alice.say("/register correct horse")
            await alice.screen.expect(r"^Account alice registered$")
            await alice.screen.expect(r"^You are now logged in as alice\.$")
            await alice.say("quit")
            assert await alice.exit_code() == 0

    run(main)


def test_the_operator_console_runs_the_account_commands():
    with running_server() as server:
        screen = Screen()
        console = server.call(lambda: OperatorConsole(server.server, screen.show))
        alice = registered(server, "alice")
        type_at(server, console, "/account info alice")
        screen.wait_for("Account alice: registered ")
        screen.wait_for("Logged in to alice now: alice!alice@127.0.0.1")
        type_at(server, console, "/account suspend alice being rude")
        screen.wait_for("Account alice suspended: being rude")
        alice.expect(r" 901 alice ")
        type_at(server, console, "/account create bob correct horse")
        screen.wait_for("Account bob created")
        type_at(server, console, "/account frob")
        screen.wait_for("ACCOUNT takes INFO, CREATE, DROP, SUSPEND, UNSUSPEND, PENDING or APPROVE")
