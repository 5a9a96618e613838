"""Passwords, operators and room powers over real sockets: IRC clients and people on nc."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tcpchat.passwords import hash_password, verify_password

from net_harness import TIMEOUT, LineClient, running_server, start_server_process

ROOT = Path(__file__).resolve().parent.parent
ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash


def join(client: LineClient, nick: str, room: str = "#lobby") -> LineClient:
    client.register(nick)
    client.send(f"JOIN {room}")
    client.expect(rf" 366 {nick} {room} ")
    return client


def person(port: int, nick: str) -> LineClient:
    """Someone on nc, past the nickname prompt and in #lobby."""
    client = LineClient(port)
    client.expect_text("nickname? ")
    client.send(nick)
    client.expect(r"You joined #lobby")
    client.expect(r"^People in #lobby")
    return client


# ----------------------------------------------------------------- the password


def test_wrong_server_password_is_refused_and_the_right_one_accepted(caplog):
    with running_server(password="sesame") as server:
        with caplog.at_level(logging.WARNING, logger="tcpchat"):
            wrong = LineClient(server.port)
            wrong.send("PASS guess", "NICK mallory", "USER m 0 * :M")
            seen = wrong.expect_closed()
        assert [line.split()[1] for line in seen[:1]] == ["464"]
        assert seen[-1].startswith("ERROR :Closing Link") and "Bad password" in seen[-1]
        assert "wrong server password from 127.0.0.1" in caplog.text

        missing = LineClient(server.port)
        missing.send("NICK mallory", "USER m 0 * :M")
        assert any(" 464 " in line for line in missing.expect_closed())

        right = LineClient(server.port)
        right.send("PASS sesame", "NICK alice", "USER alice 0 * :A")
        right.expect(r" 001 alice ")


def test_pass_is_ignored_when_no_password_is_set():
    with running_server() as server:
        client = LineClient(server.port)
        client.send("PASS whatever", "NICK alice", "USER alice 0 * :A")
        client.expect(r" 001 alice ")


# ------------------------------------------------------------------ operators


def test_oper_kill_and_stats_over_sockets(caplog):
    with running_server(operators={"root": ROOT_HASH}) as server:
        bob = join(LineClient(server.port), "bob")
        carol = join(LineClient(server.port), "carol")
        dave = person(server.port, "dave")
        admin = LineClient(server.port).register("admin")

        admin.send("KILL bob :no")
        admin.expect(r" 481 admin ")
        admin.send("STATS")
        admin.expect(r" 481 admin ")
        with caplog.at_level(logging.WARNING, logger="tcpchat"):
            admin.send("OPER root wrong")
            admin.expect(r" 464 admin :Password incorrect$")
        failed = [r.getMessage() for r in caplog.records if "failed OPER" in r.getMessage()]
        assert failed == ["failed OPER attempt as 'root' by admin from 127.0.0.1"]

        admin.close()
        admin = LineClient(server.port).register("admin")
        admin.send("OPER root hunter2")  # checked on a worker thread, answered on the loop
        admin.expect(r"^:\S+ 381 admin :You are now an IRC operator$")
        admin.expect(r"^:admin!\S+ MODE admin \+o$")

        admin.send("STATS")
        admin.expect(r" 249 admin :Users: 4 ")
        admin.expect(r" 219 admin \* ")

        admin.send("KILL bob :spamming")
        bob_saw = bob.expect_closed()
        assert any(re.match(r"^:admin!\S+ KILL bob :spamming$", line) for line in bob_saw)
        assert bob_saw[-1] == "ERROR :Closing Link: 127.0.0.1 (Killed (admin (spamming)))"
        carol.expect(r"^:bob!\S+ QUIT :Killed \(admin \(spamming\)\)$")
        dave.expect(r"^\* bob quit \(Killed \(admin \(spamming\)\)\)$")
        admin.expect(r"NOTICE admin :bob was killed: spamming$")

        admin.send("KICK #lobby carol :from afar")  # a server operator, not in the room
        carol.expect(r"^:admin!\S+ KICK #lobby carol :from afar$")
        dave.expect(r"^\* carol was kicked from #lobby by admin \(from afar\)$")


