"""Earlier messages in the terminal client: the server's playback shown dimmed with its
times (against our real server), and what the client asks for itself where a server offers
draft/chathistory (against a tiny scripted server, for the request lines only)."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

from prompt_toolkit.input import create_pipe_input

from client_harness import Screen, blocking, client_options, irc_user, run
from tcpchat.client import ChatClient
from tcpchat.client.style import dim
from tcpchat.client.terminal import chat_in_terminal
from tcpchat.plaintext.history import NOT_OFFERED
from test_client_terminal import WatchedScreen, terminal

from net_harness import TIMEOUT, running_server

HH_MM = r"\[\d\d:\d\d\]"


def test_the_client_shows_the_playback_on_join_dimmed_with_its_times() -> None:
    async def main() -> None:
        with running_server() as server:
            bob = await irc_user(server, "bob", "#lobby")
            bob.send("PRIVMSG #lobby :said before you came", "PRIVMSG #lobby :\x01ACTION waves\x01")
            await blocking(bob.send, "PING :sync")
            await blocking(bob.expect, "PONG")
            screen = Screen()
            options = client_options(server, show_time=True)
            client = ChatClient(options, screen.display, style_history=dim)
            task = asyncio.create_task(client.run())
            await screen.expect(r"^\d\d:\d\d You joined #lobby\.$")
            await screen.expect(r"^\x1b\[2mEarlier in #lobby:\x1b\[22m$")
            await screen.expect(rf"^\x1b\[2m{HH_MM} bob says: said before you came\x1b\[22m$")
            await screen.expect(rf"^\x1b\[2m{HH_MM} \* bob waves\x1b\[22m$")
            bob.send("PRIVMSG #lobby :now")
            await screen.expect(r"^\d\d:\d\d bob says: now$")  # live: its time, not dimmed
            await client.send_typed("/history")  # asks CHATHISTORY: the live line too, now
            await screen.expect(r"^\x1b\[2mEarlier in #lobby:\x1b\[22m$")
            await screen.expect(rf"^\x1b\[2m{HH_MM} bob says: said before you came\x1b\[22m$")
            await screen.expect(rf"^\x1b\[2m{HH_MM} \* bob waves\x1b\[22m$")
            await screen.expect(rf"^\x1b\[2m{HH_MM} bob says: now\x1b\[22m$")
            await client.leave()
            assert await asyncio.wait_for(task, TIMEOUT) == 0
            bob.close()

    run(main)


def test_history_on_a_server_that_keeps_none_says_so() -> None:
    async def main() -> None:
        with running_server(history=False) as server:
            screen = Screen()
            client = ChatClient(client_options(server), screen.display, style_history=dim)
            task = asyncio.create_task(client.run())
            await screen.expect(r"You joined #lobby\.$")
            await client.send_typed("/history")
            await screen.expect(re.escape(NOT_OFFERED))
            await client.leave()
            assert await asyncio.wait_for(task, TIMEOUT) == 0

    run(main)


def test_the_terminal_ui_dims_the_playback() -> None:
    async def main() -> None:
        with running_server() as server, create_pipe_input() as keys:
            bob = await irc_user(server, "bob", "#lobby")
            bob.send("PRIVMSG #lobby :from before")
            await blocking(bob.send, "PING :sync")
            await blocking(bob.expect, "PONG")
            screen = WatchedScreen()
            chat = asyncio.create_task(
                chat_in_terminal(
                    client_options(server), colour=True, input=keys, output=terminal(screen)
                )
            )
            await screen.wait_for("bob says: from before")
            raw = screen.getvalue()
            dimmed = r"\x1b\[(?:[0-9]+;)*2(?:;[0-9]+)*m"  # SGR 2: faint
            assert re.search(rf"{dimmed}(?:\x1b\[[0-9;]*m)*Earlier in #lobby:", raw)
            assert re.search(rf"{dimmed}(?:\x1b\[[0-9;]*m)*{HH_MM} ", raw)
            bob.send("PRIVMSG #lobby :live")
            await screen.wait_for("bob says: live")
            live = raw_line(screen.getvalue(), "says: live")
            assert not re.search(dimmed, live)
            keys.send_text("quit\r")
            assert await asyncio.wait_for(chat, TIMEOUT) == 0
            bob.close()

    run(main)


def raw_line(output: str, text: str) -> str:
    """The stretch of terminal output from the line break before `text` up to `text`."""
    end = output.rindex(text)
    start = max(output.rfind("\n", 0, end), 0)
    return output[start:end]


class ScriptedServer:
    """Just enough of an IRC server that offers draft/chathistory: it welcomes, echoes
    JOINs, answers CHATHISTORY with a batch, and keeps every line the client sent."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def expect(self, line: str) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while line not in self.heard:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"{line!r} never sent; heard {self.heard}") from None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(*lines: str) -> None:
            writer.write(b"".join(line.encode() + b"\r\n" for line in lines))

        nick = "alice"
        while raw := await reader.readline():
            line = raw.decode().rstrip("\r\n")
            self.heard.append(line)
            self.changed.set()
            words = line.split(" ")
            if line.startswith("CAP LS"):
                send(":fake CAP * LS :batch server-time draft/chathistory")
            elif line.startswith("CAP REQ"):
                send(f":fake CAP * ACK {line.split(' ', 2)[2]}")
            elif words[0] == "NICK":
                nick = words[1]
            elif line == "CAP END":
                send(f":fake 001 {nick} :Welcome", f":fake 005 {nick} CHATHISTORY=50 :ok")
            elif words[0] == "JOIN":
                send(f":{nick}!u@h JOIN {words[1]}", f":fake 366 {nick} {words[1]} :End")
            elif words[0] == "CHATHISTORY":
                time = "2026-01-02T03:04:05.000Z"
                send(
                    f":fake BATCH +h1 chathistory {words[2]}",
                    f"@batch=h1;time={time} :bob!b@h PRIVMSG {words[2]} :asked for",
                    ":fake BATCH -h1",
                )
            elif words[0] == "QUIT":
                send("ERROR :bye")
                break
        writer.close()


def test_the_client_asks_for_history_itself_where_the_server_offers_it() -> None:
    async def main() -> None:
        fake = ScriptedServer()
        port = await fake.start()
        screen = Screen()
        client = ChatClient(client_options(SimpleNamespace(port=port)), screen.display)  # type: ignore[arg-type]
        task = asyncio.create_task(client.run())
        await fake.expect("CAP REQ :server-time batch draft/chathistory")
        await fake.expect("CHATHISTORY LATEST #lobby * 20")  # on joining
        await screen.expect(r"^Earlier in #lobby:$")
        await screen.expect(r"^\[Jan 2 \d\d:\d\d\] bob says: asked for$|^\[\d\d:\d\d\] bob")
        await client.send_typed("/history 5")
        await fake.expect("CHATHISTORY LATEST #lobby * 5")
        await client.send_typed("/history 400")
        await fake.expect("CHATHISTORY LATEST #lobby * 50")  # no more than it offers
        await client.leave()
        assert await asyncio.wait_for(task, TIMEOUT) == 0
        assert fake.server is not None
        fake.server.close()

    run(main)
