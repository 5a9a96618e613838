"""Operator passwords, stored only as scrypt hashes. No I/O here.

A hash string names its own parameters, so stronger settings later never break
the hashes already in config files:

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>

`tcpchat hash-password` prints one; the `[operators]` table of the config file
maps each operator name to one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

__all__ = ["PasswordHash", "hash_password", "parse_hash", "verify_password"]

# scrypt's cost: 16 MiB of memory and some tens of milliseconds per check, the
# parameters hashlib's documentation suggests for interactive logins.
DEFAULT_N = 1 << 14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# The most memory a hash string from a config file may ask scrypt for (128 * n * r).
MAX_MEMORY = 256 << 20


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed hash string: scrypt's parameters, the salt and the derived key."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def encode(self) -> str:
        salt = base64.b64encode(self.salt).decode()
        digest = base64.b64encode(self.digest).decode()
        return f"scrypt${self.n}${self.r}${self.p}${salt}${digest}"

    def derive(self, password: str) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=128 * self.n * self.r * self.p + (1 << 20),
            dklen=len(self.digest),
        )


def hash_password(
    password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> str:
    """A new hash string for `password`, with a random salt."""
    salt = os.urandom(SALT_BYTES)
    empty = PasswordHash(n, r, p, salt, bytes(HASH_BYTES))
    _check_cost(empty)
    return PasswordHash(n, r, p, salt, empty.derive(password)).encode()


def parse_hash(text: str) -> PasswordHash:
    """Read a hash string; ValueError says what is wrong with it."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$N$r$p$salt$hash (make one with: tcpchat hash-password)")
    n_text, r_text, p_text, salt_text, digest_text = parts[1:]
    if not (n_text.isdecimal() and r_text.isdecimal() and p_text.isdecimal()):
        raise ValueError("scrypt parameters N, r and p must be whole numbers")
    try:
        salt = base64.b64decode(salt_text, validate=True)
        digest = base64.b64decode(digest_text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("salt and hash must be base64") from None
    if not salt or len(digest) < 16:
        raise ValueError("salt is empty or hash too short")
    parsed = PasswordHash(int(n_text), int(r_text), int(p_text), salt, digest)
    _check_cost(parsed)
    return parsed


def _check_cost(parsed: PasswordHash) -> None:
    n, r, p = parsed.n, parsed.r, parsed.p
    if n < 2 or n & (n - 1):
        raise ValueError("scrypt N must be a power of 2, at least 2")
    if r < 1 or p < 1 or p > 16:
        raise ValueError("scrypt r must be at least 1, and p between 1 and 16")
    if 128 * n * r > MAX_MEMORY:
        raise ValueError(f"scrypt N * r asks for more than {MAX_MEMORY >> 20} MiB of memory")


def verify_password(password: str, hashed: PasswordHash | str) -> bool:
    """Whether `password` matches; the comparison takes the same time whatever differs."""
    if isinstance(hashed, str):
        hashed = parse_hash(hashed)
    return hmac.compare_digest(hashed.derive(password), hashed.digest)
