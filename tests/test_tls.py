"""TLS beside the plain port: real handshakes on 127.0.0.1 with the standard library's ssl
and the openssl command, against a certificate made by `tcpchat gen-cert`."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from client_harness import RunningClient, blocking, client_options, irc_user, run
from tcpchat.client import ChatClient, ConnectError
from tcpchat.config import ConfigError, Settings
from tcpchat.edge.tls import server_context

from net_harness import STUCK_SETTINGS, TIMEOUT, LineClient, quits_without_reading, running_server

ROOT = Path(__file__).resolve().parent.parent
HAS_OPENSSL = shutil.which("openssl") is not None


def tcpchat(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m tcpchat ARGS`; `path` replaces PATH (where `openssl` is looked for)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "tcpchat", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """cert.pem and key.pem from `tcpchat gen-cert`, for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    done = tcpchat("gen-cert", "--out", str(folder), "--host", "localhost")
    if done.returncode != 0 and "neither the openssl command" in done.stderr:
        pytest.skip("no openssl command and no cryptography package to make a certificate")
    assert done.returncode == 0, done.stderr
    return folder / "cert.pem", folder / "key.pem"


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts our self-signed certificate, and checks the host name."""
    return ssl.create_default_context(cafile=str(certificate[0]))


def tls_settings(certificate: tuple[Path, Path], **more: object) -> dict[str, object]:
    return {"tls_cert": str(certificate[0]), "tls_key": str(certificate[1]), "tls_port": 0, **more}


def join(client: LineClient, nick: str, room: str = "#lobby") -> LineClient:
    client.register(nick)
    client.send(f"JOIN {room}")
    client.expect(rf" 366 {nick} {room} ")
    return client


# ---------------------------------------------------------------- the listener


def test_a_tls_client_that_quits_and_never_reads_leaves_no_connection_behind(certificate):
    """As over plain TCP (test_hostile.py). TLS's transport lets go by itself (it hands
    what is unsent to the kernel as it closes), but asking it what is unsent once it is
    closed raises: the close must ask before, whatever the transport."""
    with running_server(**tls_settings(certificate, **STUCK_SETTINGS)) as server:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.server.tls_port))
        quits_without_reading(trusting(certificate).wrap_socket(raw, server_hostname="localhost"),
                              server)  # fmt: skip


def test_tls_client_chats_with_a_plain_client(certificate):
    with running_server(**tls_settings(certificate)) as server:
        assert server.server.tls_addresses and server.port != server.server.tls_port
        secure = LineClient(server.server.tls_port, ssl_context=trusting(certificate))
        assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")
        join(secure, "alice")
        plain = join(LineClient(server.port), "bob")
        secure.expect(r"^:bob!bob@127\.0\.0\.1 JOIN :?#lobby$")

        secure.send("PRIVMSG #lobby :hello over TLS")
        plain.expect(r"^:alice!alice@127\.0\.0\.1 PRIVMSG #lobby :hello over TLS$")
        plain.send("PRIVMSG #lobby :hello in plain text")
        secure.expect(r"^:bob!bob@127\.0\.0\.1 PRIVMSG #lobby :hello in plain text$")
        plain.send("PRIVMSG alice :psst")
        secure.expect(r"^:bob!\S+ PRIVMSG alice :psst$")

        secure.send("QUIT :bye")
        assert any("ERROR :Closing Link" in line for line in secure.expect_closed())
        plain.expect(r"^:alice!\S+ QUIT :Quit: bye$")
        secure.close()  # TLS: a closing server waits a moment for the peer's goodbye


def test_person_on_a_tls_connection_gets_plain_text_mode(certificate):
    with running_server(**tls_settings(certificate)) as server:
        irc = join(LineClient(server.port), "ircuser")
        person = LineClient(server.server.tls_port, ssl_context=trusting(certificate))
        person.expect_text("nickname? ")
        person.send("dave")
        person.expect(r"You joined #lobby")
        person.send("hi over TLS")
        irc.expect(r"^:dave!\S+ PRIVMSG #lobby :hi over TLS$")
        person.close()


@pytest.mark.skipif(not HAS_OPENSSL, reason="the openssl command is not installed")
def test_openssl_s_client_chats_with_a_plain_client(certificate):
    with running_server(**tls_settings(certificate)) as server:
        plain = join(LineClient(server.port), "bob")
        proc = subprocess.Popen(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{server.server.tls_port}",
             "-quiet", "-CAfile", str(certificate[0])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        lines = ProcessLines(proc)
        try:
            proc.stdin.write(b"NICK carol\r\nUSER carol 0 * :Carol\r\nJOIN #lobby\r\n")
            proc.stdin.flush()
            lines.expect(r" 001 carol ")
            lines.expect(r" 366 carol #lobby ")
            plain.expect(r"^:carol!\S+ JOIN :?#lobby$")
            proc.stdin.write(b"PRIVMSG #lobby :hello from s_client\r\n")
            proc.stdin.flush()
            plain.expect(r"^:carol!carol@127\.0\.0\.1 PRIVMSG #lobby :hello from s_client$")
            plain.send("PRIVMSG #lobby :hello, s_client")
            lines.expect(r"^:bob!\S+ PRIVMSG #lobby :hello, s_client$")
            proc.stdin.write(b"QUIT :done\r\n")
            proc.stdin.flush()
            lines.expect(r"^ERROR :Closing Link")
            plain.expect(r"^:carol!\S+ QUIT :Quit: done$")
        finally:
            proc.kill()
            proc.wait()


class ProcessLines:
    """A child's stdout as lines, read by a thread, waited for with a timeout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self.queue.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.queue.put(None)

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"{pattern!r} not seen; seen {self.seen[-10:]}") from None
            if line is None:
                raise AssertionError(f"ended before {pattern!r}; seen {self.seen[-10:]}")
            self.seen.append(line)
            if re.search(pattern, line):
                return line


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server hangs up on `sock` within `seconds` (whatever it sends first)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def still_open(sock: socket.socket) -> bool:
    """Whether the server has neither sent anything nor hung up yet (without waiting)."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # data, or b"" for a hang-up
        return False
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def test_stalled_and_failed_handshakes_block_no_one(certificate):
    with running_server(**tls_settings(certificate, tls_handshake_timeout=5.0)) as server:
        tls_port = server.server.tls_port
        stalled = socket.create_connection(("127.0.0.1", tls_port))  # says nothing at all
        garbage = socket.create_connection(("127.0.0.1", tls_port))
        garbage.sendall(b"NICK mallory\r\nUSER m 0 * :not TLS at all\r\n")
        half = socket.create_connection(("127.0.0.1", tls_port))
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc")  # a ClientHello cut short

        # Meanwhile, everyone else connects (over TLS too) and chats as usual.
        alice = join(LineClient(tls_port, ssl_context=trusting(certificate)), "alice")
        bob = join(LineClient(server.port), "bob")
        alice.send("PRIVMSG #lobby :still here")
        bob.expect(r"PRIVMSG #lobby :still here$")
        assert still_open(stalled)  # all that happened while its handshake was pending

        assert closed_within(garbage, TIMEOUT)
        assert closed_within(stalled, TIMEOUT)  # the handshake timeout
        assert closed_within(half, TIMEOUT)
        for sock in (stalled, garbage, half):
            sock.close()
        bob.send("PRIVMSG #lobby :and still")
        alice.expect(r"PRIVMSG #lobby :and still$")
        alice.close()


def test_handshakes_under_way_per_address_are_limited(certificate):
    settings = tls_settings(certificate, tls_handshake_timeout=5.0, max_connections_per_address=2)
    with running_server(**settings) as server:
        tls_port = server.server.tls_port
        stalled = [socket.create_connection(("127.0.0.1", tls_port)) for _ in range(2)]
        # The listener has them both once it has answered something on the plain port.
        join(LineClient(server.port), "bob")
        extra = socket.create_connection(("127.0.0.1", tls_port))
        assert closed_within(extra, 2.0)  # long before the 5 s handshake timeout
        for sock in [*stalled, extra]:
            sock.close()


def test_tls_only_server_has_no_plain_listener(certificate):
    with running_server(**tls_settings(certificate, plain_listener=False)) as server:
        assert server.server.addresses == []
        assert server.port == server.server.tls_port
        join(LineClient(server.port, ssl_context=trusting(certificate)), "alice").close()


def test_server_context_wants_tls_1_2_at_least_and_reports_bad_files(certificate, tmp_path):
    context = server_context(str(certificate[0]), str(certificate[1]))
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    with pytest.raises(ConfigError, match="not found"):
        server_context(str(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="is not a PEM certificate"):
        server_context(str(tmp_path / "junk.pem"))
    with pytest.raises(ConfigError, match="needs tls_cert"):
        Settings().updated({"plain_listener": False}).check()
    Settings().updated({"plain_listener": False}).updated({"tls_cert": "c.pem"}).check()


# -------------------------------------------------------------- command lines


def start_server(*args: str) -> tuple[subprocess.Popen, dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0", "--no-console", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    for line in proc.stdout:  # blocks until the server prints; the test timeout bounds it
        match = re.match(r"Listening( \(TLS\))? on \S+:(\d+)", line)
        if match:
            ports["tls" if match.group(1) else "plain"] = int(match.group(2))
        if line.startswith("Server is waiting for connections"):
            return proc, ports
    raise AssertionError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")


def test_tls_flags_print_both_ports_and_serve_tls(certificate):
    proc, ports = start_server(
        "--tls-cert", str(certificate[0]), "--tls-key", str(certificate[1]), "--tls-port", "0"
    )
    try:
        assert set(ports) == {"plain", "tls"}
        join(LineClient(ports["tls"], ssl_context=trusting(certificate)), "alice").close()
        join(LineClient(ports["plain"]), "bob")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_no_plain_flag_serves_tls_only(certificate):
    proc, ports = start_server(
        "--no-plain", "--tls-cert", str(certificate[0]), "--tls-key", str(certificate[1]),
        "--tls-port", "0",
    )  # fmt: skip
    try:
        assert set(ports) == {"tls"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent/cert.pem", "--tls-port", "0"], "not found"),
        (["--no-plain"], "needs tls_cert"),
    ],
)
def test_tls_misconfiguration_is_a_clear_error(args: list[str], message: str):
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--no-console", *args],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def bad_tls_files(kind: str, tmp_path: Path, certificate: tuple[Path, Path]) -> list[str]:
    """Flags naming TLS files that are wrong in the way `kind` says; real files throughout."""
    cert, key = str(certificate[0]), str(certificate[1])
    missing = str(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    if kind == "missing certificate":
        return ["--tls-cert", missing, "--tls-key", key]
    if kind == "missing key":
        return ["--tls-cert", cert, "--tls-key", missing]
    if kind == "unreadable key":
        locked = tmp_path / "locked.pem"
        shutil.copy(key, locked)
        locked.chmod(0)
        return ["--tls-cert", cert, "--tls-key", str(locked)]
    if kind == "directory":
        return ["--tls-cert", str(tmp_path), "--tls-key", key]
    if kind == "not a certificate":
        return ["--tls-cert", str(junk), "--tls-key", key]
    if kind == "swapped":
        return ["--tls-cert", key, "--tls-key", cert]
    if kind == "not a key":
        return ["--tls-cert", cert, "--tls-key", str(junk)]
    if kind == "no key given":
        return ["--tls-cert", cert]
    if kind == "mismatch":
        other = tmp_path / "other"
        assert tcpchat("gen-cert", "--out", str(other), "--host", "localhost").returncode == 0
        return ["--tls-cert", cert, "--tls-key", str(other / "key.pem")]
    if kind == "encrypted key":
        locked = tmp_path / "encrypted.pem"
        subprocess.run(
            ["openssl", "pkey", "-in", key, "-out", str(locked), "-aes256", "-passout", "pass:x"],
            check=True,
        )
        return ["--tls-cert", cert, "--tls-key", str(locked)]
    raise AssertionError(kind)


TLS_FILE_PROBLEMS = {
    "missing certificate": r"TLS certificate {tmp}/missing\.pem not found; make one to try TLS "
    r"with: python server\.py gen-cert --out tls/",
    "missing key": r"TLS key {tmp}/missing\.pem not found; --tls-key \(tls_key\) names the "
    r"private key that belongs to the certificate",
    "unreadable key": r"cannot read TLS key {tmp}/locked\.pem: permission denied; let the "
    r"server's user read it",
    "directory": r"TLS certificate {tmp} is a directory; name the certificate file in it",
    "not a certificate": r"TLS certificate {tmp}/junk\.pem is not a PEM certificate \(no "
    r"-----BEGIN CERTIFICATE----- line\)",
    "swapped": r"TLS certificate {tls}/key\.pem holds a private key, not a certificate: are "
    r"--tls-cert and --tls-key swapped\?",
    "not a key": r"TLS key {tmp}/junk\.pem is not a PEM private key \(no -----BEGIN "
    r"\.\.\. PRIVATE KEY----- line\)",
    "no key given": r"TLS certificate {tls}/cert\.pem holds no private key; name the key "
    r"file with --tls-key \(tls_key\)",
    "mismatch": r"TLS key {tmp}/other/key\.pem does not belong to the certificate "
    r"{tls}/cert\.pem; give the key the certificate was made with",
    "encrypted key": r"TLS key {tmp}/encrypted\.pem is protected by a passphrase, which the "
    r"server cannot ask for; decrypt it: openssl pkey -in {tmp}/encrypted\.pem -out KEY\.pem",
}


@pytest.mark.parametrize("kind", list(TLS_FILE_PROBLEMS))
def test_each_unusable_tls_file_is_named_with_what_to_do(kind, tmp_path, certificate):
    if not HAS_OPENSSL and kind == "encrypted key":
        pytest.skip("no openssl command to encrypt a key with")
    flags = bad_tls_files(kind, tmp_path, certificate)
    command = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
               "--tls-port", "0", "--no-console", *flags]  # fmt: skip
    if kind == "unreadable key" and os.geteuid() == 0:
        # root reads any file: take away the capabilities that let it, as a service user lacks
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    pattern = TLS_FILE_PROBLEMS[kind].format(
        tmp=re.escape(str(tmp_path)), tls=re.escape(str(certificate[0].parent))
    )
    assert done.returncode == 2, done.stdout
    [line] = done.stderr.splitlines()
    assert re.fullmatch(rf"server\.py: {pattern}.*", line), line


def test_gen_cert_writes_a_private_key_and_refuses_to_overwrite(tmp_path):
    done = tcpchat("gen-cert", "--out", str(tmp_path), "--host", "chat.example")
    if done.returncode != 0 and "neither the openssl command" in done.stderr:
        pytest.skip("no openssl command and no cryptography package")
    assert done.returncode == 0, done.stderr
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    assert "--tls-cert" in done.stdout and "chat.example" in done.stdout
    assert key.stat().st_mode & 0o077 == 0
    with running_server(tls_cert=str(cert), tls_key=str(key), tls_port=0) as server:
        for name in ("chat.example", "localhost", "127.0.0.1"):  # checked by clients
            sock = socket.create_connection(("127.0.0.1", server.server.tls_port))
            trusting((cert, key)).wrap_socket(sock, server_hostname=name).close()
    again = tcpchat("gen-cert", "--out", str(tmp_path))
    assert again.returncode == 1 and "--force" in again.stderr
    assert tcpchat("gen-cert", "--out", str(tmp_path), "--force").returncode == 0


def test_gen_cert_without_the_openssl_command(tmp_path):
    """Without openssl on the PATH, the cryptography package does it, or we say what to do."""
    empty = tmp_path / "bin"
    empty.mkdir()
    done = tcpchat("gen-cert", "--out", str(tmp_path), path=str(empty))
    try:
        import cryptography  # noqa: F401
    except ImportError:
        assert done.returncode == 1 and "openssl" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    server_context(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


# -------------------------------------------------------------------- the client


def test_client_checks_the_certificate_unless_insecure(certificate):
    async def main() -> None:
        with running_server(**tls_settings(certificate)) as server:
            tls_port = server.server.tls_port
            bob = await irc_user(server, "bob", "#lobby")
            checking = client_options(server, port=tls_port, tls=True)
            with pytest.raises(ConnectError, match="certificate verify failed"):
                await ChatClient(checking, print).connect()
            trusting_options = client_options(
                server, port=tls_port, tls=True, ssl_context=trusting(certificate)
            )
            carol = await RunningClient(trusting_options).start()
            await carol.say("verified")
            await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #lobby :verified$")
            await carol.say("quit")
            assert await carol.exit_code() == 0

            insecure = client_options(server, port=tls_port, tls=True, insecure=True)
            alice = await RunningClient(insecure).start()
            await alice.say("unverified but encrypted")
            await blocking(bob.expect, r"^:alice!\S+ PRIVMSG #lobby :unverified but encrypted$")
            await alice.say("quit")
            assert await alice.exit_code() == 0
            bob.close()

    run(main)


def test_client_command_line_insecure_warns_and_connects(certificate):
    with running_server(**tls_settings(certificate)) as server:
        bob = join(LineClient(server.port), "bob")
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "client.py"), f"127.0.0.1:{server.server.tls_port}",
             "--insecure", "--nick", "carol"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            bob.expect(r"^:carol!\S+ JOIN :?#lobby$")
            proc.stdin.write("hello from an insecure client\n")
            proc.stdin.flush()
            bob.expect(r"^:carol!\S+ PRIVMSG #lobby :hello from an insecure client$")
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            assert proc.wait(TIMEOUT) == 0
            assert "Warning: --insecure" in proc.stderr.read()
        finally:
            proc.kill()
            proc.wait()


def test_help_mentions_the_tls_options_and_the_new_commands():
    server_help = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"], capture_output=True, text=True
    ).stdout
    for option in ("--tls-cert", "--tls-key", "--tls-port", "--no-plain"):
        assert option in server_help
    assert "--insecure" in tcpchat("client", "--help").stdout
    overview = tcpchat("--help").stdout
    assert "gen-cert" in overview and "hash-password" in overview


def client_line(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python client.py ARGS` with nothing to type: what it prints, and its exit code."""
    return subprocess.run(
        [sys.executable, str(ROOT / "client.py"), *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_tls_against_the_plain_port_says_to_try_without_tls(certificate):
    with running_server(**tls_settings(certificate)) as server:
        port = server.port
        done = client_line(f"127.0.0.1:{port}", "--tls", env={"SSL_CERT_FILE": str(certificate[0])})
        assert done.returncode == 1
        assert done.stdout == ""
        assert "WRONG_VERSION_NUMBER" not in done.stderr
        assert re.fullmatch(
            rf"Cannot connect to 127\.0\.0\.1:{port} with TLS: the server (answered in plain "
            rf"text, not TLS|closed the connection during the TLS handshake); is {port} its "
            r"plain port\? Try without --tls, or the TLS port \(usually 6697\)\.\n",
            done.stderr,
        ), done.stderr


def test_plain_against_the_tls_port_says_to_try_tls(certificate):
    async def main() -> None:
        # The server hangs up once the handshake times out: "CAP LS" is no TLS record.
        settings = tls_settings(certificate, tls_handshake_timeout=1.0)
        with running_server(**settings) as server:
            tls_port = server.server.tls_port
            carol = RunningClient(client_options(server, port=tls_port, nick="carol"))
            carol.task = asyncio.create_task(carol.client.run())
            assert await carol.exit_code() == 1
            await carol.screen.expect(
                rf"^Cannot connect to 127\.0\.0\.1:{tls_port}: the server closed the connection "
                rf"before saying anything; if {tls_port} is a TLS port, try --tls\.$"
            )

    run(main)


def cap_ls(client: LineClient) -> list[str]:
    client.send("CAP LS 302")
    offered: list[str] = []
    while True:
        line = client.expect(r" CAP \* LS ")
        offered += line.string.rsplit(" :", 1)[1].split()
        if " LS * :" not in line.string:
            return offered


def test_sts_tells_plain_clients_where_tls_is_and_tls_clients_for_how_long(certificate):
    with running_server(**tls_settings(certificate, sts_duration=2592000)) as server:
        tls_port = server.server.tls_port
        assert f"sts=port={tls_port}" in cap_ls(LineClient(server.port))
        secure = LineClient(tls_port, ssl_context=trusting(certificate))
        assert "sts=duration=2592000" in cap_ls(secure)
        secure.send("CAP REQ sts")  # a policy is told, never requested
        secure.expect(r" CAP \* NAK :?sts$")
    with running_server(**tls_settings(certificate)) as server:  # the default: no policy
        assert not [cap for cap in cap_ls(LineClient(server.port)) if cap.startswith("sts")]


def test_the_web_port_speaks_tls_with_the_same_certificate(certificate) -> None:
    """With a certificate, the web port is https and wss, and a secure WebSocket counts as
    TLS: the sts policy it is offered is the duration, as over the TLS port."""
    import asyncio

    from websockets.asyncio.client import connect

    settings = tls_settings(certificate, web_port=-1, sts_duration=300)
    with running_server(**settings) as server:
        port = server.call(lambda: server.server.web_addresses[0][1])

        async def offered() -> str:
            async with connect(f"wss://localhost:{port}/", ssl=trusting(certificate)) as ws:
                await ws.send("CAP LS 302")
                return str(await asyncio.wait_for(ws.recv(), 10))

        assert "sts=duration=300" in asyncio.run(offered())
