"""The server's log on stderr: `--log-format json` is one JSON object a line that follows a
connection by one id from connect to disconnect; what people say stays out of it unless
`log_messages` is set, and passwords stay out of it always; `text` reads as it always did.
Real server processes, their stderr read line by line as it comes."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import logging
import re
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from cluster_harness import Node, stop_supervisor, wait_until
from tcpchat.logs import JsonFormatter
from tcpchat.passwords import hash_password

from net_harness import LineClient
from sasl_harness import negotiating, plain_login

pytestmark = pytest.mark.timeout(120)

SECRET = "the launch code is 0451-zebra"
QUIT_WORDS = "off to bed, whisper 7731"
PRIVATE = "just between us: 8812-otter"


def start(*args: str) -> Node:
    return Node("--host", "127.0.0.1", "--data-dir", "none", "--log-level", "info", *args)


def entries(node: Node) -> list[dict[str, Any]]:
    """Every line the server wrote to stderr so far, each of which must be a JSON object."""
    with node.lock:
        lines = list(node.err)
    parsed = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


def event(node: Node, name: str, **fields: object) -> dict[str, Any]:
    """The first `name` event with these fields, waited for."""

    def found() -> dict[str, Any] | None:
        for entry in entries(node):
            if entry["event"] == name and all(entry.get(k) == v for k, v in fields.items()):
                return entry
        return None

    return wait_until(found, f"a {name} event with {fields}")  # type: ignore[return-value]


def stderr_text(node: Node) -> str:
    with node.lock:
        return "\n".join(node.err + node.out)


def chat_and_quit(port: int) -> tuple[LineClient, LineClient]:
    """alice and bob in #room; alice says SECRET there and PRIVATE to bob, becomes alicia,
    and quits with QUIT_WORDS."""
    alice = LineClient(port).register("alice").join("#room")
    bob = LineClient(port).register("bob").join("#room")
    alice.send(f"PRIVMSG #room :{SECRET}", f"PRIVMSG bob :{PRIVATE}")
    bob.expect(re.escape(PRIVATE))
    alice.send("NICK alicia")
    bob.expect(r"^:alice!\S+ NICK :?alicia$")
    alice.send(f"QUIT :{QUIT_WORDS}")
    alice.expect_closed()
    bob.expect(r"^:alicia!\S+ QUIT ")
    return alice, bob


def test_json_lines_follow_a_connection_by_one_id_and_keep_what_was_said_out():
    node = start("--log-format", "json")
    try:
        chat_and_quit(node.port)
        gone = event(node, "disconnect", nick="alicia")
        conn = gone["conn"]
        came = event(node, "connect", conn=conn)
        registered = event(node, "register", conn=conn)
        renamed = event(node, "nick", conn=conn)
        bob = event(node, "register", nick="bob")

        assert came["addr"] == registered["addr"] == gone["addr"] == "127.0.0.1"
        assert came["port"] == gone["port"] and came["tls"] is False
        assert registered["nick"] == "alice" and registered["username"] == "alice"
        assert (renamed["old"], renamed["nick"]) == ("alice", "alicia")
        assert gone["reason"] == "Quit"  # that alice quit; not what she said
        assert bob["conn"] != conn
        for entry in entries(node):
            assert {"time", "level", "logger", "event", "message"} <= entry.keys()
            assert entry["time"].endswith("Z") and datetime.fromisoformat(entry["time"])
            assert entry["level"] in ("debug", "info", "warning", "error", "critical")
        assert [e["event"] for e in entries(node) if e.get("conn") == conn] == [
            "connect", "register", "nick", "disconnect"
        ]  # fmt: skip
        said = stderr_text(node)
        for words in (SECRET, PRIVATE, QUIT_WORDS):
            assert words not in said
    finally:
        node.stop()


def test_log_messages_puts_what_people_say_in_the_log(tmp_path: Path):
    config = tmp_path / "tcpchat.toml"
    config.write_text('log_format = "json"\nlog_messages = true\n')
    node = start("--config", str(config))
    try:
        chat_and_quit(node.port)
        registered = event(node, "register", nick="alice")
        conn = registered["conn"]
        in_room = event(node, "message", conn=conn, target="#room")
        private = event(node, "message", conn=conn, target="bob")
        assert in_room["text"] == SECRET and in_room["command"] == "PRIVMSG"
        assert in_room["nick"] == "alice" and in_room["addr"] == "127.0.0.1"
        assert SECRET in in_room["message"]
        assert private["text"] == PRIVATE
        gone = event(node, "disconnect", conn=conn)
        assert gone["reason"] == f"Quit: {QUIT_WORDS}"
    finally:
        node.stop()


def test_the_text_log_is_one_readable_line_per_event():
    node = start()
    try:
        chat_and_quit(node.port)
        pattern = r"Client disconnected: 127\.0\.0\.1:\d+ \(conn (\w+)\): Quit$"
        conn = node.wait_printed(pattern, stream="err").group(1)
        node.wait_printed(rf"tcpchat\.core: alice registered from 127\.0\.0\.1 \(conn {conn}\)$",
                          stream="err")  # fmt: skip
        node.wait_printed(rf"Client connected from: 127\.0\.0\.1:\d+ \(conn {conn}\)$", "err")
        with node.lock:
            lines = list(node.err)
        stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) tcpchat[\w.]*: "
        assert all(re.match(stamp, line) for line in lines), lines
        assert SECRET not in "\n".join(lines)
    finally:
        node.stop()


def test_no_password_is_ever_logged_and_oper_and_kill_are(tmp_path: Path):
    """Even at debug with log_messages on: the server password, an operator's, an account's
    (REGISTER) and a SASL login's stay out of the log."""
    server_password, oper_password, account_password = "srv-9d1f", "op-44c2e", "acct-7b0a9e"
    config = tmp_path / "tcpchat.toml"
    config.write_text(
        f'log_format = "json"\nlog_messages = true\npassword = "{server_password}"\n'
        f'[operators]\nroot = "{hash_password(oper_password)}"\n'
    )
    node = start("--config", str(config), "--log-level", "debug")
    try:
        port = node.port
        wrong = LineClient(port)
        wrong.send("PASS not-it-3e3e", "NICK mallory", "USER m 0 * :M")
        wrong.expect(r" 464 ")
        event(node, "server_password_wrong", nick="mallory")

        alice = LineClient(port)
        alice.send(f"PASS {server_password}")
        alice.register("alice")
        alice.send(f"OPER root {oper_password}")
        alice.expect(r" 381 ")
        alice.send(f"REGISTER alice * {account_password}")
        alice.expect(r"REGISTER SUCCESS alice")

        bob = negotiating(port, "bob")
        bob.send(f"PASS {server_password}")
        plain_login(bob, "alice", account_password)
        bob.expect(r" 903 ")
        bob.send("CAP END")
        bob.expect(r" 001 ")
        bob.send("OPER root wrong-5f5f")
        bob.expect(r" 464 ")
        alice.send("KILL bob :spamming")
        bob.expect_closed()

        conn = event(node, "oper", nick="alice", oper="root")["conn"]
        assert event(node, "account_registered", conn=conn)["account"] == "alice"
        bob_conn = event(node, "login", nick="bob", account="alice")["conn"]
        assert event(node, "oper_failed", conn=bob_conn)["reason"] == "wrong name or password"
        killed = event(node, "kill", conn=bob_conn)
        assert (killed["nick"], killed["by"], killed["by_conn"]) == ("bob", "alice", conn)
        assert event(node, "disconnect", conn=bob_conn)["reason"] == "Killed (alice (spamming))"
        said = stderr_text(node)
        for password in (server_password, oper_password, account_password, "wrong-5f5f",
                         "not-it-3e3e"):  # fmt: skip
            assert password not in said, password
    finally:
        node.stop()


