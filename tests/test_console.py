"""The operator console: the server's terminal chats as `Server` and manages the server."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tcpchat.config import Settings
from tcpchat.console import OperatorConsole, run_console
from tcpchat.edge.reload import Reloader

from net_harness import TIMEOUT, LineClient, running_server
from terminal_harness import Terminal

ROOT = Path(__file__).resolve().parent.parent


class Screen:
    """What the console displayed, with a way to wait for a line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def show(self, line: str) -> None:
        with self.changed:
            self.lines.append(line)
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    if text in line:
                        self.lines.remove(line)
                        return line
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"console never showed {text!r}; it showed {self.lines}"
                self.changed.wait(remaining)


@pytest.fixture
def console_server():
    with running_server() as server:
        screen = Screen()
        console = server.call(lambda: OperatorConsole(server.server, screen.show))
        yield server, console, screen


def type_at(server, console, line: str) -> None:
    server.call(console.handle_typed, line)


def test_tutorial_exchange_between_a_client_and_the_console(console_server):
    server, console, screen = console_server
    alice = LineClient(server.port)
    screen.wait_for("Client connected from: ('127.0.0.1', ")
    screen.wait_for("Type 'quit' to end the chat.")
    alice.register("alice")
    alice.send("JOIN #lobby")
    alice.expect(r" 353 alice = #lobby :@?Server alice")
    screen.wait_for("* alice joined #lobby")

    alice.send("PRIVMSG #lobby :Hello, Server!")
    assert screen.wait_for("alice says: Hello, Server!") == "alice says: Hello, Server!"

    type_at(server, console, "Hi, alice!")
    alice.expect(r"^:Server!\S+ PRIVMSG #lobby :Hi, alice!$")

    alice.send("QUIT :later")
    screen.wait_for("* alice quit (Quit: later)")


def test_console_commands(console_server):
    server, console, screen = console_server
    alice = LineClient(server.port).register("alice")
    alice.send("JOIN #lobby", "JOIN #side")
    alice.expect(r" 366 alice #side ")

    type_at(server, console, "/msg alice just between us")
    alice.expect(r"^:Server!\S+ PRIVMSG alice :just between us$")

    type_at(server, console, "/stats")
    stats = screen.wait_for("Users: ")
    assert stats.startswith("Users: 1, rooms: 2, messages: 1, uptime: 00:00:")

    type_at(server, console, "/who")
    screen.wait_for("alice (alice@127.0.0.1)")

    type_at(server, console, "/list")
    screen.wait_for("#side (1 person)")

    type_at(server, console, "/kick alice behave")
    alice.expect(r"^:Server!\S+ KICK #lobby alice :behave$")

    type_at(server, console, "/help")
    screen.wait_for("/kick nick, /kill nick")

    type_at(server, console, "over")
    assert console.quit_requested.is_set()


def test_console_joins_and_switches_rooms_like_a_person(console_server):
    server, console, screen = console_server
    bob = LineClient(server.port).register("bob")
    bob.send("JOIN #lobby", "JOIN #dev")
    bob.expect(r" 366 bob #dev ")

    type_at(server, console, "/join #dev")
    screen.wait_for("You joined #dev.")
    bob.expect(r"^:Server!\S+ JOIN #dev$")
    type_at(server, console, "said in dev")  # the room just joined is the current one
    bob.expect(r"^:Server!\S+ PRIVMSG #dev :said in dev$")

    bob.send("PRIVMSG #dev :in the current room", "PRIVMSG #lobby :in another room")
    assert screen.wait_for("in the current room") == "bob says: in the current room"
    assert screen.wait_for("in another room") == "[#lobby] bob says: in another room"

    type_at(server, console, "/switch #lobby")
    screen.wait_for("You are now talking in #lobby.")
    type_at(server, console, "back in the lobby")
    bob.expect(r"^:Server!\S+ PRIVMSG #lobby :back in the lobby$")
    bob.send("PRIVMSG #dev :over here")
    assert screen.wait_for("over here") == "[#dev] bob says: over here"

    type_at(server, console, "/kick #dev bob out of dev")  # a #room first, as for people
    bob.expect(r"^:Server!\S+ KICK #dev bob :out of dev$")


def test_console_help_fits_a_small_terminal_and_details_each_command(console_server):
    server, console, screen = console_server
    type_at(server, console, "/help")
    with screen.changed:
        shown, screen.lines[:] = list(screen.lines), []
    assert 3 < len(shown) <= 23, shown  # 24 rows, one for the prompt
    assert all(len(line) <= 80 for line in shown), shown
    text = "\n".join(shown)
    for command in ("/join", "/switch", "/msg", "/kick", "/kill", "/stats", "/mode", "over"):
        assert command in text
    assert "/help COMMAND" in text

    type_at(server, console, "/help switch")
    screen.wait_for("/switch #room")
    type_at(server, console, "/help /kick")
    screen.wait_for("/kick [#room] nick [reason]")
    type_at(server, console, "/help quit")
    screen.wait_for("shut the server down")
    type_at(server, console, "/help frobnicate")
    screen.wait_for("/frobnicate command; /help lists them.")


def test_no_client_can_take_the_console_nick(console_server):
    server, _, _ = console_server
    impostor = LineClient(server.port)
    impostor.send("NICK Server", "NICK server")
    impostor.expect(r" 432 \* Server ")
    impostor.expect(r" 432 \* server ")


