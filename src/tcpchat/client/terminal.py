"""The terminal UI: a prompt_toolkit prompt with arriving messages printed above it.

prompt_toolkit redraws the prompt and the half-typed line after each message
printed, so nothing arriving can garble what is being typed. Everything about
IRC and the network is in `ChatClient`; this module only shows and reads lines.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from .connection import ChatClient, ClientOptions, ConnectError, is_leaving
from .roster import Roster, completions
from .style import dim, style_nick

__all__ = ["ChatCompleter", "chat_in_terminal"]


class ChatCompleter(Completer):
    """Tab completes commands, rooms and the nicks of people around."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        word, choices = completions(self.roster, document.text_before_cursor)
        for choice in choices:
            yield Completion(choice, start_position=-len(word), display=choice.rstrip(": "))


def _show(text: str) -> None:
    """Print above the prompt; `text` is already safe, its only escapes are our colours."""
    print_formatted_text(ANSI(text))


async def chat_in_terminal(
    options: ClientOptions,
    *,
    colour: bool = True,
    input: Input | None = None,
    output: Output | None = None,
) -> int:
    """Run the chat on a terminal (or on the given prompt_toolkit input and output)."""
    with create_app_session(input=input, output=output):
        client = ChatClient(
            options,
            display=_show,
            style_nick=style_nick if colour else None,
            style_history=dim if colour else None,
        )
        try:
            await client.connect()
        except ConnectError as exc:
            print(exc, file=sys.stderr, flush=True)
            return 1
        running = asyncio.create_task(client.run())
        typed: asyncio.Queue[str] = asyncio.Queue()
        sending = asyncio.create_task(_send_typed_lines(client, typed))
        typing = asyncio.create_task(_read_typed_lines(client, typed))
        await asyncio.wait({running, typing}, return_when=asyncio.FIRST_COMPLETED)
        broken = typing.exception() if typing.done() else None
        if broken is not None:
            await client.leave()  # the prompt failed: leave the chat cleanly, then say why
        code = await running
        for task in (typing, sending):
            task.cancel()  # the chat is over, even if a line was half typed
        await asyncio.gather(typing, sending, return_exceptions=True)
        if broken is not None:
            raise broken
        return code


async def _read_typed_lines(client: ChatClient, typed: asyncio.Queue[str]) -> None:
    """Prompt for lines until the person leaves (quit, over, /quit, Ctrl-C, Ctrl-D).

    Lines are queued rather than sent here, so the prompt stays up (and keys
    typed meanwhile stay inside it) while a line waits for the connection.
    """
    session: PromptSession[str] = PromptSession(
        history=InMemoryHistory(),
        completer=ChatCompleter(client.roster),
        complete_while_typing=False,
        # The prompt is erased and the line printed as "You (nick): text" instead, so
        # a prompt left half-typed when the chat ends doesn't stay on the screen.
        erase_when_done=True,
    )
    while True:
        try:
            line = await session.prompt_async(lambda: f"You ({client.nick}): ")
        except (KeyboardInterrupt, EOFError):
            line = "/quit"
        typed.put_nowait(line)
        if is_leaving(line):
            return


async def _send_typed_lines(client: ChatClient, typed: asyncio.Queue[str]) -> None:
    """Send queued lines in order, each echoed as "You (nick): text"."""
    while True:
        await client.send_typed(await typed.get(), echo=True)
