"""History retention, +U and HISTORY FORGET: old lines expire in the background (by age and
by count) without holding up the chat, a channel operator turns a channel's history off, and
a person has their own messages forgotten. Real servers, real SQLite files in tmp_path, the
results checked as a user sees them (SEARCH), and in the file after the server stopped."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tcpchat.config import Settings
from tcpchat.core import ChatCore
from tcpchat.core.retention import EXPIRY_BUDGET
from tcpchat.store.database import DB_NAME, Database
from tcpchat.store.history import INDEX_TEXT, INSERT_ROW
from tcpchat.store.schema import MIGRATIONS

from core_harness import make_core, register
from net_harness import TIMEOUT, LineClient, RunningServer, running_server
from sasl_harness import add_account, negotiating, plain_login

DAY = 86400.0


def seed(folder: Path, rows: list[tuple[str, float, str, str]]) -> None:
    """Lines of history (target, time, sender, text) written into the data directory's
    database before a server starts, as a server of long ago would have."""
    database = Database(folder, MIGRATIONS)
    database.open()

    def write(c: sqlite3.Connection) -> None:
        c.execute("BEGIN")
        c.executemany(INSERT_ROW, [
            (target, f"old{i}", when, "PRIVMSG", sender, None,
             f":{sender}!{sender}@old.example PRIVMSG {target} :{text}", None, None, text)
            for i, (target, when, sender, text) in enumerate(rows)
        ])  # fmt: skip
        c.execute(INDEX_TEXT)  # as a server's write indexes its rows
        c.execute("COMMIT")

    database.run_now(write)
    database.close()


def in_file(folder: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(folder / DB_NAME) as c:
        return c.execute(sql).fetchall()


def fts_consistent(folder: Path) -> bool:
    """FTS5's own check that the index holds exactly the text of the rows left."""
    with sqlite3.connect(folder / DB_NAME) as c:
        try:
            c.execute("INSERT INTO history_text (history_text) VALUES ('integrity-check')")
        except sqlite3.DatabaseError:
            return False
    return True


def expire(server: RunningServer) -> int | None:
    """Run an expiry pass on the server (or wait for the one under way) and its count."""
    done = threading.Event()
    result: list[int | None] = []

    def finished(deleted: int | None) -> None:
        result.append(deleted)
        done.set()

    assert server.server is not None
    retention = server.server.core.history.retention
    server.loop.call_soon_threadsafe(retention.expire, finished)
    assert done.wait(TIMEOUT * 6), "the expiry pass did not end"
    return result[0]


def user(server: RunningServer, nick: str, *rooms: str, caps: tuple[str, ...] = ()) -> LineClient:
    return LineClient(server.port).register(nick, caps).join(*rooms)


def found(client: LineClient, query: str) -> list[str]:
    """SEARCH as a client without batch sees it: the texts of the messages found."""
    client.send(f"SEARCH {query}")
    first = client.expect(r"NOTICE \S+ :(No messages found\.|Found (\d+) messages?)")
    texts = []
    for _ in range(int(first.group(2) or 0)):
        texts.append(client.expect(r"NOTICE \S+ :\[[^]]+\] (.*)$").group(1))
    return texts


def said(text: str) -> str:
    return text.split(" says: ", 1)[-1].split(": ", 1)[-1]


# -- expiry ------------------------------------------------------------------------------


def test_lines_older_than_history_days_expire_at_start_and_the_rest_stay(tmp_path):
    now = time.time()
    seed(tmp_path, [
        ("#room", now - 40 * DAY, "olda", "ancient apple"),
        ("#room", now - 31 * DAY, "olda", "ancient banana"),
        ("#room", now - 29 * DAY, "olda", "recent cherry"),
        ("bob carol", now - 35 * DAY, "bob", "ancient private"),
        ("#other", now - 2 * DAY, "olda", "recent damson"),
    ])  # fmt: skip
    with running_server(data_dir=str(tmp_path), history_days=30) as server:
        assert expire(server) is not None  # the pass begun at start, or one after it
        alice = user(server, "alice", "#room", "#other")
        assert [said(t) for t in found(alice, "text=ancient")] == []
        assert [said(t) for t in found(alice, "text=recent")] == ["recent cherry", "recent damson"]
        alice.close()
    assert sorted(
        row[0] for row in in_file(tmp_path, "SELECT text FROM history WHERE text IS NOT NULL")
    ) == [
        "recent cherry",
        "recent damson",
    ]
    assert fts_consistent(tmp_path)


