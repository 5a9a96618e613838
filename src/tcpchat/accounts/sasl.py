"""SASL over IRC (IRCv3 sasl-3.1/3.2): AUTHENTICATE's chunking, the PLAIN message, and what
one exchange remembers between its lines. No I/O.

A SASL message travels base64-encoded in `AUTHENTICATE` lines of at most 400 bytes; a line
shorter than 400 ends it, and `AUTHENTICATE +` stands for an empty message or ends one whose
last line was exactly 400 bytes long.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .scram import ScramServer

if TYPE_CHECKING:
    from ..store.accounts import Account

__all__ = [
    "CHUNK", "MAX_MESSAGE", "MECHANISMS", "SaslError", "SaslExchange", "Assembler", "chunks",
    "parse_plain",
]  # fmt: skip

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "EXTERNAL")  # as `sasl=` lists them in CAP LS 302
CHUNK = 400
MAX_MESSAGE = 4096  # bytes of base64: far more than any of our mechanisms needs (905 beyond)


class SaslError(ValueError):
    """A SASL message that can't be used; `too_long` says whether it was its length (905)."""

    def __init__(self, reason: str, too_long: bool = False) -> None:
        super().__init__(reason)
        self.too_long = too_long


class Assembler:
    """AUTHENTICATE payloads in, whole decoded messages out."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0

    def add(self, payload: str) -> bytes | None:
        """One AUTHENTICATE parameter; the decoded message once it is whole, else None."""
        if payload == "+":
            return self._finish()
        if len(payload) > CHUNK:
            self._reset()
            raise SaslError("AUTHENTICATE line longer than 400 bytes", too_long=True)
        self._size += len(payload)
        if self._size > MAX_MESSAGE:
            self._reset()
            raise SaslError("SASL message too long", too_long=True)
        self._parts.append(payload)
        return None if len(payload) == CHUNK else self._finish()

    def _finish(self) -> bytes:
        text = "".join(self._parts)
        self._reset()
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SaslError("malformed base64") from None

    def _reset(self) -> None:
        self._parts.clear()
        self._size = 0


def chunks(message: bytes) -> list[str]:
    """The AUTHENTICATE parameters that carry `message` to the client."""
    text = base64.b64encode(message).decode()
    parts = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    if not parts or len(parts[-1]) == CHUNK:
        parts.append("+")
    return parts


def parse_plain(message: bytes) -> tuple[str, str, str]:
    """PLAIN (RFC 4616): authzid NUL authcid NUL password, in UTF-8."""
    try:
        authzid, authcid, password = message.decode("utf-8").split("\0")
    except (UnicodeDecodeError, ValueError):
        raise SaslError("malformed PLAIN message") from None
    if not authcid or not password:
        raise SaslError("PLAIN message without a name or a password")
    return authzid, authcid, password


@dataclass(slots=True, eq=False)
class SaslExchange:
    """One session's exchange, from `AUTHENTICATE <mechanism>` until it succeeds, fails or
    is aborted: the mechanism, the message being put together, and the mechanism's state."""

    mechanism: str
    assembler: Assembler = field(default_factory=Assembler)
    scram: ScramServer | None = None  # SCRAM-SHA-256: the server's side of the exchange
    step: int = 0  # SCRAM-SHA-256: the client messages handled so far
    account: Account | None = None  # SCRAM-SHA-256: the account the client claims
