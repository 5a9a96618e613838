"""Registered channels in the core: what is kept and when, how a room comes back, and an
account's drop. A "restart" here is a new core on the same (in-memory) database."""

from __future__ import annotations

from tcpchat.accounts.scram import derive_keys
from tcpchat.core.events import AccountChanged
from tcpchat.passwords import hash_password
from tcpchat.store import accounts as db
from tcpchat.store.database import Database
from tcpchat.store.schema import MIGRATIONS

from core_harness import Peer, make_core, register

KEYS = derive_keys("pw")


def new_database(*accounts: str) -> Database:
    database = Database(None, MIGRATIONS)
    database.open()
    for name in accounts:
        account = db.Account(name, name, None, KEYS, 0.0)
        database.run(lambda c, a=account: db.create_account(c, a), lambda ok: None)
    return database


def start(database: Database, **settings: object):
    """A core on `database`, its registered channels read as the server does at start."""
    core = make_core(**settings)
    core.attach_accounts(db.SqliteAccounts(database))
    core.channel_registry.load(database.run_now(db.registered_channels))
    return core


def log_in(core, peer: Peer, account: str) -> None:
    user = peer.user
    core.emit(AccountChanged(core.clock(), user.uid, user.source, account))


def stored(database: Database, name: str) -> db.RegisteredChannel | None:
    return database.run_now(lambda c: db.get_channel(c, name))


def notices(peer: Peer) -> list[str]:
    return [m.params[-1] for m in peer.take() if m.command == "NOTICE"]


def test_changes_to_a_registered_room_are_kept_as_they_happen_and_statuses_are_not():
    database = new_database("alice")
    core = start(database)
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    alice.send("TOPIC #room :before")
    assert stored(database, "#room") is None  # not registered yet: nothing kept
    log_in(core, alice, "alice")
    alice.send("CS REGISTER #room")
    assert notices(alice)[0].startswith("Registered #room to your account alice.")
    assert stored(database, "#room").topic == "before"

    alice.send("MODE #room +im", "MODE #room +b x!*@*", "MODE #room +l 5", "TOPIC #room :after")
    kept = stored(database, "#room")
    assert (kept.modes, kept.limit, kept.topic) == ("imnt", 5, "after")
    assert [entry[:2] for entry in kept.lists] == [("b", "x!*@*")]

    saves: list[db.RegisteredChannel] = []
    keep = core.accounts.save_channel
    core.accounts.save_channel = lambda record: (saves.append(record), keep(record))  # type: ignore[method-assign]
    alice.send("MODE #room +o-o+v bob bob bob")  # people's @ and + are not the room's
    assert saves == []
    alice.send("MODE #room -m")
    assert [record.modes for record in saves] == ["int"]


def test_a_room_comes_back_as_kept_and_its_first_joiner_gets_only_what_the_list_gives():
    database = new_database("alice", "bob")
    core = start(database)
    alice = register(core, "alice")
    log_in(core, alice, "alice")
    alice.send("JOIN #room", "CS REGISTER #room", "CS VOICE #room bob", "MODE #room +i")
    alice.send("MODE #room +I fr*!*@*")

    core = start(database)  # a restart
    assert core.state.channel("#room") is None
    dave = register(core, "dave")
    dave.send("JOIN #room")
    assert [m.command for m in dave.take()] == ["473"]  # +i from the start
    assert core.state.channel("#room") is None  # and nothing was made

    fred = register(core, "fred")  # on the invite exception list
    fred.send("JOIN #room")
    assert core.state.channel("#room").members == {fred.user.uid: ""}
    bob = register(core, "bob")  # voiced on the list: + once in, but +i holds for him
    log_in(core, bob, "bob")
    bob.send("JOIN #room")
    assert [m.command for m in bob.take()] == ["473"]
    alice = register(core, "alice")  # the founder: past +i (and +k, +l, bans), with @
    log_in(core, alice, "alice")
    alice.send("JOIN #room", "INVITE bob #room")
    bob.send("JOIN #room")
    channel = core.state.channel("#room")
    assert channel.members == {fred.user.uid: "", alice.user.uid: "o", bob.user.uid: "v"}

    # Everyone leaves: the room is made again from what was kept, as after a restart.
    for peer in (fred, alice, bob):
        peer.send("PART #room")
        peer.take()
    assert core.state.channel("#room") is None
    dave.send("JOIN #room")
    assert [m.command for m in dave.take()] == ["473"]
    bob.send("JOIN #room")
    assert [m.command for m in bob.take()] == ["473"]
    alice.send("JOIN #room")
    channel = core.state.channel("#room")
    assert channel.members == {alice.user.uid: "o"} and channel.modes == {"i", "n", "t"}


