"""History's search index stays in step with what is written: each message's text is found
once (the index is brought up to date in bulk, and before a search), events are not indexed,
a message forgotten before it was indexed leaves the index whole, and a database made before
the index moved out of a trigger (schema 2) indexes new messages once, not twice."""

import sqlite3

from tcpchat.store.database import DB_NAME, Database
from tcpchat.store.history import INSERT_ROW, PLAYBACK_SCAN, Row, before_join
from tcpchat.store.schema import MIGRATIONS

from core_harness import make_core, register


def found(folder, words: str) -> list[str]:
    """The lines whose text matches `words` in the FTS index, read from the file itself."""
    with sqlite3.connect(folder / DB_NAME) as c:
        return [
            line
            for (line,) in c.execute(
                "SELECT h.line FROM history_text JOIN history h ON h.id = history_text.rowid"
                " WHERE history_text MATCH ? ORDER BY h.id",
                (words,),
            )
        ]


def occurrences(folder, word: str) -> int:
    """How many times the FTS index holds `word`: a message indexed twice counts twice."""
    with sqlite3.connect(folder / DB_NAME) as c:
        c.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, history_text, 'row')")
        row = c.execute("SELECT cnt FROM temp.words WHERE term = ?", (word,)).fetchone()
    return row[0] if row else 0


def chat(folder) -> None:
    database = Database(folder, MIGRATIONS)
    database.open()
    try:
        core = make_core()
        core.attach_database(database)
        alice, bob = register(core, "alice"), register(core, "bob")
        alice.send("JOIN #room")
        bob.send("JOIN #room")
        alice.send("PRIVMSG #room :the quick brown fox", "PRIVMSG #room :a lazy dog")
        bob.send("PRIVMSG alice :a quick word in private")
        bob.send("SEARCH text=quick")  # a search brings the index up to date first
        assert "Found 2 messages" in " ".join(str(m) for m in bob.take())
    finally:
        database.close()


def test_every_message_is_found_by_its_words_once_and_events_are_not_indexed(tmp_path):
    chat(tmp_path)
    assert found(tmp_path, "quick") == [
        ":alice!alice@127.0.0.1 PRIVMSG #room :the quick brown fox",
        ":bob!bob@127.0.0.1 PRIVMSG alice :a quick word in private",
    ]
    assert found(tmp_path, "lazy dog") == [":alice!alice@127.0.0.1 PRIVMSG #room :a lazy dog"]
    assert found(tmp_path, "room") == []  # JOIN lines are kept, not searched
    assert occurrences(tmp_path, "quick") == 2


def test_a_database_from_before_indexes_new_messages_once(tmp_path):
    old = Database(tmp_path, [m for m in MIGRATIONS if m[0] <= 2])
    old.open()
    old.close()  # schema 2: the text was indexed by a trigger
    chat(tmp_path)
    assert len(found(tmp_path, "quick")) == 2
    assert len(found(tmp_path, "fox")) == 1
    assert occurrences(tmp_path, "quick") == 2


def test_a_message_forgotten_before_it_was_indexed_leaves_the_index_whole(tmp_path):
    database = Database(tmp_path, MIGRATIONS)
    database.open()
    try:
        core = make_core()
        core.attach_database(database)
        alice = register(core, "alice")
        alice.send("JOIN #room", "PRIVMSG #room :indexed soon", "SEARCH text=soon")
        alice.send("PRIVMSG #room :never indexed", "HISTORY FORGET")
        alice.send("SEARCH text=indexed")
        assert "No messages found" in " ".join(str(m) for m in alice.take())
    finally:
        database.close()
    with sqlite3.connect(tmp_path / DB_NAME) as c:
        c.execute("INSERT INTO history_text (history_text) VALUES ('integrity-check')")
    assert found(tmp_path, "indexed") == []


def test_playback_looks_through_a_bounded_run_of_events_for_messages(tmp_path):
    """A quiet room full of joins and quits: each JOIN's playback reads at most
    PLAYBACK_SCAN lines, so a crowd rejoining after a restart costs a bounded read each."""
    database = Database(tmp_path, MIGRATIONS)
    database.open()
    database.close()

    def row(i: int, kind: str, nick: str, text: str | None) -> Row:
        line = f":{nick}!u@h {kind} #room" + (f" :{text}" if text else "")
        return Row("#room", f"m{i}", 1000.0 + i, kind, nick, None, line, None, None, text)

    def playback_after(events: int) -> list[str]:
        with sqlite3.connect(tmp_path / DB_NAME) as c:
            c.execute("DELETE FROM history")
            rows = [row(i, "PRIVMSG", "alice", f"said {i}") for i in range(3)]
            rows += [row(3 + i, "JOIN", f"n{i}", None) for i in range(events)]
            rows.append(row(3 + events, "JOIN", "zoe", None))
            c.executemany(INSERT_ROW, rows)
            return [stored.line.rsplit(":", 1)[-1] for stored in before_join(c, "#room", "zoe", 20)]

    assert playback_after(100) == ["said 0", "said 1", "said 2"]
    assert playback_after(PLAYBACK_SCAN - 3) == ["said 0", "said 1", "said 2"]
    assert playback_after(PLAYBACK_SCAN) == []
