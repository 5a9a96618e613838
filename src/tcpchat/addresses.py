"""Which connections count as coming from one place: an IPv4 address, or an IPv6 /64;
and whether an address is in one of a list of networks (settings such as metrics_allow).

The edge counts connections per place; the core counts account registrations per place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["address_key", "in_networks"]


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
    key = str(address)
    return host if key == host else key  # one string kept per connection, not two equal ones


def in_networks(address: str, networks: Sequence[str]) -> bool:
    """Whether `address` (an IPv4-mapped IPv6 one as IPv4) is in one of `networks`
    (addresses or CIDR networks; one that is neither is skipped)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False
