"""History on disk: every line anyone received is in the database first, and a write that
fails (another process holding the database) is logged, counted, and said in history
instead of hidden; the chat goes on meanwhile. Real servers, real SQLite files."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from tcpchat.store.database import DB_NAME

from net_harness import LineClient, running_server


def _rows(path: Path, target: str) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as c:
        return c.execute(
            "SELECT kind, line FROM history WHERE target = ? ORDER BY id", (target,)
        ).fetchall()


def _in_a_room(port: int) -> tuple[LineClient, LineClient]:
    """alice and bob in #r, alice having seen bob come."""
    alice = LineClient(port).register("alice").join("#r")
    bob = LineClient(port).register("bob").join("#r")
    alice.expect(r":bob!\S+ JOIN #r")
    return alice, bob


def test_each_line_is_on_disk_before_anyone_receives_it(tmp_path: Path) -> None:
    with running_server(data_dir=str(tmp_path)) as server:
        alice, bob = _in_a_room(server.port)
        for i in range(40):
            bob.send(f"PRIVMSG #r :line {i}", "PRIVMSG alice :psst " + str(i))
            alice.expect(f"PRIVMSG #r :line {i}$")
            alice.expect(f"PRIVMSG alice :psst {i}$")
            # Received: so stored, in the channel's and in the conversation's history.
            with sqlite3.connect(tmp_path / DB_NAME) as c:
                lines = [row[0] for row in c.execute("SELECT line FROM history")]
            assert lines[-2:] == [
                f":bob!bob@127.0.0.1 PRIVMSG #r :line {i}",
                f":bob!bob@127.0.0.1 PRIVMSG alice :psst {i}",
            ]
        alice.close()
        bob.close()
    kinds = [kind for kind, _ in _rows(tmp_path / DB_NAME, "#r")]
    assert kinds[:2] == ["JOIN", "JOIN"] and kinds.count("PRIVMSG") == 40
    assert len(_rows(tmp_path / DB_NAME, "alice bob")) == 40


def test_a_failed_write_is_counted_the_chat_goes_on_and_history_says_what_is_missing(
    tmp_path: Path,
) -> None:
    with running_server(data_dir=str(tmp_path)) as server:
        alice, bob = _in_a_room(server.port)
        bob.send("PRIVMSG #r :one")
        alice.expect("PRIVMSG #r :one$")
        # Another process takes the database: the server's next write waits its busy
        # timeout, then fails.
        other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            bob.send_raw(b"PRIVMSG #r :two\r\nPRIVMSG #r :three\r\n")
            alice.expect("PRIVMSG #r :two$", timeout=20)
            alice.expect("PRIVMSG #r :three$")
            history = server.server.core.history  # type: ignore[union-attr]
            assert server.call(lambda: history.failed) == 2
        finally:
            other.execute("ROLLBACK")
            other.close()
        bob.send("PRIVMSG #r :four")
        alice.expect("PRIVMSG #r :four$")
        bob.send("QUIT :gone")
        alice.expect(":bob!\\S+ QUIT")
    rows = _rows(tmp_path / DB_NAME, "#r")
    said = [(kind, line.rsplit(" :", 1)[-1]) for kind, line in rows if kind != "JOIN"]
    assert said == [
        ("PRIVMSG", "one"),
        ("GAP", "2 lines of history here could not be stored"),
        ("PRIVMSG", "four"),
        ("QUIT", "Quit: gone"),
    ]


def test_lines_sent_just_before_closing_are_carried_out_while_a_read_is_pending(
    tmp_path: Path,
) -> None:
    """A JOIN's playback reads the database; what the client sent after it, before it
    closed, was accepted: it is said, stored, and the client leaves with its own reason."""
    with running_server(data_dir=str(tmp_path)) as server:
        alice = LineClient(server.port).register("alice")
        alice.send("JOIN #r", "PRIVMSG #r :earlier")
        alice.expect(r" 366 ")
        bob = LineClient(server.port).register("bob")
        bob.send_raw(b"JOIN #r\r\nPRIVMSG #r :last words\r\nQUIT :bye\r\n")
        bob.sock.shutdown(socket.SHUT_WR)
        alice.expect(r":bob!\S+ JOIN #r")
        alice.expect("PRIVMSG #r :last words$")
        alice.expect(r":bob!\S+ QUIT :Quit: bye$")
        alice.close()
        bob.close()
    said = [line.rsplit(" :", 1)[-1] for kind, line in _rows(tmp_path / DB_NAME, "#r")]
    assert "last words" in said and "Quit: bye" in said
