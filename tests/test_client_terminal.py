"""The prompt_toolkit UI, headless: keys through a pipe input, the screen into a buffer.

A real `Vt100_Output` writes what a terminal would receive (escape sequences
and all) into a `WatchedScreen`; tests wait on what appears there.
"""

from __future__ import annotations

import asyncio
import io
import re

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from client_harness import blocking, client_options, irc_user, run
from tcpchat.client.style import nick_colour
from tcpchat.client.terminal import chat_in_terminal

from net_harness import TIMEOUT, running_server

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>78]")


class WatchedScreen(io.StringIO):
    """A file the terminal output goes to, telling waiters whenever it grows."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.changed.set()
        return written

    def text(self) -> str:
        """What a person would read: the output without its escape sequences."""
        return _ESCAPES.sub("", self.getvalue())

    async def wait_for(self, shown: str, timeout: float = TIMEOUT) -> None:
        try:
            async with asyncio.timeout(timeout):
                while shown not in self.text():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"{shown!r} not on screen: {self.text()[-2000:]!r}") from None


def terminal(screen: WatchedScreen) -> Vt100_Output:
    return Vt100_Output(screen, lambda: Size(rows=24, columns=80), term="xterm", enable_cpr=False)


def test_typing_chatting_completion_and_quit_in_the_terminal_ui() -> None:
    async def main() -> None:
        with running_server() as server, create_pipe_input() as keys:
            bob = await irc_user(server, "bob", "#lobby")
            screen = WatchedScreen()
            options = client_options(server)
            chat = asyncio.create_task(
                chat_in_terminal(options, colour=True, input=keys, output=terminal(screen))
            )
            await screen.wait_for("Connected to the server. Type 'quit' to end the chat.")
            keys.send_text("Hello, Server!\r")
            await blocking(bob.expect, r"PRIVMSG #lobby :Hello, Server!$")
            await screen.wait_for("You (alice): Hello, Server!")

            bob.send("PRIVMSG #lobby :Hi, alice!")
            await screen.wait_for("bob says: Hi, alice!")
            colour = nick_colour("bob")
            assert re.search(rf"\x1b\[[0-9;]*\b{colour}m(\x1b\[[0-9;]*m)*bob", screen.getvalue())

            keys.send_text("thanks b\t")  # Tab completes bob
            await screen.wait_for("thanks bob")
            keys.send_text("\r")
            await blocking(bob.expect, r"PRIVMSG #lobby :thanks bob ?$")

            keys.send_text("/nick alicia\r")
            await screen.wait_for("You are now known as alicia.")
            keys.send_text("x\r")
            await screen.wait_for("You (alicia): x")  # the prompt follows the nick

            keys.send_text("quit\r")
            assert await asyncio.wait_for(chat, TIMEOUT) == 0
            await blocking(bob.expect, r"^:alicia!\S+ QUIT ")
            bob.close()

    run(main)


def test_no_colour_when_asked() -> None:
    async def main() -> None:
        with running_server() as server, create_pipe_input() as keys:
            bob = await irc_user(server, "bob", "#lobby")
            screen = WatchedScreen()
            chat = asyncio.create_task(
                chat_in_terminal(
                    client_options(server), colour=False, input=keys, output=terminal(screen)
                )
            )
            await screen.wait_for("You joined #lobby.")
            bob.send("PRIVMSG #lobby :plain")
            await screen.wait_for("bob says: plain")
            assert f"{nick_colour('bob')}m" not in screen.getvalue()
            keys.send_text("\x04")  # Ctrl-D on an empty line leaves too
            assert await asyncio.wait_for(chat, TIMEOUT) == 0
            bob.close()

    run(main)


def test_server_ending_the_chat_ends_the_prompt() -> None:
    async def main() -> None:
        with running_server() as server, create_pipe_input() as keys:
            screen = WatchedScreen()
            chat = asyncio.create_task(
                chat_in_terminal(
                    client_options(server), colour=True, input=keys, output=terminal(screen)
                )
            )
            await screen.wait_for("You joined #lobby.")
            keys.send_text("half a li")  # typed, never sent
            await screen.wait_for("half a li")
            await blocking(server.stop, "Server shutting down")
            assert await asyncio.wait_for(chat, TIMEOUT) == 0
            await screen.wait_for("The server ended the chat: ")

    run(main)


def test_a_bracketed_paste_of_three_lines_sends_three_messages_in_order() -> None:
    async def main() -> None:
        with running_server() as server, create_pipe_input() as keys:
            bob = await irc_user(server, "bob", "#lobby")
            screen = WatchedScreen()
            chat = asyncio.create_task(
                chat_in_terminal(
                    client_options(server), colour=False, input=keys, output=terminal(screen)
                )
            )
            await screen.wait_for("You joined #lobby.")
            # What a terminal sends for a pasted block: the text between paste brackets.
            block = "pasted line one\rpasted line two\r\npasted line three"
            keys.send_text(f"\x1b[200~{block}\x1b[201~")
            await screen.wait_for("pasted line three")
            keys.send_text("\r")
            await blocking(bob.expect, r"PRIVMSG #lobby :pasted line three$")
            said = [line.partition(" :")[2] for line in bob.seen if " PRIVMSG #lobby " in line]
            assert said == ["pasted line one", "pasted line two", "pasted line three"]
            for n in ("one", "two", "three"):
                await screen.wait_for(f"You (alice): pasted line {n}\r\n")
            keys.send_text("quit\r")
            assert await asyncio.wait_for(chat, TIMEOUT) == 0
            bob.close()

    run(main)
