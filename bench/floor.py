"""The floor: the least an IRC relay in Python can do per message, to compare tcpchat with.

Issue 17 asks private messages at InspIRCd's rate in pure Python. Whether any Python server
could, on this machine and this event loop, is a question of its own: this relay answers it.
It does only what the benchmarks need (NICK and USER, PING, JOIN, PRIVMSG to a nick or a
channel) with nothing a real server must do: no parsing beyond a split, no checks of length,
encoding or flood, no state machine, no events, no history. Each message is forwarded as it
came, behind its sender's prefix, into a buffer per recipient that is written once per turn
of the loop, as tcpchat writes (`ChatServer.flush_all`).

    python bench/floor.py --port 6667        # prints "Listening on 127.0.0.1:PORT"
    python bench/bench.py pairs --servers floor,tcpchat:history=off,inspircd

Run as `floor` it is pure Python on uvloop (as tcpchat runs). Not a chat server: a yardstick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import cast

from servers import ServerProcess, pinned

NAME = b"floor"


class Relay:
    """Who is connected under which nick, the channels' members, and who has output this turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.nicks: dict[bytes, Client] = {}
        self.channels: dict[bytes, list[Client]] = {}
        self.dirty: list[Client] = []

    def pending(self, client: Client) -> None:
        """`client` has output: write it at the end of this turn (one write for the turn's)."""
        if not self.dirty:
            self.loop.call_soon(self.flush)
        self.dirty.append(client)

    def flush(self) -> None:
        dirty, self.dirty = self.dirty, []
        for client in dirty:
            out, client.out = client.out, []
            if client.transport is not None:
                client.transport.write(b"".join(out))


class Client(asyncio.Protocol):
    __slots__ = ("relay", "transport", "nick", "prefix", "buffer", "out", "channels")

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.nick = b""
        self.prefix = b""
        self.buffer = b""
        self.out: list[bytes] = []
        self.channels: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.relay.nicks.get(self.nick) is self:
            del self.relay.nicks[self.nick]
        for name in self.channels:
            self.relay.channels[name].remove(self)

    def send(self, data: bytes) -> None:
        if not self.out:
            self.relay.pending(self)
        self.out.append(data)

    def data_received(self, data: bytes) -> None:
        lines = (self.buffer + data).split(b"\n")
        self.buffer = lines.pop()
        nicks = self.relay.nicks
        for line in lines:
            if line.startswith(b"PRIVMSG "):
                target = line[8 : line.index(b" ", 8)]
                relayed = self.prefix + line + b"\n"
                recipient = nicks.get(target)
                if recipient is not None:
                    recipient.send(relayed)
                else:
                    for member in self.relay.channels.get(target, ()):
                        if member is not self:
                            member.send(relayed)
            else:
                self.command(line.rstrip(b"\r"))

    def command(self, line: bytes) -> None:
        verb, _, rest = line.partition(b" ")
        verb = verb.upper()
        if verb == b"NICK":
            self.nick = rest.lstrip(b":")
            self.relay.nicks[self.nick] = self
            self.prefix = b":" + self.nick + b"!bench@127.0.0.1 "
        elif verb == b"USER":
            me = b":" + NAME + b" "
            self.send(me + b"001 " + self.nick + b" :Welcome\r\n")
            self.send(me + b"376 " + self.nick + b" :End of MOTD\r\n")
        elif verb == b"PING":
            self.send(b":" + NAME + b" PONG " + NAME + b" " + rest + b"\r\n")
        elif verb == b"JOIN":
            members = self.relay.channels.setdefault(rest, [])
            members.append(self)
            self.channels.append(rest)
            joined = self.prefix + b"JOIN " + rest + b"\r\n"
            for member in members:
                member.send(joined)
            self.send(b":" + NAME + b" 366 " + self.nick + b" " + rest + b" :End\r\n")
        elif verb == b"QUIT" and self.transport is not None:
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    relay = Relay(loop)
    server = await loop.create_server(lambda: Client(relay), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()
    print(f"Listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def start_floor() -> ServerProcess:
    """The floor relay, pinned to CPU 0 like every server of a run."""
    command = [sys.executable, str(Path(__file__).resolve()), "--port", "0"]
    proc = subprocess.Popen(pinned(command, 0), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Listening on "):
        proc.kill()
        proc.wait()
        raise SystemExit(f"the floor relay did not start: {line!r}")
    return ServerProcess("floor", "127.0.0.1", int(line.rsplit(":", 1)[1]), proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6667)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.Runner()
    else:
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    with runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
