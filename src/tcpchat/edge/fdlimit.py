"""The open-file limit against max_connections: each connection holds one descriptor.

The server raises its soft limit to fit max_connections (plus a reserve for itself) as
far as the hard limit allows, and admits no more connections than the limit can hold, so
that a "Server is full" refusal comes before accept() runs out of descriptors.
"""

from __future__ import annotations

import contextlib
import resource

# Descriptors kept for the listening sockets, logs, files and the odd accept in flight.
FD_RESERVE = 64


def connection_cap(max_connections: int, fd_limit: int) -> int:
    """How many connections to admit, so that a "Server is full" refusal comes before the
    process runs out of descriptors (keeping a quarter of small limits in reserve)."""
    if fd_limit == resource.RLIM_INFINITY:
        return max_connections
    return min(max_connections, max(fd_limit - min(FD_RESERVE, fd_limit // 4), 1))


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards `wanted`, as far as the hard limit allows.

    Returns the soft limit in force afterwards (`fd_shortfall` says whether it matters).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # then the limit stays as it is
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


def fd_shortfall(max_connections: int, fd_limit: int) -> str | None:
    """One line to log when the open-file limit can't hold max_connections, else None.

    The soft limit has already been raised as far as the hard limit allows, so only the
    hard limit can be the cause. A limit that holds every connection but not the whole
    reserve costs a few connections at most, and is no news worth a line on every start.
    """
    if fd_limit == resource.RLIM_INFINITY or fd_limit >= max_connections:
        return None
    needed = max_connections + FD_RESERVE
    admitted = connection_cap(max_connections, fd_limit)
    return (
        f"open-file limit {fd_limit} allows only {admitted} of max_connections="
        f"{max_connections} connections; raise the hard limit to {needed} (ulimit -Hn "
        f"{needed} as root, LimitNOFILE={needed} for a systemd service) or lower max_connections"
    )
