"""K-lines and D-lines in force, and the words that go with them (sans-IO).

A K-line bans people by `user@host`: `*` and `?` are wildcards, case does not matter, and
the host part may be a network (`*@192.0.2.0/24`). A D-line bans an address or a network,
IPv4 or IPv6 (`2001:db8::/32`), before the connection says a word. Each may last for a
while (`parse_duration`) or until it is lifted. `BanList` answers with the time it is
given: a ban past its end stops applying at once, and `expire` hands the expired ones
back for the store to delete. The handlers (handlers/bans.py) change it; the edge asks it
about every new connection.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections.abc import Callable, Iterable

from ..store.bans import Ban

__all__ = [
    "Ban",
    "BanList",
    "ban_text",
    "describe_duration",
    "dline_mask",
    "kline_mask",
    "looks_like_duration",
    "parse_duration",
    "stamp",
]

UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
LONGEST = 52 * UNITS["w"]  # a temporary ban lasts at most a year, as on solanum
_DURATION = re.compile(r"(?:\d+[smhdw])+", re.IGNORECASE)
_PART = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)
# The widest networks a D-line may cover: wider ones would shut out much of the Internet.
WIDEST = {4: 8, 6: 16}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def looks_like_duration(word: str) -> bool:
    """Whether a KLINE or DLINE word is meant as a duration: it starts with a digit, as no
    nick does, and is no mask (@) or address (a dot, a colon or a slash)."""
    return word[:1].isdigit() and not any(c in word for c in "@.:/")


def parse_duration(word: str) -> int:
    """Seconds: a bare number is minutes (solanum's convention); else units, combined as
    in `1h30m` (s, m, h, d, w). 0 means permanent. ValueError says what is wrong."""
    if word.isdigit():
        seconds = int(word) * 60
    elif _DURATION.fullmatch(word):
        seconds = sum(int(count) * UNITS[unit.lower()] for count, unit in _PART.findall(word))
    else:
        raise ValueError(
            f"{word!r} is not a duration: give minutes (30), or units such as 30s, 10m, 2h, "
            "1d, 1w, or 1h30m; leave it out for a ban until lifted"
        )
    if seconds > LONGEST:
        raise ValueError(f"{word} is longer than a year; leave it out for a ban until lifted")
    return seconds


def describe_duration(seconds: float) -> str:
    """`1h30m`, `2d`, `45s`: the largest units, at most two of them."""
    left = max(1, math.ceil(seconds))
    parts: list[str] = []
    for unit, size in UNITS.items():
        if left >= size and len(parts) < 2:
            parts.append(f"{left // size}{unit}")
            left %= size
        elif parts:
            break
    return "".join(parts)


def stamp(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))


def ban_text(ban: Ban, now: float) -> str:
    """What a banned person is told: the reason and, for a timed ban, when it ends."""
    text = f"You are banned from this server: {ban.reason}"
    if ban.expires is not None:
        text += f"; the ban ends {stamp(ban.expires)} (in {describe_duration(ban.expires - now)})"
    return text


def _address(text: str) -> Address | None:
    """An address to match bans against (an IPv4-mapped IPv6 one as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _network_text(network: Network) -> str:
    """A network as bans show it: a single address without its /32 or /128."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def dline_mask(text: str) -> str:
    """A D-line's address or network as stored and shown; ValueError says what is wrong."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an address or a network; a D-line takes one such as "
            "192.0.2.7, 192.0.2.0/24 or 2001:db8::/32"
        ) from None
    if network.prefixlen < WIDEST[network.version]:
        raise ValueError(
            f"{text} is too wide: a D-line covers at most a /{WIDEST[network.version]}"
        )
    return _network_text(network)


def kline_mask(text: str) -> str:
    """A K-line's `user@host` as stored and shown (lower case; a host that is a network in
    its short form); ValueError says what is wrong."""
    user, at, host = text.partition("@")
    if not at or not user or not host or "@" in host or "!" in user or " " in text:
        raise ValueError(f"{text!r} is not a user@host mask (such as *@192.0.2.7 or bob@*)")
    if not (user + host).strip("*?.:~"):
        raise ValueError(f"{text} would ban everyone: give part of a user name or a host")
    if "/" in host:
        try:
            host = _network_text(ipaddress.ip_network(host, strict=False))
        except ValueError:
            raise ValueError(f"{host!r} is not a network (such as 192.0.2.0/24)") from None
    return f"{user}@{host}".lower()


def _glob(pattern: str) -> Callable[[str], bool]:
    """A case-insensitive matcher for a wildcard pattern (* any run, ? one character)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda text: compiled.fullmatch(text.lower()) is not None


def _host_matcher(host: str) -> Callable[[str], bool]:
    """Whether a connection's host (its address) falls under a K-line's host part."""
    if "/" not in host:
        return _glob(host)
    network = ipaddress.ip_network(host, strict=False)

    def inside(text: str) -> bool:
        address = _address(text)
        return address is not None and address in network

    return inside


class BanList:
    """The K-lines and D-lines in force, by mask (see the module docstring)."""

    def __init__(self) -> None:
        self.klines: dict[str, tuple[Ban, Callable[[str], bool], Callable[[str], bool]]] = {}
        self.dlines: dict[str, tuple[Ban, Network]] = {}

    def __len__(self) -> int:
        return len(self.klines) + len(self.dlines)

    def bans(self) -> list[Ban]:
        return [entry[0] for entry in self.klines.values()] + [
            entry[0] for entry in self.dlines.values()
        ]

    def load(self, bans: Iterable[Ban]) -> None:
        """Take these as every ban there is (at start, or another node's change)."""
        self.klines.clear()
        self.dlines.clear()
        for ban in bans:
            self.add(ban)

    def add(self, ban: Ban) -> Ban | None:
        """Put a ban in force; the one it replaces on the same mask, if any."""
        old = self.get(ban.kind, ban.mask)
        if ban.kind == "K":
            user, _, host = ban.mask.partition("@")
            self.klines[ban.mask] = (ban, _glob(user), _host_matcher(host))
        else:
            self.dlines[ban.mask] = (ban, ipaddress.ip_network(ban.mask, strict=False))
        return old

    def get(self, kind: str, mask: str) -> Ban | None:
        entry = (self.klines if kind == "K" else self.dlines).get(mask)
        return entry[0] if entry is not None else None

    def remove(self, kind: str, mask: str) -> Ban | None:
        entry = (self.klines if kind == "K" else self.dlines).pop(mask, None)
        return entry[0] if entry is not None else None

    def kline_for(self, user: str, host: str, now: float) -> Ban | None:
        """The K-line in force on `user@host`, if any."""
        for ban, user_matches, host_matches in self.klines.values():
            if ban.active(now) and user_matches(user) and host_matches(host):
                return ban
        return None

    def dline_for(self, host: str, now: float) -> Ban | None:
        """The D-line in force on this address, if any."""
        if not self.dlines:
            return None
        address = _address(host)
        if address is None:
            return None
        for ban, network in self.dlines.values():
            if ban.active(now) and address in network:
                return ban
        return None

    def covers(self, ban: Ban, user: str, host: str) -> bool:
        """Whether `ban` (one in force here) covers `user@host` (a D-line: the host alone)."""
        if ban.kind == "K":
            entry = self.klines.get(ban.mask)
            return entry is not None and entry[1](user) and entry[2](host)
        address = _address(host)
        dline = self.dlines.get(ban.mask)
        return address is not None and dline is not None and address in dline[1]

    def listed(self, kind: str, now: float) -> list[Ban]:
        """The bans of a kind in force, oldest first."""
        table = self.klines if kind == "K" else self.dlines
        return sorted((e[0] for e in table.values() if e[0].active(now)), key=lambda b: b.set_at)

    def expire(self, now: float) -> list[Ban]:
        """Drop the bans past their end; they are returned (for the store to forget)."""
        gone = [ban for ban in self.bans() if not ban.active(now)]
        for ban in gone:
            self.remove(ban.kind, ban.mask)
        return gone
