"""The optional compiled core: built by scripts/compile.py with mypyc, run by server.py only
while it matches the source, and a real chat server when it runs."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tcpchat_boot import STAMP, compiled_build, source_hash

from net_harness import LineClient

ROOT = Path(__file__).resolve().parent.parent


def fake_tree(root: Path, stamp: str | None) -> None:
    (root / "src" / "tcpchat").mkdir(parents=True)
    (root / "src" / "tcpchat" / "__init__.py").write_text("VERSION = 1\n")
    if stamp is not None:
        (root / "build" / "compiled" / "tcpchat").mkdir(parents=True)
        (root / "build" / "compiled" / "tcpchat" / STAMP).write_text(stamp + "\n")


def test_a_build_of_this_source_runs_and_a_stale_one_is_passed_over(tmp_path, capsys):
    fresh = tmp_path / "fresh"
    fake_tree(fresh, "")
    (fresh / "build" / "compiled" / "tcpchat" / STAMP).write_text(
        source_hash(fresh / "src" / "tcpchat") + "\n"
    )
    assert compiled_build(fresh) == fresh / "build" / "compiled"

    (fresh / "src" / "tcpchat" / "__init__.py").write_text("VERSION = 2\n")  # edited since
    assert compiled_build(fresh) is None
    assert "older than the source" in capsys.readouterr().err

    none = tmp_path / "none"
    fake_tree(none, None)
    assert compiled_build(none) is None
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compiled")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.timeout(600)  # mypyc takes a minute or two to compile
def test_the_compiled_core_is_built_and_serves_a_chat(compiled, tmp_path):
    assert list((compiled / "tcpchat" / "core").glob("chat.*.so"))
    env = {**os.environ, "PYTHONPATH": str(compiled)}
    version = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--version"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "(compiled core)" in version.stdout
    server = subprocess.Popen(
        [sys.executable, "-m", "tcpchat", "server", "--host", "127.0.0.1", "--port", "0",
         "--web-port", "-1", "--no-console", "--data-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        web = re.search(r"\(web: http\) on \S+:(\d+)$", server.stdout.readline())
        assert web is not None
        web_port = int(web.group(1))
        alice = LineClient(port).register("alice", ("message-tags", "server-time"))
        bob = LineClient(port).register("bob")
        for client in (alice, bob):
            client.send("JOIN #room")
            client.expect(r" 366 ")
        alice.send("PRIVMSG #room :compiled hello", "PRIVMSG bob :psst")
        # Its real address, as interpreted: compiled, an identity check on a tuple once
        # made every client "unknown" (and so throttled as one address).
        bob.expect(r"^:alice!\S+@127\.0\.0\.1 PRIVMSG #room :compiled hello$")
        bob.expect(r"^:alice!\S+ PRIVMSG bob :psst$")
        bob.send("PRIVMSG #room :back")
        assert "msgid=" in alice.expect(r"PRIVMSG #room :back$").string

        # Lines that wait for an operation (each JOIN reads the room's history to play it
        # back), one of which starts another (in one write, so that they all wait): each is
        # carried out, in order. Compiled, the third JOIN was once lost (a TypeError where
        # the second's operation started).
        for room in ("#a", "#b", "#c"):
            alice.send(f"JOIN {room}")
            alice.expect(rf" 366 alice {room} ")
        carol = LineClient(port).register("carol")
        carol.send_raw(b"JOIN #a\r\nJOIN #b\r\nJOIN #c\r\nPRIVMSG #c :all three\r\n")
        for room in ("#a", "#b", "#c"):
            carol.expect(rf" 366 carol {room} ")
        alice.expect(r" :carol!\S+ PRIVMSG #c :all three$")

        # The web port, compiled too: its health check, and a browser's WebSocket in the
        # chat (compiled, the web connection once could not be made at all).
        health = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
        health.request("GET", "/healthz")
        assert health.getresponse().status == 200
        health.close()

        async def browser() -> None:
            url = f"ws://127.0.0.1:{web_port}/"
            async with connect(url, subprotocols=["text.ircv3.net"]) as ws:
                await ws.send("NICK webby")
                await ws.send("USER webby 0 * :Webby")
                await ws.send("JOIN #room")
                while " 366 " not in await asyncio.wait_for(ws.recv(), 10):
                    pass
                bob.send("PRIVMSG #room :to the web")
                while "PRIVMSG #room :to the web" not in await asyncio.wait_for(ws.recv(), 10):
                    pass
                await ws.send("PRIVMSG #room :from the web")

        asyncio.run(browser())
        bob.expect(r"^:webby!\S+ PRIVMSG #room :from the web$")
    finally:
        server.terminate()
        server.wait(10)
