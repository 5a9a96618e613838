"""Rooms that last (CS REGISTER) over real sockets, with a real SQLite file in tmp_path: what a
registered room keeps across a restart, who gets @ in it, and who may change it.

Logging in is SASL's (and REGISTER's) business, built beside this; until then these tests log a
session in the way SASL ends, with the core's AccountChanged event (`log_in` below), on the
server's own loop.
"""

from __future__ import annotations

from tcpchat.accounts.scram import derive_keys
from tcpchat.core.events import AccountChanged
from tcpchat.passwords import hash_password
from tcpchat.store import accounts as db
from tcpchat.store.database import Database
from tcpchat.store.schema import MIGRATIONS

from net_harness import LineClient, RunningServer, running_server

KEYS = derive_keys("password")
ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def make_accounts(folder, *names: str) -> None:
    """Accounts in the data directory, as REGISTER would have left them."""
    database = Database(folder, MIGRATIONS)
    database.open()
    for name in names:
        account = db.Account(name.lower(), name, None, KEYS, 0.0)
        database.run(lambda c, a=account: db.create_account(c, a), lambda ok: None)
    database.close()


def log_in(server: RunningServer, nick: str, account: str) -> None:
    """Log `nick`'s session in to `account`, as a SASL success does (AccountChanged)."""

    def work() -> None:
        assert server.server is not None
        core = server.server.core
        user = core.find_user(nick)
        assert user is not None
        core.emit(AccountChanged(core.clock(), user.uid, user.source, account))

    server.call(work)


def client(server: RunningServer, nick: str, account: str | None = None) -> LineClient:
    connection = LineClient(server.port).register(nick)
    if account is not None:
        log_in(server, nick, account)
    return connection


def joined(connection: LineClient, nick: str, room: str, key: str = "") -> str:
    """JOIN, and the NAMES line that follows it."""
    connection.send(f"JOIN {room} {key}".rstrip())
    connection.expect(rf"^:{nick}!\S+ JOIN {room}$")
    names = connection.expect(rf" 353 {nick} . {room} :(.*)$").group(1)
    connection.expect(rf" 366 {nick} {room} ")
    return names


def notice(connection: LineClient, nick: str, pattern: str) -> str:
    return connection.expect(rf"^:\S+ NOTICE {nick} :({pattern})$").group(1)


def test_a_registered_room_keeps_its_topic_modes_key_bans_and_operators_across_a_restart(
    tmp_path,
):
    make_accounts(tmp_path, "alice", "bob")
    with running_server(data_dir=str(tmp_path)) as server:
        alice = client(server, "alice", "alice")
        assert joined(alice, "alice", "#room") == "@alice"
        alice.send("CS REGISTER #room")
        notice(alice, "alice", r"Registered #room to your account alice\..*")
        alice.send(
            "TOPIC #room :we keep this",
            "MODE #room +kls sesame 20",
            "MODE #room +b eve!*@*",
            "MODE #room +e eve!*@friend.example",
            "MODE #room +I bob!*@*",
            "CS OP #room bob",
        )
        alice.expect(r" TOPIC #room :we keep this$")
        alice.expect(r" MODE #room \+I bob!\*@\*$")
        notice(alice, "alice", r"bob is now an operator of #room.*")

    with running_server(data_dir=str(tmp_path)) as server:
        # The first to come after the restart is a stranger: no @, and the key holds.
        dave = client(server, "dave")
        dave.send("JOIN #room")
        dave.expect(r" 475 dave #room :Cannot join channel \(\+k\)$")
        assert joined(dave, "dave", "#room", "sesame") == "dave"
        dave.send("TOPIC #room", "MODE #room", "MODE #room b", "MODE #room e", "MODE #room I")
        dave.expect(r" 332 dave #room :we keep this$")
        dave.expect(r" 333 dave #room alice!\S+ :?\d+$")
        dave.expect(r" 324 dave #room \+nstkl sesame :?20$")
        dave.expect(r" 367 dave #room eve!\*@\* alice!\S+ :?\d+$")
        dave.expect(r" 348 dave #room eve!\*@friend\.example alice!\S+ :?\d+$")
        dave.expect(r" 346 dave #room bob!\*@\* alice!\S+ :?\d+$")
        dave.send("MODE #room -k sesame")
        dave.expect(r" 482 dave #room ")

        eve = client(server, "eve")
        eve.send("JOIN #room sesame")
        eve.expect(r" 474 eve #room :Cannot join channel \(\+b\)$")

        # The founder and the operators on the access list get @ when they join.
        alice = client(server, "alice", "alice")
        assert joined(alice, "alice", "#room", "sesame") == "dave @alice"
        bob = client(server, "bob", "bob")
        assert "@bob" in joined(bob, "bob", "#room", "sesame").split()

        # A change made now is kept as well.
        alice.send("TOPIC #room :and this")
        dave.expect(r" TOPIC #room :and this$")

    with running_server(data_dir=str(tmp_path)) as server:
        dave = client(server, "dave")
        joined(dave, "dave", "#room", "sesame")
        dave.send("TOPIC #room")
        dave.expect(r" 332 dave #room :and this$")


