"""Reloading a running server's config file: SIGHUP (as `systemctl reload` sends), REHASH from
an operator. A real server process, a real config file rewritten between reloads, real
clients; the test knows a reload is done from the notify socket (RELOADING=1, then READY=1),
as systemd does."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpchat.edge.tls import make_self_signed
from tcpchat.passwords import hash_password

from net_harness import ROOT, LineClient

pytestmark = pytest.mark.timeout(90)

OPERATOR = f'[operators]\nroot = "{hash_password("hunter2", n=16)}"\n'


class Served:
    """A server process run with `--config`, its notify socket, and its log (a file)."""

    def __init__(self, folder: Path, config: str, *args: str) -> None:
        self.folder = folder
        self.config = folder / "tcpchat.toml"
        self.config.write_text(config)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(folder / "notify.sock"))
        self.notify.settimeout(30)
        self.log = folder / "server.log"
        env = {**os.environ, "NOTIFY_SOCKET": str(folder / "notify.sock")}
        command = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port",
                   "0", "--web-port", "0", "--no-console", "--data-dir", "none", "--config",
                   str(self.config), *args]  # fmt: skip
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=log, text=True)  # fmt: skip
        ready = self.next_notice()
        assert ready.startswith("READY=1"), ready
        ports = [int(port) for port in re.findall(r":(\d+)", ready)]
        self.port, self.tls_port = ports[0], ports[-1]

    def next_notice(self) -> str:
        """The next message to the notify socket that is not a watchdog beat."""
        while (message := self.notify.recv(4096).decode()) == "WATCHDOG=1":
            pass
        return message

    def sighup(self) -> None:
        """SIGHUP, and wait for the reload to be done."""
        self.proc.send_signal(signal.SIGHUP)
        self.reloaded()

    def reloaded(self) -> None:
        """Wait for a reload, however asked for, to be done (RELOADING=1, then READY=1)."""
        reloading = self.next_notice()
        assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC="), reloading
        assert int(reloading.rpartition("=")[2]) > 0
        assert self.next_notice() == "READY=1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for each in started:
        each.stop()


def motd_of(client: LineClient) -> str:
    client.expect(r" 375 ")
    return client.expect(r" 372 \S+ :- (.*)").group(1)


def test_sighup_gives_new_clients_the_new_motd_and_flood_limit_and_keeps_old_ones(
    tmp_path: Path, served: list[Served]
):
    server = Served(tmp_path, 'motd = "Before the reload"\n')
    served.append(server)
    old = LineClient(server.port)
    old.send("NICK old", "USER old 0 * :Old")
    assert motd_of(old) == "Before the reload"
    server.config.write_text(
        'motd = "After the reload"\nflood_burst = 3\nflood_rate = 0.5\nflood_max_queued = 4\n'
    )
    server.sighup()
    new = LineClient(server.port)
    new.send("NICK new", "USER new 0 * :New")
    assert motd_of(new) == "After the reload"
    new.expect(r" 376 ")
    # The old connection keeps its bucket: twenty lines at once are all answered.
    old.send(*[f"PING :old{i}" for i in range(20)])
    old.expect(r"PONG \S+ :old19")
    # The new one has the new limits: past 4 lines waiting, "Excess Flood".
    new.send(*[f"PING :new{i}" for i in range(20)])
    assert any("Excess Flood" in line for line in new.expect_closed())
    old.send("MOTD")  # the old connection asks again, and sees the new one
    assert motd_of(old) == "After the reload"
    log = server.log.read_text()
    assert "Reloaded " in log and "motd, " in log and "flood_burst" in log


def test_a_broken_config_file_changes_nothing_and_the_operator_is_told_why(
    tmp_path: Path, served: list[Served]
):
    server = Served(tmp_path, f'motd = "Still this"\n{OPERATOR}')
    served.append(server)
    oper = LineClient(server.port).register("boss")
    oper.send("OPER root hunter2")
    oper.expect(r" 381 ")
    server.config.write_text(f'motd = "Never this"\nflood_rate = -1\n{OPERATOR}')
    oper.send("REHASH")
    server.reloaded()
    error = oper.expect(r" 400 boss REHASH :(.*)").group(1)
    assert "flood_rate = -1: must be between 0 and 1000000" in error
    assert error.endswith("nothing changed.")
    server.config.write_text('motd = "Never this"\n[server\n')  # not TOML at all
    server.sighup()
    assert "is not valid TOML" in server.log.read_text()
    newcomer = LineClient(server.port)
    newcomer.send("NICK late", "USER late 0 * :Late")
    assert motd_of(newcomer) == "Still this"
    # What cannot change live is said, and the rest still changes.
    server.config.write_text(f'motd = "Now this"\nserver_name = "renamed"\n{OPERATOR}')
    oper.send("REHASH")
    server.reloaded()
    oper.expect(r" 382 boss \S*tcpchat\.toml :Rehashing")
    oper.expect_text("Reloaded ")
    oper.expect_text('server_name = "renamed" needs a restart (running with server_name = "tcp')
    newcomer.send("MOTD")
    assert motd_of(newcomer) == "Now this"
    # Only operators may.
    newcomer.send("REHASH")
    newcomer.expect(r" 481 late ")


def fingerprint(port: int) -> tuple[ssl.SSLSocket, str]:
    """A TLS connection, and the SHA-256 of the certificate the server showed it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return sock, hashlib.sha256(der).hexdigest()


def test_a_certificate_swapped_on_reload_is_what_new_tls_clients_see(
    tmp_path: Path, served: list[Served]
):
    folder = tmp_path / "tls"
    cert, key = make_self_signed(folder, "first.example")
    # A kept connection that says nothing for a second would be greeted as a person (nc).
    config = f'tls_cert = "{cert}"\ntls_key = "{key}"\ntls_port = 0\nplain_greeting_delay = 60\n'
    server = Served(tmp_path, config)
    served.append(server)
    kept, first = fingerprint(server.tls_port)
    # Renewed in place, as certbot does: the same paths, a new certificate and key.
    make_self_signed(tmp_path / "renewed", "second.example")
    for name in (cert.name, key.name):
        os.replace(tmp_path / "renewed" / name, folder / name)
    server.sighup()
    fresh, second = fingerprint(server.tls_port)
    assert second != first
    assert second == hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
    for sock, name in ((kept, "kept"), (fresh, "fresh")):  # both connections work
        sock.sendall(f"NICK {name}\r\nUSER {name} 0 * :x\r\n".encode())
        got = b""
        while b" 001 " not in got:
            chunk = sock.recv(4096)
            assert chunk, f"{name} was closed: {got!r}"
            got += chunk
        sock.close()
    assert "TLS certificate and key read again" in server.log.read_text()
    # A key that no longer fits is refused whole: the running certificate stays.
    make_self_signed(tmp_path / "other", "third.example")
    os.replace(tmp_path / "other" / key.name, folder / key.name)
    server.sighup()
    assert "does not belong to the certificate" in server.log.read_text()
    again, third = fingerprint(server.tls_port)
    again.close()
    assert third == second