def test_the_founder_logging_in_in_the_room_gets_at_and_logging_out_keeps_it():
    database = new_database("alice")
    core = start(database)
    alice = register(core, "alice")
    log_in(core, alice, "alice")
    alice.send("JOIN #room", "CS REGISTER #room")
    core = start(database)
    alice, bob = register(core, "alice"), register(core, "bob")
    bob.send("JOIN #room")
    alice.send("JOIN #room")
    bob.take()
    log_in(core, alice, "alice")
    assert [m.params for m in bob.take()] == [["#room", "+o", "alice"]]
    core.emit(AccountChanged(core.clock(), alice.user.uid, alice.user.source, None))
    assert core.state.channel("#room").members[alice.user.uid] == "o"
    assert bob.take() == []


def test_dropping_an_account_drops_the_rooms_it_founded_and_its_place_on_access_lists():
    database = new_database("alice", "bob")
    core = start(database)
    alice, bob = register(core, "alice"), register(core, "bob")
    log_in(core, alice, "alice")
    log_in(core, bob, "bob")
    core.account_names.update({"alice", "bob"})
    alice.send("JOIN #a", "CS REGISTER #a", "CS OP #a bob")
    bob.send("JOIN #b", "CS REGISTER #b", "CS OP #b alice")
    assert set(core.channel_registry.records) == {"#a", "#b"}

    assert core.channel_registry.forget_account("alice") == ["#a"]  # what ACCOUNT DROP calls
    database.run_now(lambda c: db.delete_account(c, "alice"))
    assert set(core.channel_registry.records) == {"#b"}
    assert core.channel_registry.records["#b"].access == {}
    assert stored(database, "#a") is None and stored(database, "#b").access == {}
    bob.send("TOPIC #b :still kept")  # a later save names no dropped account
    assert stored(database, "#b").topic == "still kept"

    alice.send("PART #a")
    dave = register(core, "dave")
    dave.send("JOIN #a")  # anyone's now
    assert core.state.channel("#a").members == {dave.user.uid: "o"}


def test_cs_answers_to_a_labeled_command_and_words_in_one_parameter():
    database = new_database("alice")
    core = start(database)
    alice = register(core, "alice", "labeled-response", "batch")
    log_in(core, alice, "alice")
    alice.send("JOIN #room")
    alice.take()
    alice.send("@label=r CS :register #room")
    (answer,) = alice.take()
    assert answer.tags == {"label": "r"} and answer.command == "NOTICE"
    alice.send("CHANSERV info #ROOM")
    assert notices(alice)[0].startswith("#room is registered to alice since ")


def test_a_server_operator_founds_nothing_without_an_account_but_may_unregister_anything():
    database = new_database("alice")
    core = start(database, operators={"root": hash_password("hunter2", n=16)})
    root = register(core, "root")
    root.send("OPER root hunter2", "JOIN #ops", "CS REGISTER #ops")
    assert notices(root) == ["You must be logged in to an account to register a room."]
    alice = register(core, "alice")
    log_in(core, alice, "alice")
    alice.send("JOIN #room", "CS REGISTER #room")
    root.send("CS UNREGISTER #room")  # from outside the room
    assert notices(root)[0].startswith("#room is no longer registered.")
    assert stored(database, "#room") is None


def test_a_save_is_whole_or_nothing_and_run_now_says_what_failed(tmp_path):
    import pytest

    from tcpchat.errors import StoreError

    database = Database(tmp_path, MIGRATIONS, post=lambda callback: callback())
    database.open()  # on its own thread, as in the server
    try:
        founder = db.Account("alice", "alice", None, KEYS, 0.0)
        assert database.run_now(lambda c: db.create_account(c, founder))
        room = db.RegisteredChannel(
            "#room", "#room", "alice", 1.0, "kept", lists=(("b", "x", "a", 1.0),)
        )
        database.run_now(lambda c: db.save_channel(c, room))
        broken = db.RegisteredChannel(
            "#room", "#room", "alice", 1.0, "lost", access={"nobody": "o"}
        )
        with pytest.raises(StoreError, match="FOREIGN KEY"):
            database.run_now(lambda c: db.save_channel(c, broken))
        assert database.run_now(lambda c: db.get_channel(c, "#room")) == room
    finally:
        database.close()
