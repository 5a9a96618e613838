"""The PROXY protocol (HAProxy's): a trusted proxy's word on who the client really is.

A load balancer in TCP mode (HAProxy, nginx's stream module, a cloud's balancer) connects to
us itself, so every client would have its address: one person for the per-address limits, a
D-line that bans everyone. With the PROXY protocol it first sends one header naming the
client's address and port, before the client's own bytes (before a TLS handshake, too):

- version 1, text: `PROXY TCP4 192.0.2.7 198.51.100.1 51234 6667\\r\\n` (TCP6 for IPv6;
  `PROXY UNKNOWN\\r\\n` when it can't say), at most 107 bytes with its CR LF;
- version 2, binary: a 12-byte signature, a version-and-command byte (LOCAL, for the
  proxy's own connections such as health checks; PROXY, for a client's), an address family
  and transport byte, a 2-byte length, the addresses and ports, then extensions (TLVs),
  which are skipped.

Only the addresses in `trusted_proxies` are believed (the edge decides; see edge/proxied.py):
from anyone else the header is a stranger's opening (sniff.py). No I/O here: `parse` takes the
bytes read so far and says how long the header is and whom it names, or that more is needed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = [
    "MAX_V1", "SIGNATURE", "NoHeader", "ProxyHeader", "ProxyProtocolError", "certain", "parse",
]  # fmt: skip

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # version 2's first 12 bytes
V1_START = b"PROXY "
MAX_V1 = 107  # the longest version 1 line, CR LF included (the spec's own bound)
V2_FIXED = 16  # signature, version and command, family and transport, length
LOCAL, PROXY = 0x0, 0x1  # version 2's commands
UNSPEC, INET, INET6, UNIX = 0x0, 0x1, 0x2, 0x3  # version 2's address families
STREAM = 0x1  # version 2's transport for TCP (0x2 is a datagram)


class ProxyProtocolError(ValueError):
    """A header that can't be read: its sentence says what is wrong with it."""


class NoHeader(ProxyProtocolError):
    """The connection opened with something that is no PROXY header at all."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A whole header: how many bytes of the stream it took, and the client it names (None:
    keep the connection's own peer, for a proxy's own connection or one it can't describe)."""

    length: int
    client: tuple[str, int] | None
    version: int


def certain(data: bytes) -> bool:
    """Whether `data` surely starts a header, so every byte up to its end belongs to it (a
    shorter start, such as `P` or a CR LF, may still turn out to be something else)."""
    return data.startswith(V1_START) or data.startswith(SIGNATURE)


def parse(data: bytes) -> ProxyHeader | None:
    """The header at the start of `data`, or None while `data` is only its beginning.

    Raises NoHeader when `data` does not start like a header, and ProxyProtocolError for one
    that is malformed, too long, or names what a chat connection can't come from."""
    if data.startswith(b"P"):
        if not V1_START.startswith(data[: len(V1_START)]):
            raise NoHeader(f"no PROXY protocol header; the connection opened with {_shown(data)}")
        return _version_1(data) if len(data) > len(V1_START) else None
    if data.startswith(b"\r"):
        if not SIGNATURE.startswith(data[: len(SIGNATURE)]):
            raise NoHeader(f"no PROXY protocol header; the connection opened with {_shown(data)}")
        return _version_2(data) if len(data) >= V2_FIXED else None
    if not data:
        return None
    raise NoHeader(f"no PROXY protocol header; the connection opened with {_shown(data)}")


def _version_1(data: bytes) -> ProxyHeader | None:
    end = data.find(b"\r\n", 0, MAX_V1)
    if end < 0:
        if b"\n" in data[:MAX_V1]:
            raise ProxyProtocolError("PROXY protocol v1 line not ended by CR LF")
        if len(data) >= MAX_V1:
            raise ProxyProtocolError(f"PROXY protocol v1 line longer than {MAX_V1} bytes")
        return None
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyProtocolError("PROXY protocol v1 line with bytes that are not ASCII") from None
    parts = line.split(" ")
    family = parts[1]
    if family == "UNKNOWN":
        return ProxyHeader(end + 2, None, 1)
    if family not in ("TCP4", "TCP6"):
        raise ProxyProtocolError(
            f"PROXY protocol v1 with the unknown protocol {family[:16]!r} (TCP4, TCP6 or UNKNOWN)"
        )
    if len(parts) != 6:
        raise ProxyProtocolError(
            f"PROXY protocol v1 {family} line without its two addresses and two ports"
        )
    version = 4 if family == "TCP4" else 6
    source = _address_v1(parts[2], version, "source")
    _address_v1(parts[3], version, "destination")
    port = _port_v1(parts[4])
    _port_v1(parts[5])
    return ProxyHeader(end + 2, (source, port), 1)


def _address_v1(text: str, version: int, which: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyProtocolError(
            f"PROXY protocol v1 {which} address {text[:45]!r} is not an address"
        ) from None
    if address.version != version:
        raise ProxyProtocolError(
            f"PROXY protocol v1 {which} address {text} is not IPv{version}, as TCP{version} says"
        )
    return _plain(address)


def _port_v1(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 65535:
        raise ProxyProtocolError(f"PROXY protocol v1 port {text[:8]!r} is not a port (0-65535)")
    return int(text)


def _version_2(data: bytes) -> ProxyHeader | None:
    version, command = data[12] >> 4, data[12] & 0x0F
    if version != 2:
        raise ProxyProtocolError(f"PROXY protocol binary header of version {version}, not 2")
    if command not in (LOCAL, PROXY):
        raise ProxyProtocolError(f"PROXY protocol v2 with the unknown command {command:#x}")
    total = V2_FIXED + int.from_bytes(data[14:16], "big")
    if len(data) < total:
        return None
    if command == LOCAL:  # the proxy's own connection (a health check): its own address
        return ProxyHeader(total, None, 2)
    family, transport = data[13] >> 4, data[13] & 0x0F
    if family in (UNSPEC, UNIX):  # nothing we could use as an address: the proxy's own
        return ProxyHeader(total, None, 2)
    if family not in (INET, INET6):
        raise ProxyProtocolError(f"PROXY protocol v2 with the unknown address family {family:#x}")
    if transport != STREAM:
        raise ProxyProtocolError(
            f"PROXY protocol v2 names a transport other than TCP ({transport:#x})"
        )
    size = 4 if family == INET else 16
    if total - V2_FIXED < 2 * size + 4:
        raise ProxyProtocolError(
            f"PROXY protocol v2 {'IPv4' if family == INET else 'IPv6'} header too short "
            "for its addresses"
        )
    body = data[V2_FIXED:total]
    address = ipaddress.ip_address(body[:size])
    port = int.from_bytes(body[2 * size : 2 * size + 2], "big")
    return ProxyHeader(total, (_plain(address), port), 2)


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as the rest of the server writes it (an IPv4-mapped IPv6 one as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _shown(data: bytes) -> str:
    """The start of what came instead, for the error (at most 20 bytes of it)."""
    return repr(data[:20])[1:]