def test_prompt_toolkit_console_sends_typed_lines_and_stops_on_quit(console_server):
    server, console, _ = console_server
    alice = LineClient(server.port).register("alice")
    alice.send("JOIN #lobby")
    alice.expect(r" 366 ")
    with create_pipe_input() as pipe:
        future = asyncio.run_coroutine_threadsafe(
            run_console(console, input=pipe, output=DummyOutput()), server.loop
        )
        pipe.send_text("typed at the prompt\r")
        alice.expect(r"^:Server!\S+ PRIVMSG #lobby :typed at the prompt$")
        pipe.send_text("QUIT\r")
        future.result(TIMEOUT)
    assert console.quit_requested.is_set()


def test_a_paste_at_the_console_is_said_line_by_line(console_server):
    """A bracketed paste of three lines: three messages, in order, never glued together;
    a pasted `quit` line does not stop the server."""
    server, console, screen = console_server
    alice = LineClient(server.port).register("alice")
    alice.send("JOIN #lobby")
    alice.expect(r" 366 ")
    with create_pipe_input() as pipe:
        future = asyncio.run_coroutine_threadsafe(
            run_console(console, input=pipe, output=DummyOutput()), server.loop
        )
        block = "pasted line one\rpasted line two\r\nquit\npasted line three"
        pipe.send_text(f"\x1b[200~{block}\x1b[201~\r")
        said = [alice.expect(r"^:Server!\S+ PRIVMSG #lobby :(.*)$").group(1) for _ in range(4)]
        assert said == ["pasted line one", "pasted line two", "quit", "pasted line three"]
        assert not console.quit_requested.is_set()
        pipe.send_text("over\r")
        future.result(TIMEOUT)
    assert console.quit_requested.is_set()


def test_without_a_terminal_the_server_never_reads_stdin():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        proc.stdin.write("over\nquit\n")
        proc.stdin.flush()
        proc.stdin.close()
        client = LineClient(port).register("alice")  # still serving after "over" on stdin
        client.send("PING :still-there")
        client.expect(r"PONG \S+ :still-there")
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0


# ------------------------------------------------ the console in a real terminal

QUIT_KEYS = {
    "ctrl-c": ("", "C-c"),
    "ctrl-c-half-typed": ("half a thought", "C-c"),
    "ctrl-d": ("", "C-d"),
    "over": ("over", "Enter"),
    "sigint": ("half a thought", signal.SIGINT),
    "sigterm": ("half a thought", signal.SIGTERM),
}


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("how", list(QUIT_KEYS))
def test_ctrl_c_and_ctrl_d_at_the_console_shut_down_like_over(event_loop, how):
    """With prompt_toolkit on a real terminal, Ctrl-C (even with text half typed), Ctrl-D
    and SIGINT from elsewhere end the server as `over` does: every client told the same
    reason, exit 0, no traceback. SIGTERM (systemd, docker) is a restart, and says so."""
    server = Terminal(
        [sys.executable, "server.py", "--host", "127.0.0.1", "--port", "0", "--web-port", "0",
         "--event-loop", event_loop],
        cwd=str(ROOT),
        env={"NO_COLOR": "1", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        port = int(server.wait_for(r"Listening on 127\.0\.0\.1:(\d+)").group(1))
        server.wait_for(r"You \(Server\):")
        alice = LineClient(port).register("alice")
        alice.send("JOIN #lobby")
        server.wait_for(r"^\* alice joined #lobby$")
        typed, key = QUIT_KEYS[how]
        server.type(typed, enter=False)
        server.wait_for(rf"You \(Server\): {typed}$" if typed else r"You \(Server\):$")
        if isinstance(key, str):
            server.press(key)
        else:
            os.kill(server.command_pid(), key)
        lines = alice.expect_closed()
        restart = "Server restarting, reconnect in a few seconds"
        reason = restart if how == "sigterm" else "Server shutting down"
        assert lines[-1] == f"ERROR :Closing Link: 127.0.0.1 ({reason})", lines
        assert not any("half a thought" in line for line in lines)
        assert server.wait_exit() == 0
        screen = server.screen()
        assert "Traceback" not in screen and "Task exception" not in screen, screen
        assert "Shutting down..." in screen
    finally:
        server.close()


def test_rehash_at_the_console_reloads_the_config_file(console_server, tmp_path):
    server, console, screen = console_server
    config = tmp_path / "tcpchat.toml"
    config.write_text('motd = "Reloaded from the console"\nserver_name = "renamed"\n')
    running, start = server.server, server.server.settings

    def load() -> Settings:  # the file over what the server started with
        return Settings.from_toml(config, start)

    running.core.rehash = Reloader(running, load, str(config)).reload
    type_at(server, console, "/rehash")
    screen.wait_for(f"Reloaded {config}: motd changed.")
    screen.wait_for('server_name = "renamed" needs a restart (running with server_name = ')
    bob = LineClient(server.port)
    bob.send("NICK bob", "USER bob 0 * :Bob")
    bob.expect(r"^:tcpchat 372 bob :- Reloaded from the console$")
    config.write_text("motd = 5\n")
    type_at(server, console, "/rehash")
    screen.wait_for(f"{config}: motd = 5: must be a string; nothing changed.")
