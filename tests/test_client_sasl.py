"""The terminal client's login: our SCRAM-SHA-256 client against scramp's server and ours,
the choice of mechanism, and `--sasl` / `/login` against a real server."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from scramp import ScramMechanism

from tcpchat.accounts.scram import ScramClient, ScramError, ScramServer, derive_keys
from tcpchat.plaintext import PlainSession
from tcpchat.protocol import Message, parse
from test_client_cli import CLIENT, PrintedLines, Terminal, terminal_env

from net_harness import TIMEOUT, LineClient, running_server
from sasl_harness import add_account

# -- our SCRAM client, against two servers --------------------------------------------


def test_our_scram_client_logs_in_to_scramps_server_and_checks_its_proof():
    mechanism = ScramMechanism("SCRAM-SHA-256")
    salt, stored, server_key, iterations = mechanism.make_auth_info("sesame", 4096)

    def auth(user: str):
        assert user == "jilles"
        return salt, stored, server_key, iterations

    server = mechanism.make_server(auth)
    client = ScramClient("jilles", "sesame")
    server.set_client_first(client.first().decode())
    final = client.final(server.get_server_first().encode())
    server.set_client_final(final.decode())  # raises if our proof were wrong
    client.verify(server.get_server_final().encode())

    impostor = mechanism.make_server(auth)
    liar = ScramClient("jilles", "sesame")
    impostor.set_client_first(liar.first().decode())
    liar.final(impostor.get_server_first().encode())
    with pytest.raises(ScramError, match="did not prove"):
        liar.verify(b"v=" + base64.b64encode(b"\0" * 32))


def test_our_scram_client_and_server_agree_and_a_wrong_password_fails():
    keys = derive_keys("sesame")
    for password, works in (("sesame", True), ("sesam", False)):
        client, server = ScramClient("alice", password), ScramServer()
        assert server.start(client.first()) == "alice"
        final = client.final(server.challenge(keys))
        if works:
            client.verify(server.finish(final))
        else:
            with pytest.raises(ScramError, match="wrong proof"):
                server.finish(final)


@pytest.mark.parametrize(
    ("server_first", "complaint"),
    [
        (b"r=other,s=c2FsdA==,i=4096", "nonce"),
        (b"e=unknown-user", "refused"),
        (b"r={nonce}x,s=c2FsdA==,i=99999999999", "iterations"),
        (b"r={nonce}x,i=4096", "salt"),
    ],
)
def test_our_scram_client_refuses_a_strange_challenge(server_first, complaint):
    client = ScramClient("alice", "pw", nonce="abc")
    with pytest.raises(ScramError, match=complaint):
        client.final(server_first.replace(b"{nonce}", b"abc"))


# -- the client's session: which mechanism, and what happens when it can't -------------


def outbound(login=("alice", "pw")) -> tuple[PlainSession, list[str]]:
    session = PlainSession()
    return session, session.start("alice", ["#lobby"], login=login)


def feed(session: PlainSession, *lines: str) -> list[Message]:
    sent: list[Message] = []
    for line in lines:
        sent += [parse(reply) for reply in session.from_server(line.encode())]
    return sent


def test_scram_is_preferred_and_plain_used_only_where_the_server_has_no_scram():
    session, _ = outbound()
    [req] = feed(session, ":s CAP * LS :sasl=PLAIN,SCRAM-SHA-256 server-time")
    assert req.params[-1].split() == ["server-time", "sasl"]
    assert [m.params for m in feed(session, ":s CAP * ACK :server-time sasl")] == [
        ["SCRAM-SHA-256"]
    ]

    session, _ = outbound()
    feed(session, ":s CAP * LS :sasl=PLAIN,EXTERNAL")
    assert [m.params for m in feed(session, ":s CAP * ACK :sasl")] == [["PLAIN"]]
    [credentials] = feed(session, "AUTHENTICATE +")
    assert base64.b64decode(credentials.params[0]) == b"\0alice\0pw"

    session, _ = outbound()  # CAP LS without values: try SCRAM, and hear there is none
    feed(session, ":s CAP * LS :sasl")
    assert feed(session, ":s CAP * ACK :sasl")[0].params == ["SCRAM-SHA-256"]
    assert feed(session, ":s 908 alice PLAIN :are available SASL mechanisms") == []
    [retry] = feed(session, ":s 904 alice :SASL authentication failed")
    assert retry.params == ["PLAIN"]
    assert not session.login_failed


def test_without_sasl_on_the_server_the_client_says_so_and_leaves():
    session, _ = outbound()
    [quit_line] = feed(session, ":s CAP * LS :server-time multi-prefix")
    assert quit_line.command == "QUIT" and session.login_failed and session.quitting
    assert "Login as alice failed: this server doesn't offer SASL." in session.take_lines()

    old, _ = outbound()  # a server that knows no CAP at all welcomes us without it
    [quit_line] = feed(old, ":s 421 alice CAP :Unknown command", ":s 001 alice :Welcome")
    assert quit_line.command == "QUIT" and old.login_failed


# -- against a real server -----------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path):
    add_account(tmp_path, "Alice", "correct horse")
    return tmp_path


def run_client(port: int, *args: str, password: str | None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TCPCHAT_PASSWORD", None)
    if password is not None:
        env["TCPCHAT_PASSWORD"] = password
    return subprocess.Popen(
        [sys.executable, CLIENT, f"127.0.0.1:{port}", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip


def test_sasl_logs_the_client_in_with_the_password_from_the_environment(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        client = run_client(server.port, "--nick", "alice", "--sasl", "alice",
                            password="correct horse")  # fmt: skip
        assert client.stdin is not None and client.stdout is not None
        printed = PrintedLines(client.stdout)
        printed.expect(r"^You are now logged in as Alice\.$")
        printed.expect(r"^You joined #lobby\.$")
        bob = LineClient(server.port).register("bob")
        bob.send("WHOIS alice")
        bob.expect(r" 330 bob alice Alice :is logged in as$")
        client.stdin.close()
        assert client.wait(TIMEOUT) == 0
        assert printed.lines.index("You are now logged in as Alice.") < printed.lines.index(
            "You joined #lobby."
        )


def test_a_failed_login_is_explained_and_the_client_exits_1(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        watcher = LineClient(server.port).register("watcher")
        watcher.send("JOIN #lobby")
        watcher.expect(r" 366 ")
        client = run_client(server.port, "--nick", "alice", "--sasl", "alice", password="nope")
        assert client.stdout is not None
        printed = PrintedLines(client.stdout)
        assert client.wait(TIMEOUT) == 1
        printed.reader.join(TIMEOUT)
        assert "Login as alice failed: wrong account name or password." in printed.lines
        assert not any("joined" in line for line in printed.lines)
        watcher.send("PING :end")
        watcher.expect(r"PONG \S+ :?end$")
        assert not any(" JOIN " in line for line in watcher.seen[-3:])

    no_password = subprocess.run(
        [sys.executable, CLIENT, "127.0.0.1:1", "--sasl", "alice"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "TCPCHAT_PASSWORD"},
    )  # fmt: skip
    assert no_password.returncode == 2
    assert "put it in TCPCHAT_PASSWORD" in no_password.stderr


def test_sasl_asks_for_the_password_at_the_terminal_without_echoing_it(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        env = terminal_env()
        env.pop("TCPCHAT_PASSWORD", None)
        terminal = Terminal(sys.executable, CLIENT, f"127.0.0.1:{server.port}", "--nick",
                            "alice", "--sasl", "Alice", env=env)  # fmt: skip
        try:
            terminal.expect("Password for Alice: ")
            terminal.type("correct horse\r")
            terminal.expect("You are now logged in as Alice.")
            assert "correct horse" not in terminal.text()
            terminal.type("quit\r")
            assert terminal.exit_code() == 0
        finally:
            terminal.close()


def test_slash_login_logs_in_after_connecting_and_never_shows_the_password(data_dir):
    with running_server(data_dir=str(data_dir)) as server:
        client = run_client(server.port, "--nick", "carol", password=None)
        assert client.stdin is not None and client.stdout is not None
        printed = PrintedLines(client.stdout)
        printed.expect(r"^You joined #lobby\.$")
        client.stdin.write("/login alice wrong\n")
        client.stdin.flush()
        printed.expect(r"^Login as alice failed: wrong account name or password\.$")
        client.stdin.write("/login alice correct horse\n")  # too soon: the server says wait
        client.stdin.flush()
        printed.expect(r"^Login as alice failed: too many attempts")
        client.stdin.close()
        assert client.wait(TIMEOUT) == 0  # a failed /login only says so
        printed.reader.join(TIMEOUT)
        assert not any("wrong" in line and "You (carol)" in line for line in printed.lines)
        assert not any("correct horse" in line for line in printed.lines)

        client = run_client(server.port, "--nick", "dave", password=None)
        assert client.stdin is not None and client.stdout is not None
        printed = PrintedLines(client.stdout)
        printed.expect(r"^You joined #lobby\.$")
        client.stdin.write("/login Alice correct horse\n")
        client.stdin.flush()
        printed.expect(r"^You are now logged in as Alice\.$")
        bob = LineClient(server.port).register("bob")
        bob.send("WHOIS dave")
        bob.expect(r" 330 bob dave Alice ")
        client.stdin.close()
        assert client.wait(TIMEOUT) == 0
