"""The client on a terminal without prompt_toolkit: a readline prompt, messages above it.

So `python3 client.py` works on a bare Python (Debian's refuses `pip install`).
The standard library's `readline` edits the line (arrows, history, Ctrl-W) and
Tab completes nicks, rooms and commands. It has no event loop, so `input()` runs
in a thread; a message arriving meanwhile is printed above the prompt, and the
prompt and the half-typed line are drawn again below it. A line sent is erased
and shown as "You (nick): text", as in the full UI, so a pasted block shows as
the messages it became.

Python without `readline` still works: the prompt is plain `input()`, and an
arriving message may then split the line being typed on the screen (not in what
is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import unicodedata
from collections.abc import Callable
from types import ModuleType
from typing import TextIO

from .connection import ChatClient, ClientOptions, ConnectError, is_leaving
from .piped import relay_typed_lines
from .roster import completions
from .style import dim, style_nick

__all__ = ["chat_in_lines"]

_readline: ModuleType | None
_termios: ModuleType | None
try:
    import readline as _readline
except ImportError:  # some builds lack it; plain input() then
    _readline = None
try:
    import termios as _termios
except ImportError:  # not a POSIX terminal
    _termios = None

_BRACKETED_PASTE_OFF = "\x1b[?2004l"


def columns(text: str) -> int:
    """How many terminal columns `text` takes: wide characters two, combining ones none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def rows(text: str, width: int) -> int:
    """How many terminal rows `text` takes, its own line breaks included."""
    return sum(max(1, -(-columns(line) // width)) for line in text.split("\n"))


class LinePrompt:
    """`input()` in a thread, and messages printed above whatever it shows."""

    def __init__(self, prompt: Callable[[], str], out: TextIO = sys.stdout) -> None:
        self._prompt_for = prompt
        self._out = out
        self._lock = threading.Lock()  # one writer at a time; held while the prompt is drawn
        self._prompt = ""
        self._reading = False  # the prompt is on the screen and a line being typed

    def show(self, text: str) -> None:
        """Print `text` above the prompt (from the event loop's thread)."""
        with self._lock:
            if not self._reading:
                self._write(text + "\r\n")
                return
            typed = _readline.get_line_buffer() if _readline else ""
            self._write(
                self._back_to_prompt(self._prompt + typed) + text + "\r\n" + self._prompt + typed
            )

    def read(self, put: Callable[[str], None]) -> None:
        """Read lines until one leaves, handing each to `put`; Ctrl-D is typed as /quit.

        Runs in its own thread; `put` must be thread-safe.
        """
        while True:
            line = self._read_one()
            put("/quit" if line is None else line)
            if line is None or is_leaving(line):
                return

    def erase(self) -> None:
        """Take the prompt (and a half-typed line) off the screen: the chat is over."""
        with self._lock:
            if self._reading:
                typed = _readline.get_line_buffer() if _readline else ""
                self._write(self._back_to_prompt(self._prompt + typed))
                self._reading = False

    def _read_one(self) -> str | None:
        # The lock is held until readline has drawn the prompt (its pre-input hook), so
        # a message never lands in the middle of the prompt being drawn.
        self._lock.acquire()
        held = True

        def prompt_drawn() -> None:
            nonlocal held
            if held:
                self._reading, held = True, False
                self._lock.release()

        self._prompt = self._prompt_for()
        if _readline is not None and hasattr(_readline, "set_pre_input_hook"):
            _readline.set_pre_input_hook(prompt_drawn)
        else:
            prompt_drawn()
        try:
            line: str | None = input(self._prompt)
        except EOFError:
            line = None
        finally:
            prompt_drawn()
        with self._lock:
            self._reading = False
            if line is None:  # Ctrl-D: the cursor is still after the prompt
                self._write(self._back_to_prompt(self._prompt))
            elif _readline is not None:
                # The cursor is below what was typed: erase it; the client shows it again.
                self._write(f"\x1b[{rows(self._prompt + line, self._width())}A\r\x1b[J")
        return line

    def _back_to_prompt(self, shown: str) -> str:
        """Escapes that move to the prompt's first row and clear from there down."""
        up = rows(shown, self._width()) - 1
        return (f"\x1b[{up}A" if up > 0 else "") + "\r\x1b[J"

    def _width(self) -> int:
        try:
            return max(os.get_terminal_size(self._out.fileno()).columns, 1)
        except (OSError, ValueError):
            return 80

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def _complete_with(client: ChatClient, readline: ModuleType) -> None:
    """Tab completes commands, rooms and nicks, as in the full UI."""
    found: list[str] = []

    def complete(_text: str, state: int) -> str | None:
        if state == 0:
            before = readline.get_line_buffer()[: readline.get_endidx()]
            try:
                _, choices = completions(client.roster, before)
            except RuntimeError:  # the roster changed under us (it lives on the loop)
                choices = []
            found[:] = choices  # with their spaces: Python's readline adds none
        return found[state] if state < len(found) else None

    readline.set_completer_delims(" ")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")


async def chat_in_lines(options: ClientOptions, *, colour: bool = True) -> int:
    """Chat on this terminal with a plain line prompt. Ctrl-C or Ctrl-D leaves."""
    prompt = LinePrompt(lambda: f"You ({client.nick}): ")  # `client` is set by then
    client = ChatClient(
        options,
        display=prompt.show,
        style_nick=style_nick if colour else None,
        style_history=dim if colour else None,
    )
    try:
        await client.connect()
    except ConnectError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    if _readline is not None:
        _complete_with(client, _readline)
    loop = asyncio.get_running_loop()
    typed: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the chat is over
            loop.call_soon_threadsafe(typed.put_nowait, line)

    interrupted = 0

    def on_interrupt() -> None:
        """Ctrl-C leaves as /quit does; a second one doesn't wait for the server."""
        nonlocal interrupted
        interrupted += 1
        if interrupted > 1:
            raise KeyboardInterrupt
        typed.put_nowait("/quit")

    terminal = _terminal_settings()
    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    threading.Thread(target=prompt.read, args=(put,), name="prompt", daemon=True).start()
    try:
        return await relay_typed_lines(client, typed, "Leaving")
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        prompt.erase()
        _restore_terminal(terminal)


def _terminal_settings() -> list | None:
    """The terminal's settings now, to put back if we leave while readline has it raw."""
    if _termios is None:
        return None
    try:
        return _termios.tcgetattr(sys.stdin.fileno())
    except (OSError, ValueError, _termios.error):
        return None


def _restore_terminal(settings: list | None) -> None:
    if settings is None or _termios is None:
        return
    with contextlib.suppress(OSError, ValueError, _termios.error):
        _termios.tcsetattr(sys.stdin.fileno(), _termios.TCSADRAIN, settings)
        sys.stdout.write(_BRACKETED_PASTE_OFF)
        sys.stdout.flush()
