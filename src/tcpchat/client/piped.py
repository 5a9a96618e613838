"""The client without a terminal: lines from stdin, sentences to stdout.

For scripts and pipes (`printf 'hi\\nquit\\n' | tcpchat client`): no prompt, no
colour, and the end of input leaves the chat.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from .connection import ChatClient, ClientOptions, ConnectError, is_leaving

__all__ = ["chat_over_pipes", "relay_typed_lines"]


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's lines, read from its file descriptor when it has one.

    Not through the stream's buffer: a thread blocked reading it would hold the
    buffer's lock, and Python aborts at exit when it can't take that lock.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield from stream
        return
    pending = b""
    while chunk := os.read(fd, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines
    if pending:
        yield pending


def _read_in_background(stream: BinaryIO, queue: asyncio.Queue[str | None]) -> None:
    """Feed stdin's lines to `queue` from a daemon thread (None at the end).

    A thread, because stdin may be a file, which asyncio cannot watch; a daemon
    thread, so a read still blocked at exit doesn't hold the process.
    """
    loop = asyncio.get_running_loop()

    def read() -> None:
        try:
            for raw in _lines(stream):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except (RuntimeError, ValueError, OSError):
            pass  # the loop or the stream is closed: the chat is over anyway

    threading.Thread(target=read, name="stdin", daemon=True).start()


async def chat_over_pipes(
    options: ClientOptions, stdin: BinaryIO | None = None, stdout: TextIO | None = None
) -> int:
    """Chat with lines from `stdin` (default: the process's) until it ends or we leave."""
    out = stdout or sys.stdout

    def show(text: str) -> None:
        print(text, file=out, flush=True)

    client = ChatClient(options, display=show)
    try:
        await client.connect()
    except ConnectError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    typed: asyncio.Queue[str | None] = asyncio.Queue()
    _read_in_background(stdin or sys.stdin.buffer, typed)
    return await relay_typed_lines(client, typed, "End of input")


async def relay_typed_lines(
    client: ChatClient, typed: asyncio.Queue[str | None], end_reason: str
) -> int:
    """Run the connected `client`, sending each queued line (echoed), until it ends.

    None in the queue means the end of input: leave with `end_reason`.
    """
    running = asyncio.create_task(client.run())
    while not running.done():
        getting = asyncio.ensure_future(typed.get())
        await asyncio.wait({running, getting}, return_when=asyncio.FIRST_COMPLETED)
        if not getting.done():
            getting.cancel()
            break
        line = getting.result()
        if line is None:
            await client.leave(end_reason)
            break
        await client.send_typed(line, echo=True)
        if is_leaving(line):
            break
    return await running