def test_workers_log_json_too(tmp_path: Path):
    """The supervisor and every worker it starts log in the format asked for."""
    node = Node("--host", "127.0.0.1", "--workers", "2", "--data-dir", str(tmp_path / "data"),
                "--log-format", "json", "--log-level", "info")  # fmt: skip
    try:
        LineClient(node.port).register("alice")
        event(node, "register", nick="alice")
        node.proc.send_signal(signal.SIGTERM)
        assert node.proc.wait(30) == 0
        entries(node)  # each line a JSON object
    finally:
        stop_supervisor(node)  # its workers stop with it even if the test failed


def test_a_web_socket_is_followed_like_tcp_and_a_health_check_is_not_a_connection():
    node = start("--log-format", "json", "--web-port", "-1")
    try:
        web = next(m for m in map(re.compile(r"\(web: http\) on \S+:(\d+)$").search,
                                  node.startup) if m)  # fmt: skip
        port = int(web.group(1))
        health = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        health.request("GET", "/healthz")
        assert health.getresponse().status == 200
        health.close()

        async def browser() -> None:
            async with connect(f"ws://127.0.0.1:{port}/", subprotocols=["text.ircv3.net"]) as ws:
                await ws.send("NICK webby")
                await ws.send("USER webby 0 * :Webby")
                while " 376 " not in await asyncio.wait_for(ws.recv(), 10):
                    pass

        asyncio.run(browser())
        gone = event(node, "disconnect", nick="webby")
        assert event(node, "register", nick="webby")["conn"] == gone["conn"]
        came = [entry for entry in entries(node) if entry["event"] == "connect"]
        assert [entry["conn"] for entry in came] == [gone["conn"]]  # not the health check
        assert came[0]["addr"] == "127.0.0.1"
    finally:
        node.stop()


def test_a_json_line_carries_a_traceback_and_fields_json_cannot_hold(tmp_path: Path):
    """The formatter alone, on a real stream: an exception's traceback is a field, and a
    value JSON has no type for is written as text, not lost (or the line with it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tcpchat.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("a broken thing")
        except ValueError:
            logger.error("it failed for %s", "alice", exc_info=True,
                         extra={"event": "failed", "where": tmp_path, "nick": "ünï"})  # fmt: skip
        logger.warning("no event given")
    finally:
        logger.removeHandler(handler)
    failed, plain = map(json.loads, stream.getvalue().splitlines())
    assert (failed["event"], failed["message"], failed["level"]) == (
        "failed", "it failed for alice", "error"
    )
    assert "ValueError: a broken thing" in failed["exception"]
    assert failed["where"] == str(tmp_path) and failed["nick"] == "ünï"
    assert stream.getvalue().isascii()
    assert (plain["event"], plain["logger"]) == ("log", "tcpchat.test_logs")
