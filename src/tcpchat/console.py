"""The operator console: the server's terminal takes part in the chat as `Server`.

This keeps the tutorial's experience, where whoever runs `python server.py`
chats with whoever runs `python client.py`, on top of the multi-user server.
`OperatorConsole` is the logic (typed lines in, display lines out) and is a
participant of the core like any other, rendered through `PlainSession`.
`run_console` puts a prompt_toolkit prompt in front of it, or a plain stdin
reader when prompt_toolkit is not installed.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .core import Session
from .edge.server import ChatServer
from .plaintext import PlainSession, help_text, typed_lines

if TYPE_CHECKING:  # prompt_toolkit is optional: the console falls back to plain lines
    from prompt_toolkit.input import Input
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.output import Output

CONSOLE_NICK = "Server"
QUIT_WORDS = ("quit", "over")

CONSOLE_HELP = """\
Lines you type are said in the current room (#lobby at first). Commands:
  rooms:     /join #room, /part [#room], /switch #room, /names, /topic, /list
  people:    /msg nick text, /me action, /who [#room|nick], /whois nick
  operator:  /kick nick, /kill nick, /ban, /unban, /op, /deop, /voice,
             /devoice, /invite, /key, /mode (in any room), /stats, /rehash
  accounts:  /account info|create|drop|suspend|unsuspend|pending|approve
  stopping:  quit or over (or Ctrl-C) shuts the server down, telling all why
Messages in your other rooms show as: [#room] nick says: ...
/help COMMAND tells more, e.g. /help switch."""

# /help COMMAND for what the console does its own way; every other command is a person's,
# and `help_text` (the plain-text mode's) tells about it. The console is a server operator,
# so the room operators' commands work in any room, from inside it or not.
CONSOLE_COMMAND_HELP = {
    "quit": (
        "quit or over",
        "Either word, typed alone, will shut the server down, telling everyone why. Ctrl-C, "
        "and Ctrl-D on an empty line, do the same; a pasted quit or over is said, not obeyed.",
    ),
    "stats": ("/stats", "Users, rooms, messages relayed, uptime."),
    "rehash": (
        "/rehash",
        "Read the config file again (as SIGHUP does) and say what changed. New connections "
        "get the new settings; where the server listens, its data and its name need a restart. "
        "A file with an error changes nothing.",
    ),
}


def command_help(name: str) -> str:
    """`/help NAME`: the usage and what the command does, or where to look."""
    key = name.strip().lstrip("/").lower()
    entry = CONSOLE_COMMAND_HELP.get("quit" if key == "over" else key)
    if entry is None:
        return help_text(key)
    usage, what = entry
    return f"{usage}\n" + textwrap.fill(what, 78, initial_indent="  ", subsequent_indent="  ")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d"] if days else []
    return " ".join([*parts, f"{hours:02d}:{minutes:02d}:{secs:02d}"])


class OperatorConsole:
    """The console's side of the chat; `display` receives each line to show."""

    def __init__(self, server: ChatServer, display: Callable[[str], None]) -> None:
        settings = server.settings
        self.server = server
        self.core = server.core
        self.display: Callable[[str], None] = lambda line: None  # quiet while joining
        self.started = time.monotonic()
        self.greeted = False
        self.quit_requested = asyncio.Event()
        self.session = PlainSession(settings.default_channel, settings.server_name)
        self.chat: Session = self.core.connect_operator(ConsoleSink(self), CONSOLE_NICK)
        server.on_connect = self._on_connect
        # Learn our nick as any participant would, then join the default room.
        welcome = f":{settings.server_name} 001 {CONSOLE_NICK} :Welcome\r\n".encode()
        self.feed(self.session.from_server(welcome))
        self.session.take_text()
        self.display = display

    def handle_typed(self, text: str) -> None:
        """What was typed at the console: one line, or a pasted block of several, each
        handled as if typed alone. In a paste, `quit` and `over` are words said, not the
        end of the server: a pasted log should never shut it down."""
        lines = typed_lines(text)
        pasted = len(lines) > 1
        for line in lines:
            if self.quit_requested.is_set():
                break
            if pasted and line.strip().lower() in QUIT_WORDS:
                room = self.session.current_channel
                if room is not None:
                    self.feed([f"PRIVMSG {room} :{line}"])
            else:
                self._handle_line(line)
        self.show_pending()

    def _handle_line(self, line: str) -> None:
        stripped = line.strip()
        if stripped.lower() in QUIT_WORDS:
            self.quit_requested.set()
            return
        command, _, args = stripped.partition(" ")
        command = command.lower()
        if command == "/stats":
            self._stats()
        elif command == "/rehash" and self.core.rehash is not None:
            self._show("\n".join(self.core.rehash().lines))
        elif command == "/help":
            self._show(command_help(args) if args.strip() else CONSOLE_HELP)
        elif command == "/quit":
            self.quit_requested.set()
        else:
            self.feed(self.session.from_person(line))

    def feed(self, lines: list[str]) -> None:
        """IRC lines from our session to the core, as if typed by a client."""
        for line in lines:
            self.core.receive(self.chat, line.encode())

    def show_pending(self) -> None:
        self._show(self.session.take_text().decode())

    def _show(self, text: str) -> None:
        for line in text.splitlines():
            self.display(line)

    def _on_connect(self, peer: tuple[str, int]) -> None:
        self.display(f"Client connected from: {peer}")
        if not self.greeted:
            self.greeted = True
            self.display("Type 'quit' to end the chat.")

    def _stats(self) -> None:
        core = self.core
        state = core.state
        users = state.users - 1  # not counting the console itself
        uptime = _duration(time.monotonic() - self.started)
        network = ""
        if core.replication is not None:  # a cluster: this node's share, and the network's
            here = users - state.remote_users
            network = f" ({here} on this node, {core.nodes} nodes)"
        self.display(
            f"Users: {users}{network}, rooms: {state.channel_count}, "
            f"messages: {core.messages_relayed}, uptime: {uptime}"
        )


class ConsoleSink:
    """The core's sink for the console: IRC in, text on the display."""

    def __init__(self, console: OperatorConsole) -> None:
        self.console = console

    def write(self, data: bytes) -> None:
        console = self.console
        replies = console.session.from_server(data)
        console.show_pending()
        if replies:  # answered later: the core is in the middle of a command
            console.server.loop.call_soon(console.feed, replies)

    def close(self) -> None:
        """The server is shutting down; the console has nothing to hang up."""


class StopConsole(Exception):
    """Ctrl-C or Ctrl-D at the prompt: shut the server down, as `over` does.

    An ordinary exception on purpose: prompt_toolkit's default KeyboardInterrupt is a
    BaseException, which asyncio lets escape the event loop as a crash."""


def _stop_keys() -> KeyBindings:
    """Ctrl-C (even with a line half typed) and Ctrl-D on an empty line end the server."""
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        event.app.exit(exception=StopConsole())

    @bindings.add("c-d", filter=Condition(lambda: not _current_text()))
    def _end_of_input(event: KeyPressEvent) -> None:
        event.app.exit(exception=StopConsole())

    return bindings


def _current_text() -> str:
    from prompt_toolkit.application import get_app

    return get_app().current_buffer.text


async def run_console(
    console: OperatorConsole,
    input: Input | None = None,  # noqa: A002  (prompt_toolkit's own name for it)
    output: Output | None = None,
) -> None:
    """Read typed lines until quit/over, Ctrl-C or Ctrl-D, with prompt_toolkit if present.

    The prompt leaves SIGINT to the server's own handler (a Ctrl-C between two prompts, or
    `kill -INT`, is a graceful shutdown too) and leaves the loop's exception handler alone
    (prompt_toolkit's would wait for Enter in the middle of serving)."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout
    except ImportError:
        await _run_basic(console)
        return
    session: PromptSession[str] = PromptSession(
        input=input, output=output, key_bindings=_stop_keys()
    )
    with patch_stdout(raw=True):
        while not console.quit_requested.is_set():
            prompt = asyncio.ensure_future(
                session.prompt_async(
                    f"You ({CONSOLE_NICK}): ", handle_sigint=False, set_exception_handler=False
                )
            )
            quit_wait = asyncio.ensure_future(console.quit_requested.wait())
            done, _ = await asyncio.wait({prompt, quit_wait}, return_when=asyncio.FIRST_COMPLETED)
            quit_wait.cancel()
            if prompt not in done:
                prompt.cancel()
                break
            try:
                line = prompt.result()
            except (StopConsole, EOFError):
                console.quit_requested.set()
                break
            console.handle_typed(line)


async def _run_basic(console: OperatorConsole) -> None:
    """Without prompt_toolkit: plain lines from stdin (arriving text may split the typing)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while not console.quit_requested.is_set():
        line = await reader.readline()
        if not line:
            console.quit_requested.set()
            break
        console.handle_typed(line.decode(errors="replace"))