def test_logging_in_while_in_a_registered_room_gives_the_status_on_its_access_list(tmp_path):
    make_accounts(tmp_path, "alice", "bob", "carol")
    with running_server(data_dir=str(tmp_path)) as server:
        alice = client(server, "alice", "alice")
        joined(alice, "alice", "#room")
        alice.send("CS REGISTER #room", "CS OP #room bob", "CS VOICE #room carol")
        notice(alice, "alice", r"carol is now voiced in #room.*")

        bob = client(server, "bob")
        assert joined(bob, "bob", "#room") == "@alice bob"
        log_in(server, "bob", "bob")
        alice.expect(r"^:\S+ MODE #room \+o bob$")
        bob.expect(r"^:\S+ MODE #room \+o bob$")

        carol = client(server, "carol", "carol")
        assert "+carol" in joined(carol, "carol", "#room").split()


def test_an_unregistered_room_is_anyone_s_again_after_a_restart(tmp_path):
    make_accounts(tmp_path, "alice")
    with running_server(data_dir=str(tmp_path)) as server:
        alice = client(server, "alice", "alice")
        joined(alice, "alice", "#room")
        alice.send("CS REGISTER #room", "MODE #room +k sesame")
        alice.expect(r" MODE #room \+k sesame$")
        alice.send("CS UNREGISTER #room")
        notice(alice, "alice", r"#room is no longer registered\..*")
        alice.send("CS INFO #room")
        notice(alice, "alice", r"#room is not registered\.")

    with running_server(data_dir=str(tmp_path)) as server:
        dave = client(server, "dave")
        assert joined(dave, "dave", "#room") == "@dave"  # a new room, as ever


def test_who_may_register_and_change_a_room(tmp_path):
    make_accounts(tmp_path, "alice", "bob", "carol")
    with running_server(data_dir=str(tmp_path), operators={"root": ROOT_HASH}) as server:
        alice = client(server, "alice")  # an operator of the room, not logged in
        joined(alice, "alice", "#room")
        alice.send("CS REGISTER #room")
        notice(alice, "alice", r"You must be logged in to an account to register a room\.")

        bob = client(server, "bob", "bob")  # logged in, in the room, no @
        joined(bob, "bob", "#room")
        bob.send("CS REGISTER #room")
        notice(bob, "bob", r"You must be an operator of #room to register it\.")

        log_in(server, "alice", "alice")
        alice.send("CS REGISTER #room")
        notice(alice, "alice", r"Registered #room to your account alice\..*")
        bob.send("CS REGISTER #room")
        notice(bob, "bob", r"#room is already registered\.")

        for command in ("CS OP #room bob", "CS UNREGISTER #room"):
            bob.send(command)
            notice(bob, "bob", r"Only .* of #room .*may .*")
        alice.send("CS OP #room nobody")
        notice(alice, "alice", r"There is no account named nobody\.")
        alice.send("CS INFO #room")
        notice(alice, "alice", r"#room is registered to alice since .*")

        # An operator on the access list may change the list, not unregister the room.
        alice.send("CS OP #room bob")
        bob.expect(r"^:\S+ MODE #room \+o bob$")
        bob.send("CS VOICE #room carol")
        notice(bob, "bob", r"carol is now voiced in #room.*")
        bob.send("CS UNREGISTER #room")
        notice(bob, "bob", r"Only the founder of #room .*")

        # A server operator may do it all, logged in or not, in the room or not.
        root = client(server, "root")
        root.send("OPER root hunter2")
        root.expect(r" 381 root ")
        root.send("CS DEOP #room bob")
        notice(root, "root", r"bob is no longer an operator of #room.*")
        root.send("CS UNREGISTER #room")
        notice(root, "root", r"#room is no longer registered\..*")

        root.send("CS FROB #room")
        notice(root, "root", r"There is no CS FROB; CS HELP lists the commands\.")
        root.send("CS")
        notice(root, "root", r"CS REGISTER #room: .*")


def test_people_on_nc_use_cs_and_read_the_answers_as_sentences(tmp_path):
    make_accounts(tmp_path, "dave")
    with running_server(data_dir=str(tmp_path)) as server:
        dave = LineClient(server.port)
        dave.expect_text("nickname? ")
        dave.send("dave")
        dave.expect(r"^People in #lobby: @dave$")
        log_in(server, "dave", "dave")
        dave.send("/cs register #lobby")
        dave.expect(r"^Registered #lobby to your account dave\.")
        dave.send("/chanserv info #lobby")
        dave.expect(r"^#lobby is registered to dave since ")
        dave.send("/help cs")
        dave.expect(r"^/cs REGISTER #room")


def test_the_terminal_client_passes_cs_on_and_shows_the_answers_as_sentences() -> None:
    from tcpchat.plaintext import PlainSession

    session = PlainSession()
    session.start("alice")
    session.from_server(b":srv 001 alice :Welcome\r\n:alice!u@h JOIN #lobby\r\n")
    session.take_lines()
    assert session.from_person("/cs register #lobby") == ["CS register #lobby"]
    assert session.from_person("/chanserv") == ["CS"]
    session.from_server(b":srv NOTICE alice :Registered #lobby to your account alice.\r\n")
    assert session.take_lines() == ["Registered #lobby to your account alice."]
