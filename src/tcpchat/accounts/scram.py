"""SCRAM-SHA-256 (RFC 5802, RFC 7677) for accounts: the keys kept instead of passwords, the
server's side of a SCRAM exchange, PLAIN checked against the same keys, and the client's side
(the terminal client's `--sasl`). No I/O here.

An account keeps only (salt, iterations, StoredKey, ServerKey): enough to check a password or
a SCRAM proof, not enough to log in as the user elsewhere. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = [
    "ScramClient", "ScramError", "ScramKeys", "ScramServer", "check_password", "derive_keys",
]  # fmt: skip

MIN_ITERATIONS = 4096  # RFC 7677's least
# The most a client agrees to compute: a server asking for more wants to keep it busy.
MAX_CLIENT_ITERATIONS = 10_000_000
NONCE_BYTES = 18


class ScramError(ValueError):
    """A SCRAM message that is malformed, or a proof that is wrong; says which."""


@dataclass(frozen=True, slots=True)
class ScramKeys:
    """What an account keeps of its password."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def derive_keys(
    password: str, salt: bytes | None = None, iterations: int = MIN_ITERATIONS
) -> ScramKeys:
    """The keys for `password` (a new random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password).encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramKeys(
        salt=salt,
        iterations=iterations,
        stored_key=hashlib.sha256(client_key).digest(),
        server_key=_hmac(salted, b"Server Key"),
    )


def check_password(password: str, keys: ScramKeys) -> bool:
    """Whether `password` is the one `keys` were made from (for SASL PLAIN), in constant time."""
    candidate = derive_keys(password, keys.salt, keys.iterations)
    return hmac.compare_digest(candidate.stored_key, keys.stored_key)


def _saslprep(text: str) -> str:
    """RFC 4013 in the part that matters here: non-ASCII spaces become spaces. (Full SASLprep
    also maps and forbids more; clients of IRC send what the user typed, as we do.)"""
    return "".join(" " if ch.isspace() and ch != " " and ord(ch) > 127 else ch for ch in text)


def _attributes(message: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in message.split(","):
        name, sep, value = part.partition("=")
        if not sep or len(name) != 1:
            raise ScramError(f"malformed attribute {part[:20]!r}")
        attributes.setdefault(name, value)
    return attributes


def _unescape_name(name: str) -> str:
    """saslname: '=2C' is ',' and '=3D' is '='; any other '=' is an error (RFC 5802)."""
    parts = name.split("=")
    out = [parts[0]]
    for part in parts[1:]:
        code, rest = part[:2], part[2:]
        if code not in ("2C", "3D"):
            raise ScramError("malformed user name")
        out.append(("," if code == "2C" else "=") + rest)
    return "".join(out)


class ScramServer:
    """One SCRAM-SHA-256 exchange, server side:

    1. `start(client_first)` -> the user name the client claims;
    2. the caller looks up that account's keys (off the event loop) and calls
       `challenge(keys)` -> server-first-message (with None for an unknown user, a made-up
       challenge, so that the reply does not tell which names exist);
    3. `finish(client_final)` -> server-final-message, or ScramError if the proof is wrong.
    """

    def __init__(self) -> None:
        self.user = ""
        self.authzid = ""  # the account the client asks to act as ("": its own)
        self._gs2_header = ""
        self._client_first_bare = ""
        self._client_nonce = ""
        self._nonce = ""
        self._server_first = ""
        self._keys: ScramKeys | None = None

    def start(self, client_first: bytes) -> str:
        try:
            text = client_first.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("not UTF-8") from None
        flag, _, rest = text.partition(",")
        authzid, sep, bare = rest.partition(",")
        if not sep:
            raise ScramError("no GS2 header")
        if flag.startswith("p="):
            raise ScramError("channel binding is not supported")
        if flag not in ("n", "y"):
            raise ScramError("malformed GS2 header")
        if authzid and not authzid.startswith("a="):
            raise ScramError("malformed authorization identity")
        attributes = _attributes(bare)
        if "m" in attributes:
            raise ScramError("mandatory extension not supported")
        user, nonce = attributes.get("n"), attributes.get("r")
        if not user or not nonce:
            raise ScramError("user name or nonce missing")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._client_nonce = nonce
        self.user = _unescape_name(user)
        self.authzid = _unescape_name(authzid[2:])
        return self.user

    def challenge(self, keys: ScramKeys | None) -> bytes:
        if keys is None:  # an unknown user: a challenge like any other, that no proof meets
            keys = ScramKeys(secrets.token_bytes(16), MIN_ITERATIONS, b"", b"")
        self._keys = keys
        server_nonce = base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode()
        self._nonce = self._client_nonce + server_nonce
        salt = base64.b64encode(keys.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={keys.iterations}"
        return self._server_first.encode()

    def finish(self, client_final: bytes) -> bytes:
        keys = self._keys
        if keys is None:
            raise ScramError("no challenge was sent")
        try:
            text = client_final.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("not UTF-8") from None
        without_proof, sep, proof_part = text.rpartition(",p=")
        if not sep:
            raise ScramError("proof missing")
        attributes = _attributes(without_proof)
        binding = base64.b64encode(self._gs2_header.encode()).decode()
        if attributes.get("c") != binding:
            raise ScramError("channel binding does not match")
        if attributes.get("r") != self._nonce:
            raise ScramError("nonce does not match")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise ScramError("proof is not base64") from None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(keys.stored_key, auth_message)
        if len(proof) != len(signature) or not keys.stored_key:
            raise ScramError("wrong proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), keys.stored_key):
            raise ScramError("wrong proof")
        verifier = base64.b64encode(_hmac(keys.server_key, auth_message)).decode()
        return f"v={verifier}".encode()


def _escape_name(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """One SCRAM-SHA-256 exchange, client side (no channel binding):

    1. `first()` -> client-first-message;
    2. `final(server_first)` -> client-final-message (the PBKDF2 work is here);
    3. `verify(server_final)`: ScramError unless the server proved it knows the keys.
    """

    def __init__(self, user: str, password: str, nonce: str | None = None) -> None:
        self._password = password
        self._nonce = nonce or base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode()
        self._first_bare = f"n={_escape_name(user)},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        try:
            text = server_first.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("the server's challenge is not UTF-8") from None
        attributes = _attributes(text)
        if "e" in attributes:
            raise ScramError(f"the server refused: {attributes['e']}")
        if "m" in attributes:
            raise ScramError("the server asks for an extension we do not know")
        nonce, salt_text, count = attributes.get("r", ""), attributes.get("s"), attributes.get("i")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise ScramError("the server's nonce does not continue ours")
        if salt_text is None or count is None or not count.isdecimal():
            raise ScramError("the server's challenge lacks a salt or an iteration count")
        iterations = int(count)
        if not 1 <= iterations <= MAX_CLIENT_ITERATIONS:
            raise ScramError(f"the server asks for {iterations} iterations")
        try:
            salt = base64.b64decode(salt_text, validate=True)
        except ValueError:
            raise ScramError("the server's salt is not base64") from None
        without_proof = f"c=biws,r={nonce}"  # biws: base64 of "n,,", no channel binding
        salted = hashlib.pbkdf2_hmac("sha256", _saslprep(self._password).encode(), salt,
                                     iterations)  # fmt: skip
        client_key = _hmac(salted, b"Client Key")
        auth_message = f"{self._first_bare},{text},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        try:
            attributes = _attributes(server_final.decode("utf-8"))
        except UnicodeDecodeError:
            raise ScramError("the server's last message is not UTF-8") from None
        if "e" in attributes:
            raise ScramError(f"the server refused: {attributes['e']}")
        try:
            verifier = base64.b64decode(attributes.get("v", ""), validate=True)
        except ValueError:
            raise ScramError("the server's signature is not base64") from None
        if not self._server_signature or not hmac.compare_digest(
            verifier, self._server_signature
        ):
            raise ScramError("the server did not prove it knows the password")
