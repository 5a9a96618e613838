"""`python client.py` as a person runs it: arguments, a terminal (a pty), pipes, failures."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import socket
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import IO

import pytest

from tcpchat.client.cli import client_main, default_nick, parse_address, server_address
from tcpchat.client.style import nick_colour

from net_harness import TIMEOUT, LineClient, running_server

ROOT = Path(__file__).resolve().parent.parent
CLIENT = str(ROOT / "client.py")
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>78]|\r")


def bob_in_lobby(port: int) -> LineClient:
    """bob, registered and in #lobby, where the client joins by default."""
    bob = LineClient(port).register("bob")
    bob.send("JOIN #lobby")
    bob.expect(r" 366 bob #lobby ")
    return bob


def free_port() -> int:
    """A port nothing listens on: bound, noted, and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("example.org", ("example.org", 6667)),
        ("example.org:7000", ("example.org", 7000)),
        ("127.0.0.1:6668", ("127.0.0.1", 6668)),
        ("[::1]:6669", ("::1", 6669)),
        ("[::1]", ("::1", 6667)),
        ("::1", ("::1", 6667)),
        ("fe80::1:2", ("fe80::1:2", 6667)),
    ],
)
def test_addresses_parse(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text, 6667) == address


@pytest.mark.parametrize("text", ["host:abc", "host:0", "host:70000", "[::1", "[::1]x", ":6667"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text, 6667)


def test_bad_address_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        client_main(["host:notaport"])
    assert exited.value.code == 2
    assert "invalid port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("address", "host", "port", "where"),
    [
        (None, None, None, ("127.0.0.1", 6667)),
        (None, None, 7000, ("127.0.0.1", 7000)),
        (None, "example.org", None, ("example.org", 6667)),
        (None, "example.org", 7000, ("example.org", 7000)),
        (None, "::1", 7000, ("::1", 7000)),
        ("example.org", None, 7000, ("example.org", 7000)),
        ("example.org:7001", None, None, ("example.org", 7001)),
    ],
)
def test_the_server_is_given_as_host_port_or_as_server_py_takes_it(
    address: str | None, host: str | None, port: int | None, where: tuple[str, int]
) -> None:
    assert server_address(address, host, port, 6667) == where


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "70000"], "invalid port '70000'"),
        (["--port", "six"], "invalid port 'six'"),
        (["example.org:7000", "--port", "7001"], "two ports: 7000 and --port 7001; give one"),
        (["example.org", "--host", "example.net"], "two hosts: 'example.org' and --host"),
    ],
)
def test_a_server_given_twice_or_a_bad_port_is_a_usage_error(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        client_main(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_the_client_connects_with_the_port_given_as_server_py_takes_it() -> None:
    """`python client.py --port N`, as someone types it who just ran `server.py --port N`."""
    with running_server() as server:
        bob = bob_in_lobby(server.port)
        done = subprocess.run(
            [sys.executable, CLIENT, "--host", "127.0.0.1", "--port", str(server.port),
             "--nick", "dora"],
            input="over here\n", capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        bob.expect(r"^:dora!\S+ PRIVMSG #lobby :over here$")


def test_default_nick_is_the_login_name_made_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "john.doe")
    assert default_nick() == "john_doe"
    monkeypatch.setenv("LOGNAME", "1st")
    assert default_nick() == "_1st"


def test_help_explains_every_option() -> None:
    out = subprocess.run(
        [sys.executable, CLIENT, "--help"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("HOST[:PORT]", "--nick", "--join", "--tls", "6697", "[::1]:6667", "quit"):
        assert word in out


def test_unreachable_server_is_one_line_and_exit_1() -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, CLIENT, f"127.0.0.1:{port}", "--nick", "carol"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 1
    assert done.stderr == f"Cannot connect to 127.0.0.1:{port}: Connection refused\n"
    assert done.stdout == ""


class PrintedLines:
    """A child's stdout, read line by line by a thread; `expect` waits for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.ended = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read_all, args=(stream,), daemon=True)
        self.reader.start()

    def _read_all(self, stream: IO[str]) -> None:
        for line in stream:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> None:
        def shown() -> bool:
            return any(re.search(pattern, line) for line in self.lines)

        with self.changed:
            if not self.changed.wait_for(lambda: shown() or self.ended, timeout) or not shown():
                raise AssertionError(f"{pattern!r} not printed; printed: {self.lines}")


