"""Which connections count as coming from one place: an IPv4 address, or an IPv6 /64.

The edge counts connections per place; the core counts account registrations per place.
"""

from __future__ import annotations

import ipaddress

__all__ = ["address_key"]


def address_key(host: str) -> str:
    """Connections are counted per IPv4 address and per IPv6 /64 (one subscriber's share)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