def test_only_the_newest_lines_of_each_target_are_kept_and_empty_conversations_go(tmp_path):
    seed(tmp_path, [("bob carol", time.time() - 5, "bob", "a private word")])
    settings = {"data_dir": str(tmp_path), "history_max_per_target": 4}
    with running_server(**settings) as server:
        alice = user(server, "alice", "#room")  # JOIN: a line of #room's history
        for i in range(1, 7):
            alice.send(f"PRIVMSG #room :word number{i}")
        assert found(alice, "text=word") != []  # every line written before it is read
        expire(server)
        assert [said(t) for t in found(alice, "text=word")] == [
            "word number3", "word number4", "word number5", "word number6",
        ]  # fmt: skip
        alice.close()
    # One line only in the private conversation: within the count, it stays.
    assert in_file(tmp_path, "SELECT count(*) FROM history WHERE target = 'bob carol'") == [(1,)]
    assert fts_consistent(tmp_path)


def test_a_conversation_whose_lines_all_expired_is_forgotten(tmp_path):
    with running_server(data_dir=str(tmp_path)) as server:
        bob, carol = user(server, "bob"), user(server, "carol")
        bob.send("PRIVMSG carol :see you next year")
        carol.expect(r"PRIVMSG carol :see you next year")
        bob.close()
        carol.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:  # a year passes
        c.execute("UPDATE history SET time = time - 365 * 86400")
    assert in_file(tmp_path, "SELECT key FROM conversations") == [("bob carol",)]
    with running_server(data_dir=str(tmp_path)) as server:
        expire(server)
    assert in_file(tmp_path, "SELECT count(*) FROM history WHERE target = 'bob carol'") == [(0,)]
    assert in_file(tmp_path, "SELECT key FROM conversations") == []


def test_expiry_runs_in_short_jobs_while_the_chat_goes_on(tmp_path):
    old = time.time() - 60 * DAY
    seed(tmp_path, [(f"#r{i % 40}", old + i, "olda", f"old line {i}") for i in range(40_000)])
    with running_server(data_dir=str(tmp_path), history_days=30) as server:
        assert server.server is not None
        retention = server.server.core.history.retention
        alice, bob = user(server, "alice"), user(server, "bob")
        under_way = server.call(lambda: retention.expiring is not None)
        for i in range(5):  # each stored, so each waits for a database turn of its own
            alice.send(f"PRIVMSG bob :ping {i}")
            bob.expect(rf"PRIVMSG bob :ping {i}$")
        still = server.call(lambda: retention.expiring is not None)
        left = in_file(tmp_path, f"SELECT count(*) FROM history WHERE time < {old + 40_000}")
        jobs = server.call(lambda: retention.jobs)  # read after: it counts every job seen
        alice.close()
        bob.close()
    assert under_way and still, "the chat was meant to run during the pass"
    # Short jobs, each its own transaction: what is gone is never more than the jobs done
    # (and one committed but not yet counted) may delete. One long job would show nothing
    # done, or everything.
    gone = 40_000 - left[0][0]
    assert jobs >= 1 and 0 < gone <= (jobs + 1) * EXPIRY_BUDGET, (jobs, gone)
    assert fts_consistent(tmp_path)  # the pass stopped with the server, between two jobs


def test_the_core_expires_on_demand_by_its_own_clock():
    now = [1_700_000_000.0]
    core = ChatCore(
        Settings().updated({"history_days": 1, "history_max_per_target": 3}),
        clock=lambda: now[0],
    )
    alice = register(core, "alice")
    alice.send("JOIN #room", "PRIVMSG #room :yesterday's news")
    now[0] += 2 * DAY
    alice.send("PRIVMSG #room :one", "PRIVMSG #room :two", "PRIVMSG #room :three",
               "PRIVMSG #room :four")  # fmt: skip
    result: list[int | None] = []
    core.history.retention.expire(result.append)  # no edge: it runs to the end at once
    # JOIN and yesterday's news by age; "one" by count (the newest three stay).
    assert result == [3]
    alice.take()
    alice.send("SEARCH from=alice")
    texts = [m.params[-1] for m in alice.take() if m.command == "NOTICE"][1:]
    assert [said(t) for t in texts] == ["two", "three", "four"]


# -- +U ----------------------------------------------------------------------------------