def test_piped_client_chats_and_leaves_at_the_end_of_input() -> None:
    with running_server() as server:
        bob = bob_in_lobby(server.port)
        client = subprocess.Popen(
            [sys.executable, CLIENT, f"127.0.0.1:{server.port}", "--nick", "carol"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert client.stdin is not None and client.stdout is not None
        printed = PrintedLines(client.stdout)
        printed.expect(r"^You joined #lobby\.$")
        client.stdin.write("Hello, Server!\n")
        client.stdin.flush()
        bob.expect(r"^:carol!\S+ PRIVMSG #lobby :Hello, Server!$")
        bob.send("PRIVMSG #lobby :Hi, carol!")
        printed.expect(r"^bob says: Hi, carol!$")
        client.stdin.close()  # end of input: leave
        bob.expect(r"^:carol!\S+ QUIT :Quit: End of input$")
        assert client.wait(TIMEOUT) == 0
        printed.reader.join(TIMEOUT)
        assert printed.lines[0] == "Connected to the server. Type 'quit' to end the chat."
        assert "You (carol): Hello, Server!" in printed.lines
        assert "\x1b" not in "".join(printed.lines)  # no colour into a pipe
        client.stdout.close()
        assert client.stderr is not None
        client.stderr.close()
        bob.close()


class Terminal:
    """A child process on a pseudo-terminal: what a person at a real terminal sees.

    A thread reads the terminal all along and answers cursor position requests at
    once, as a terminal emulator would, so prompt_toolkit never waits for them.
    """

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        master, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=child, stdout=child, stderr=child, env=env, start_new_session=True
        )
        os.close(child)
        self.master = master
        self.raw = ""
        self.closed = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read_all, daemon=True)
        self.reader.start()

    def _read_all(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child has gone and the terminal closed
                data = b""
            text = data.decode("utf-8", "replace")
            for _ in range(text.count("\x1b[6n")):
                with contextlib.suppress(OSError):  # the child may be gone already
                    self.type("\x1b[1;1R")
            with self.changed:
                self.raw += text
                self.closed = not data
                self.changed.notify_all()
            if not data:
                return

    def text(self) -> str:
        return _ESCAPES.sub("", self.raw)

    def expect(self, shown: str, timeout: float = TIMEOUT) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: shown in self.text() or self.closed, timeout):
                raise AssertionError(f"{shown!r} not on the terminal: {self.text()!r}")
            if shown not in self.text():
                raise AssertionError(f"terminal closed before {shown!r}: {self.text()!r}")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def exit_code(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join(TIMEOUT)
        os.close(self.master)


def terminal_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    return {**env, "TERM": "xterm-256color", **extra}


@pytest.mark.parametrize("no_color", [False, True])
def test_in_a_terminal_nicks_are_coloured_unless_no_color(no_color: bool) -> None:
    with running_server() as server:
        bob = bob_in_lobby(server.port)
        env = terminal_env(**({"NO_COLOR": "1"} if no_color else {}))
        term = Terminal(
            sys.executable, CLIENT, f"127.0.0.1:{server.port}", "--nick", "carol", env=env
        )
        try:
            term.expect("Connected to the server. Type 'quit' to end the chat.")
            term.expect("You (carol):")
            term.type("Hello, Server!\r")
            bob.expect(r"^:carol!\S+ PRIVMSG #lobby :Hello, Server!$")
            bob.send("PRIVMSG #lobby :Hi, carol!")
            term.expect("bob says: Hi, carol!")
            coloured = re.search(rf"\x1b\[[0-9;]*\b{nick_colour('bob')}m", term.raw)
            assert (coloured is None) is no_color
            term.type("quit\r")
            assert term.exit_code() == 0
            bob.expect(r"^:carol!\S+ QUIT ")
            assert "You (carol): Hello, Server!" in term.text()
        finally:
            term.close()
            bob.close()


def test_without_prompt_toolkit_a_terminal_gets_the_line_mode_and_one_line_of_hint() -> None:
    # -S leaves out site-packages, where prompt_toolkit lives.
    term = Terminal(sys.executable, "-S", CLIENT, f"127.0.0.1:{free_port()}", env=terminal_env())
    try:
        term.expect("Cannot connect to 127.0.0.1:")
        assert term.exit_code() == 1
        shown = term.text()
        hint = "Simple line mode (prompt_toolkit is not installed); for the full UI: "
        assert shown.startswith(hint) and shown.count("\n") == 2, shown
        how = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/tcpchat client"
        assert how in shown
        assert "Traceback" not in shown
    finally:
        term.close()


@pytest.mark.parametrize("no_time", [False, True])
def test_on_a_terminal_messages_show_the_time_unless_no_time(no_time: bool) -> None:
    with running_server() as server:
        bob = bob_in_lobby(server.port)
        flags = ["--no-time"] if no_time else []
        term = Terminal(
            sys.executable, CLIENT, f"127.0.0.1:{server.port}", "--nick", "carol", *flags,
            env=terminal_env(NO_COLOR="1"),
        )  # fmt: skip
        try:
            bob.expect(r"^:carol!\S+ JOIN #lobby$")
            bob.send("PRIVMSG #lobby :tick tock")
            term.expect("bob says: tick tock")
            timed = re.search(r"\d\d:\d\d bob says: tick tock", term.text())
            assert (timed is None) is no_time, term.text()
            term.type("quit\r")
            assert term.exit_code() == 0
        finally:
            term.close()
            bob.close()


def test_help_mentions_no_time() -> None:
    out = subprocess.run(
        [sys.executable, CLIENT, "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--no-time" in out and "HH:MM" in out