def test_person_can_become_operator_and_kill_with_slash_commands():
    with running_server(operators={"root": ROOT_HASH}) as server:
        bob = join(LineClient(server.port), "bob")
        dave = person(server.port, "dave")
        dave.send("/kill bob :rude")
        dave.expect(r"Permission Denied")
        dave.send("/oper root hunter2")
        dave.expect(r"^You are now an IRC operator$")
        dave.send("/stats u")
        dave.expect(r"^Server Up 0 days 0:00:\d\d$")
        dave.send("/kill bob rude")
        assert bob.expect_closed()[-1].endswith("(Killed (dave (rude)))")
        dave.expect(r"^\* bob quit \(Killed \(dave \(rude\)\)\)$")


def test_hash_password_command_reads_stdin_when_not_a_terminal():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "tcpchat", "hash-password", "--name", "root"],
        input="correct horse\n", capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    name, _, quoted = done.stdout.strip().partition(" = ")
    hashed = quoted.strip('"')
    assert name == "root" and hashed.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct horse ", hashed)
    empty = subprocess.run(
        [sys.executable, "-m", "tcpchat", "hash-password"],
        input="\n", capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert empty.returncode == 1 and "empty" in empty.stderr


def test_config_file_operators_and_password(tmp_path):
    config = tmp_path / "tcpchat.toml"
    config.write_text(f'password = "sesame"\n\n[operators]\nroot = "{ROOT_HASH}"\n')
    proc, port = start_server_process("--host", "127.0.0.1", "--config", str(config))
    try:
        client = LineClient(port)
        client.send("PASS sesame", "NICK alice", "USER alice 0 * :A")
        client.expect(r" 001 alice ")
        client.send("OPER root hunter2")
        client.expect(r" 381 alice ")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0


def test_bad_operator_hash_in_config_is_a_clear_error(tmp_path):
    config = tmp_path / "tcpchat.toml"
    config.write_text('[operators]\nroot = "hunter2"\n')
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--config", str(config), "--no-console"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert "operator 'root'" in done.stderr and "hash-password" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------- room powers for people


def test_person_uses_operator_slash_commands_on_irc_users():
    with running_server() as server:
        dave = person(server.port, "dave")  # first in #lobby: its operator
        bob = join(LineClient(server.port), "bob")
        carol = join(LineClient(server.port), "carol")

        dave.send("/op bob")
        bob.expect(r"^:dave!\S+ MODE #lobby \+o bob$")
        dave.send("/voice carol")
        carol.expect(r"^:dave!\S+ MODE #lobby \+v carol$")
        dave.send("/key sesame")
        bob.expect(r"^:dave!\S+ MODE #lobby \+k sesame$")
        dave.send("/key")
        bob.expect(r"^:dave!\S+ MODE #lobby -k \*$")
        dave.send("/mode +m")
        bob.expect(r"^:dave!\S+ MODE #lobby \+m$")
        dave.send("/ban erin")
        bob.expect(r"^:dave!\S+ MODE #lobby \+b erin!\*@\*$")
        dave.send("/ban")
        dave.expect(r"^Banned in #lobby: erin!\*@\* \(by dave\)$")
        erin = LineClient(server.port).register("erin")
        erin.send("JOIN #lobby")
        erin.expect(r" 474 erin #lobby ")
        dave.send("/invite erin")
        dave.expect(r"^You invited erin to #lobby\.$")
        erin.expect(r"^:dave!\S+ INVITE erin #lobby$")
        erin.send("JOIN #lobby")  # the invitation beats the ban
        erin.expect(r" 366 erin #lobby ")

        dave.send("/kick carol enough")
        carol.expect(r"^:dave!\S+ KICK #lobby carol :enough$")
        bob.expect(r"^:dave!\S+ KICK #lobby carol :enough$")
        dave.expect(r"^\* carol was kicked from #lobby by dave \(enough\)$")


def test_person_without_operator_status_is_told_no():
    with running_server() as server:
        bob = join(LineClient(server.port), "bob")  # first in #lobby: its operator
        dave = person(server.port, "dave")
        for typed in ("/kick bob", "/op dave", "/ban bob", "/key secret", "/topic mine"):
            dave.send(typed)
            dave.expect(r"^You're not channel operator: #lobby$")
        bob.send("MODE #lobby +m")
        dave.expect(r"^\* bob sets mode \+m on #lobby$")
        dave.send("can anyone hear me?")
        dave.expect(r"^Cannot send to channel: #lobby$")
        bob.send("PRIVMSG #lobby :bob only")
        dave.expect(r"^bob says: bob only$")
