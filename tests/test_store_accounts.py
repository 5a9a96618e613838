"""Accounts, fingerprints and registered channels in a real database file."""

from tcpchat.accounts.scram import derive_keys
from tcpchat.store import accounts as db
from tcpchat.store.database import Database


def open_db(folder):
    database = Database(folder, db.MIGRATIONS)
    database.open()
    return database


def call(database, work):
    results = []
    database.run(work, results.append)
    return results[0]


def test_accounts_last_across_a_restart_and_names_are_unique(tmp_path):
    keys = derive_keys("pw")
    alice = db.Account("alice", "Alice", "a@example.org", keys, 1700000000.0)
    database = open_db(tmp_path)
    assert call(database, lambda c: db.create_account(c, alice))
    assert not call(database, lambda c: db.create_account(c, alice))
    database.close()

    database = open_db(tmp_path)
    stored = call(database, lambda c: db.get_account(c, "alice"))
    assert stored == alice and stored.verified
    assert call(database, lambda c: db.set_suspended(c, "alice", "spam"))
    assert call(database, lambda c: db.get_account(c, "alice")).suspended == "spam"
    assert call(database, lambda c: db.get_account(c, "bob")) is None
    database.close()


def test_fingerprints_belong_to_one_account_and_go_with_it(tmp_path):
    database = open_db(tmp_path)
    for name in ("alice", "bob"):
        account = db.Account(name, name, None, derive_keys(name), 0.0)
        call(database, lambda c, a=account: db.create_account(c, a))
    assert call(database, lambda c: db.add_certfp(c, "alice", "AB" * 32))
    assert not call(database, lambda c: db.add_certfp(c, "bob", "ab" * 32))
    assert call(database, lambda c: db.account_by_certfp(c, "ab" * 32)).name == "alice"
    assert call(database, lambda c: db.delete_account(c, "alice"))
    assert call(database, lambda c: db.account_by_certfp(c, "ab" * 32)) is None
    database.close()


def test_a_registered_channel_keeps_its_topic_modes_lists_and_operators(tmp_path):
    database = open_db(tmp_path)
    founder = db.Account("alice", "alice", None, derive_keys("x"), 0.0)
    call(database, lambda c: db.create_account(c, founder))
    room = db.RegisteredChannel(
        "#room", "#Room", "alice", 1700000000.0, "the topic", "alice!a@h", 1700000001.0,
        "imnt", "sesame", 20, (("b", "spam!*@*", "alice!a@h", 1700000002.0),), {"alice": "o"},
    )  # fmt: skip
    call(database, lambda c: db.save_channel(c, room))
    database.close()
    database = open_db(tmp_path)
    assert call(database, lambda c: db.get_channel(c, "#room")) == room
    assert call(database, db.registered_channels) == [room]
    call(database, lambda c: db.delete_account(c, "alice"))  # a founder's account dropped
    assert call(database, db.registered_channels) == []
    database.close()
