"""Drive the terminal client headlessly: its display lines, waited on with timeouts."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tcpchat.client import ChatClient, ClientOptions

from net_harness import TIMEOUT, LineClient, RunningServer

T = TypeVar("T")


class Screen:
    """What the client displayed, line by line; `expect` waits for a line to show up."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._read = 0  # lines before this index have been matched past
        self._changed = asyncio.Event()

    def display(self, text: str) -> None:
        self.lines.append(text)
        self._changed.set()

    async def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for a line (after the last one matched) where `pattern` is found."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index in range(self._read, len(self.lines)):
                        match = re.search(pattern, self.lines[index])
                        if match:
                            self._read = index + 1
                            return match
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{pattern!r} not shown; shown: {self.lines}") from None

    def after_last_match(self) -> list[str]:
        return self.lines[self._read :]


def client_options(server: RunningServer, **overrides: object) -> ClientOptions:
    """Options for the running server, with timings short enough for tests."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "nick": "alice",
        "quit_timeout": 2.0,
        "backoff_first": 0.05,
        "backoff_max": 0.2,
        "connect_timeout": 5.0,
        "ready_timeout": 5.0,
    }
    values.update(overrides)
    return ClientOptions(**values)  # type: ignore[arg-type]


class RunningClient:
    """A ChatClient running as a task, with its Screen."""

    def __init__(self, options: ClientOptions) -> None:
        self.screen = Screen()
        self.client = ChatClient(options, self.screen.display)
        self.task: asyncio.Task[int] | None = None

    async def start(self, room: str | None = "#lobby") -> RunningClient:
        """Connect, and wait for the welcome (and for `room`, if given)."""
        self.task = asyncio.create_task(self.client.run())
        await self.shown(r"^Connected to the server\. Type 'quit' to end the chat\.$")
        if room:
            await self.shown(rf"^You joined {re.escape(room)}\.$")
        return self

    async def shown(self, pattern: str) -> re.Match[str]:
        """`screen.expect`, failing at once, with the client's own error, should the client
        stop first (else a client that died quietly would look like a silent server)."""
        assert self.task is not None
        expected = asyncio.ensure_future(self.screen.expect(pattern))
        await asyncio.wait({expected, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if expected.done():
            return expected.result()
        expected.cancel()
        task = self.task
        if task.cancelled():
            outcome = "cancelled"
        elif task.exception() is not None:
            outcome = repr(task.exception())
        else:
            outcome = f"exit code {task.result()}"
        raise AssertionError(
            f"the client stopped ({outcome}) before showing {pattern!r}; shown: {self.screen.lines}"
        )

    async def say(self, line: str) -> None:
        await self.client.send_typed(line)

    async def exit_code(self, timeout: float = TIMEOUT) -> int:
        assert self.task is not None
        return await asyncio.wait_for(self.task, timeout)


async def blocking(func: Callable[..., T], *args: object) -> T:
    """Run a blocking LineClient call off the event loop, so the client keeps running."""
    return await asyncio.to_thread(func, *args)


async def irc_user(server: RunningServer, nick: str, *rooms: str) -> LineClient:
    """A raw IRC client (registered, in `rooms`) for the other side of the chat."""

    def connect() -> LineClient:
        user = LineClient(server.port).register(nick)
        for room in rooms:
            user.send(f"JOIN {room}")
            user.expect(rf" 366 {nick} {re.escape(room)} ")
        return user

    return await blocking(connect)


def run(main: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    """asyncio.run with an overall bound, so a stuck test fails rather than hangs."""

    async def bounded() -> T:
        return await asyncio.wait_for(main(), timeout)

    return asyncio.run(bounded())
