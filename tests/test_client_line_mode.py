"""`python3 client.py` on a Python with nothing installed, in a real terminal (tmux): the
line mode, with readline from the standard library instead of prompt_toolkit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from net_harness import LineClient, RunningServer, running_server
from terminal_harness import Terminal

ROOT = Path(__file__).resolve().parent.parent
TIME = r"\d\d:\d\d "
HINT = r"^Simple line mode \(prompt_toolkit is not installed\); for the full UI: python3 -m venv "


def bare_client(port: int, *args: str) -> Terminal:
    """client.py on this Python without site-packages (-S), so without prompt_toolkit, and
    isolated (-I) from PYTHONPATH and the like: as on a fresh Debian."""
    command = [sys.executable, "-I", "-S", "client.py", f"127.0.0.1:{port}", *args]
    return Terminal(command, cwd=str(ROOT), env={"NO_COLOR": "1"}, width=100, height=30)


@pytest.fixture
def server_and_bob() -> Iterator[tuple[RunningServer, LineClient]]:
    with running_server() as server:
        bob = LineClient(server.port).register("bob")
        bob.send("JOIN #lobby")
        bob.expect(r" 366 bob #lobby ")
        yield server, bob
        bob.close()


def said_in_lobby(bob: LineClient) -> list[str]:
    return [line.partition(" :")[2] for line in bob.seen if " PRIVMSG #lobby :" in line]


def test_line_mode_chats_both_ways_keeps_the_typed_line_and_sends_a_paste_line_by_line(
    server_and_bob: tuple[RunningServer, LineClient],
) -> None:
    server, bob = server_and_bob
    alice = bare_client(server.port, "--nick", "alice")
    try:
        alice.wait_for(HINT)
        alice.wait_for(r"^Connected to the server\. Type 'quit' to end the chat\.$")
        alice.wait_for(r"^You \(alice\): $")  # the prompt
        bob.expect(r"^:alice!\S+ JOIN #lobby$")

        alice.type("Hello, bob!")
        bob.expect(r"^:alice!\S+ PRIVMSG #lobby :Hello, bob!$")
        alice.wait_for(rf"^{TIME}You \(alice\): Hello, bob!$")
        bob.send("PRIVMSG #lobby :Hi, alice!")
        alice.wait_for(rf"^{TIME}bob says: Hi, alice!$")

        # A message arriving while a line is half typed goes above it; the line stays.
        alice.type("half a", enter=False)
        alice.wait_for(r"^You \(alice\): half a$")
        bob.send("PRIVMSG #lobby :interrupting")
        alice.wait_for(rf"^{TIME}bob says: interrupting\nYou \(alice\): half a$")
        alice.type(" line")
        bob.expect(r"PRIVMSG #lobby :half a line$")

        # A bracketed paste of three lines: three messages, in order, each shown.
        alice.type("\x1b[200~pasted one\npasted two\npasted three\x1b[201~", enter=False)
        alice.wait_for(r"^pasted three$")
        alice.press("Enter")
        bob.expect(r"PRIVMSG #lobby :pasted three$")
        assert said_in_lobby(bob)[-3:] == ["pasted one", "pasted two", "pasted three"]
        assert said_in_lobby(bob)[-4] == "half a line"
        alice.wait_for(
            rf"^{TIME}You \(alice\): pasted one\n{TIME}You \(alice\): pasted two\n"
            rf"{TIME}You \(alice\): pasted three\nYou \(alice\): $"
        )

        alice.type("quit")
        assert alice.wait_exit() == 0
        bob.expect(r"^:alice!\S+ QUIT :Quit: Leaving$")
        assert "Traceback" not in alice.screen()
    finally:
        alice.close()


@pytest.mark.parametrize("key", ["C-c", "C-d"])
def test_ctrl_c_or_ctrl_d_leaves_cleanly(
    server_and_bob: tuple[RunningServer, LineClient], key: str
) -> None:
    server, bob = server_and_bob
    alice = bare_client(server.port, "--nick", "alice", "--no-time")
    try:
        alice.wait_for(r"^You \(alice\): $")
        bob.expect(r"^:alice!\S+ JOIN #lobby$")
        if key == "C-c":
            alice.type("never sent", enter=False)  # Ctrl-C leaves, even mid-line
            alice.wait_for(r"^You \(alice\): never sent$")
        alice.press(key)
        assert alice.wait_exit() == 0
        bob.expect(r"^:alice!\S+ QUIT :Quit: Leaving$")
        screen = alice.screen()
        assert "You (alice): /quit\n[exited with 0]" in screen
        assert "Traceback" not in screen and "never sent" not in screen
    finally:
        alice.close()
