"""The login scenarios of the benchmark: its client logs in with SASL PLAIN as the IRCv3 spec
has a client do it (checked against a scripted server here), and the scenarios run against
tcpchat, or fail saying why when it offers no SASL."""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.config import Settings
from tcpchat.core.capabilities import offered

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from loadgen import LoginFailed, connect_logged_in  # noqa: E402


class ScriptedServer:
    """Just enough of a server's side of CAP and SASL PLAIN, recording what it was sent."""

    def __init__(self, caps: str, password: str, plus: str = "+") -> None:
        self.caps = caps
        self.password = password
        self.plus = plus  # how it asks for the payload: "AUTHENTICATE +" or ":+", the same
        self.received: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pieces: list[str] = []
        nick = "*"
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            self.received.append(line)
            words = line.split(" ")
            if line == "CAP LS 302":
                writer.write(b":srv CAP * LS * :multi-prefix\r\n")
                writer.write(f":srv CAP * LS :{self.caps}\r\n".encode())
            elif words[0] == "NICK":
                nick = words[1]
            elif line == "CAP REQ :sasl":
                writer.write(b":srv CAP * ACK :sasl\r\n")
            elif line == "AUTHENTICATE PLAIN":
                writer.write(f"AUTHENTICATE {self.plus}\r\n".encode())
            elif words[0] == "AUTHENTICATE":
                pieces.append("" if words[1] == "+" else words[1])
                if len(words[1]) == 400:
                    continue  # more to come
                _, account, password = base64.b64decode("".join(pieces)).decode().split("\0")
                pieces = []
                if password == self.password:
                    writer.write(f":srv 900 {nick} {nick}!u@h {account} :Logged in\r\n".encode())
                    writer.write(f":srv 903 {nick} :SASL authentication successful\r\n".encode())
                else:
                    writer.write(f":srv 904 {nick} :SASL authentication failed\r\n".encode())
            elif line == "CAP END":
                writer.write(f":srv 001 {nick} :Welcome\r\n:srv 422 {nick} :No MOTD\r\n".encode())
            await writer.drain()
        writer.close()


async def log_in(
    caps: str, password: str, tried: str, accounts: list[str], plus: str = "+"
) -> list[str]:
    server = ScriptedServer(caps, password, plus)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        clients = await connect_logged_in("127.0.0.1", port, accounts, tried, 2)
        for client in clients:
            assert client.transport is not None
            client.transport.close()
    finally:
        listener.close()
    return server.received


@pytest.mark.parametrize(
    ("password", "plus"),
    # one piece; exactly 400 bytes (then "+"); two pieces; and "+" as a trailing parameter
    [("short", "+"), ("p" * 290, "+"), ("p" * 400, "+"), ("short", ":+")],
)
def test_the_bench_client_logs_in_with_sasl_plain_as_the_spec_says(password, plus):
    caps = "sasl=PLAIN,EXTERNAL server-time"
    received = asyncio.run(log_in(caps, password, password, ["a1"], plus))
    payload = base64.b64encode(f"a1\0a1\0{password}".encode()).decode()
    pieces = [payload[i : i + 400] for i in range(0, len(payload), 400)]
    if len(payload) % 400 == 0:
        pieces.append("+")
    assert received == [
        "CAP LS 302", "NICK a1", "USER a1 0 * :bench", "CAP REQ :sasl", "AUTHENTICATE PLAIN",
        *(f"AUTHENTICATE {piece}" for piece in pieces), "CAP END",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("caps", "password", "why"),
    [
        ("server-time", "pw", "the server does not offer SASL"),
        ("sasl=EXTERNAL", "pw", "the server's SASL has no PLAIN"),
        ("sasl", "other", "logging in as a1 failed: :srv 904 a1 :SASL authentication failed"),
    ],
)
def test_the_bench_client_says_why_it_could_not_log_in(caps, password, why):
    with pytest.raises(LoginFailed, match=re.escape(why)):
        asyncio.run(log_in(caps, "pw", password, ["a1"]))


def test_the_login_scenarios_run_against_tcpchat_or_say_it_offers_no_sasl():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "login", "idle-login", "--quick",
         "--servers", "tcpchat"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    if "sasl" not in offered(Settings()):
        assert result.returncode == 1
        assert "bench.py: login: tcpchat: the server does not offer SASL" in result.stderr
        assert "Traceback" not in result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    runs = re.findall(r"^(\S+)\s+tcpchat\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert sorted(name for name, _ in runs) == ["idle-login", "login"]
    assert "| login | connect+register+SASL PLAIN |" in result.stdout
