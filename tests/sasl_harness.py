"""Accounts written into a data directory before its server starts, and the client's side of
SASL over a LineClient (PLAIN by hand, SCRAM-SHA-256 with the `scramp` library)."""

from __future__ import annotations

import base64
import re
import ssl
import subprocess
import time
from pathlib import Path

from scramp import ScramClient

from tcpchat.accounts.scram import derive_keys
from tcpchat.protocol import irc_lower
from tcpchat.store.accounts import Account, add_certfp, create_account
from tcpchat.store.database import Database
from tcpchat.store.schema import MIGRATIONS

from net_harness import LineClient


def add_account(
    data_dir: Path,
    name: str,
    password: str,
    *,
    suspended: str | None = None,
    verify_code: str | None = None,
    certfps: tuple[str, ...] = (),
) -> None:
    """Store an account (and its certificate fingerprints) as REGISTER would have."""
    database = Database(Path(data_dir), MIGRATIONS)
    database.open()
    try:
        account = Account(
            irc_lower(name), name, None, derive_keys(password), time.time(), verify_code, suspended
        )
        done: list[object] = []
        database.run(lambda c: create_account(c, account), done.append)
        for fingerprint in certfps:
            database.run(lambda c, f=fingerprint: add_certfp(c, account.folded, f), done.append)
        assert all(done), done
    finally:
        database.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain_message(name: str, password: str, authzid: str = "") -> str:
    return b64(f"{authzid}\0{name}\0{password}".encode())


def negotiating(
    port: int,
    nick: str,
    caps: str = "sasl",
    ssl_context: ssl.SSLContext | None = None,
) -> LineClient:
    """A client that has asked for `caps` and not yet ended CAP negotiation."""
    client = LineClient(port, ssl_context=ssl_context)
    client.send("CAP LS 302", f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Example")
    client.expect(r"CAP \* LS :")
    client.send(f"CAP REQ :{caps}")
    client.expect(rf"CAP {nick} ACK :{re.escape(caps)}$")
    return client


def plain_login(client: LineClient, name: str, password: str) -> None:
    client.send("AUTHENTICATE PLAIN")
    client.expect(r"^AUTHENTICATE \+$")
    client.send(f"AUTHENTICATE {plain_message(name, password)}")


def scram_login(client: LineClient, name: str, password: str) -> ScramClient:
    """SCRAM-SHA-256 through to the server's proof, checked; the caller sends the last '+'."""
    scram = ScramClient(["SCRAM-SHA-256"], name, password)
    client.send("AUTHENTICATE SCRAM-SHA-256")
    client.expect(r"^AUTHENTICATE \+$")
    client.send(f"AUTHENTICATE {b64(scram.get_client_first().encode())}")
    challenge = client.expect(r"^AUTHENTICATE (\S+)$").group(1)
    scram.set_server_first(base64.b64decode(challenge).decode())
    client.send(f"AUTHENTICATE {b64(scram.get_client_final().encode())}")
    verifier = client.expect(r"^AUTHENTICATE (\S+)$").group(1)
    scram.set_server_final(base64.b64decode(verifier).decode())  # raises if the proof is wrong
    return scram


def openssl_certificate(folder: Path, name: str) -> tuple[Path, Path, str]:
    """A self-signed client certificate and key made by openssl, and its SHA-256 fingerprint
    as openssl prints it (AB:CD:...)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    printed = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return cert, key, printed.strip().split("=", 1)[1]