def test_plus_u_needs_a_channel_operator_and_nothing_is_kept_while_it_is_set(tmp_path):
    with running_server(data_dir=str(tmp_path)) as server:
        alice = user(server, "alice", "#room")  # first in: operator
        bob = user(server, "bob", "#room")
        bob.send("MODE #room +U")
        bob.expect(r" 482 bob #room :You're not channel operator")
        alice.send("PRIVMSG #room :kept before")
        alice.send("MODE #room +U")
        bob.expect(r":alice!\S+ MODE #room \+U$")
        alice.send("PRIVMSG #room :said off the record")
        bob.send("PRIVMSG #room :also off the record")
        alice.expect(r"PRIVMSG #room :also off the record")
        alice.send("MODE #room -U")
        bob.expect(r"MODE #room -U$")
        alice.send("PRIVMSG #room :kept after")
        bob.expect(r"PRIVMSG #room :kept after")
        texts = [said(t) for t in found(bob, "in=#room")]
        assert texts == ["kept before", "kept after"]
        alice.close()
        bob.close()
    lines = [row[0] for row in in_file(tmp_path, "SELECT line FROM history ORDER BY id")]
    assert not [line for line in lines if "off the record" in line]
    # +U itself is kept (it came before it took effect); -U is not (it came while set).
    assert [line for line in lines if " MODE " in line] == [":alice!alice@127.0.0.1 MODE #room +U"]


# -- HISTORY FORGET -----------------------------------------------------------------------


def logged_in(server: RunningServer, nick: str, *rooms: str) -> LineClient:
    client = negotiating(server.port, nick)
    plain_login(client, "alice", "correct horse")
    client.expect(r" 903 ")
    client.send("CAP END")
    client.expect(r" 001 ")
    for room in rooms:
        client.send(f"JOIN {room}")
        client.expect(rf" 366 {nick} {room} ")
    return client


def test_a_logged_in_user_forgets_every_message_of_their_account(tmp_path):
    add_account(tmp_path, "alice", "correct horse")
    with running_server(data_dir=str(tmp_path)) as server:
        bob = user(server, "bob", "#room")
        alice = logged_in(server, "alice", "#room")
        alice.send("PRIVMSG #room :as my account")
        alice.send("PRIVMSG bob :privately as my account")
        bob.expect(r"PRIVMSG bob :privately")
        bob.send("PRIVMSG #room :bob stays")
        alice.expect(r"PRIVMSG #room :bob stays")
        alice.close()
        bob.expect(r"QUIT")
        again = logged_in(server, "alice2")  # another connection, the same account
        again.send("HISTORY FORGET")
        again.expect(r"NOTE HISTORY FORGOTTEN 2 :2 of your messages were forgotten$")
        assert [said(t) for t in found(bob, "in=#room")] == ["bob stays"]
        assert found(bob, "in=alice") == []
        again.close()
        bob.close()
    assert fts_consistent(tmp_path)


def test_without_an_account_only_this_connection_s_messages_are_forgotten(tmp_path):
    with running_server(data_dir=str(tmp_path)) as server:
        dave = user(server, "dave", "#room")
        carol = user(server, "carol", "#room")
        carol.send("PRIVMSG #room :carol the first")
        dave.expect(r"PRIVMSG #room :carol the first$")  # received (a close may reset)
        carol.close()
        dave.expect(r"^:carol!\S+ QUIT")
        impostor = user(server, "carol", "#room")
        impostor.send("PRIVMSG #room :carol the second", "PRIVMSG dave :hello dave")
        dave.expect(r"PRIVMSG dave :hello dave")
        impostor.send("HISTORY FORGET")
        impostor.expect(
            r"NOTE HISTORY FORGOTTEN 2 :2 of your messages were forgotten \(without an account,"
        )
        assert [said(t) for t in found(dave, "text=carol")] == ["carol the first"]
        impostor.send("HISTORY FORGET")
        impostor.expect(r"NOTE HISTORY FORGOTTEN 0 ")
        impostor.send("HISTORY REMEMBER")
        impostor.expect(r"FAIL HISTORY INVALID_PARAMS REMEMBER :Usage: HISTORY FORGET")
        impostor.close()
        dave.close()


def test_forget_in_the_core_goes_by_account_and_leaves_other_people_s_lines():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room", "PRIVMSG #room :bob's line")
    alice.send("PRIVMSG #room :alice's line", "PRIVMSG bob :a private one")
    alice.take()
    alice.send("HISTORY FORGET")
    assert [m.params for m in alice.take() if m.command == "NOTE"] == [
        ["HISTORY", "FORGOTTEN", "2", "2 of your messages were forgotten (without an account, "
         "only those this connection sent; log in to forget those of your account)"],
    ]  # fmt: skip
    bob.take()
    bob.send("SEARCH from=alice")
    assert [m.params[-1] for m in bob.take()] == ["No messages found."]
