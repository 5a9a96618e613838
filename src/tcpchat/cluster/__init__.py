"""Several tcpchat processes as one network, through one Redis (design.md section 4).

So far, nodes and nicks: each server started with `--cluster URL` joins as a node (an id,
a fencing epoch and a token), keeps a heartbeat in Redis, reaps nodes whose heartbeat is too
old (freeing their nicks), rejoins as a new node when it finds itself fenced, and leaves at
shutdown; `tcpchat cluster status` lists the nodes. A nick is claimed network-wide before it
is taken (`CLAIM_NICK`; the core's seam is `core/shared_nicks.py`). Channels are not shared
yet.

Nothing here but `node` and `status` talks to Redis, and they import redis-py lazily: the
standard-library server never needs it. `keys`, `scripts` and `policy` are plain data and
pure functions, so the decisions are tested without I/O.
"""

from __future__ import annotations

from ..errors import ConfigError

INSTALL_HINT = "pip install 'tcpchat[cluster]'"


def check_cluster_url(url: str) -> None:
    """Before anything listens: --cluster without redis-py, or with a URL redis-py can't
    read (a port that is not a number), is a one-line ConfigError. No I/O."""
    try:
        from redis.connection import parse_url
    except ImportError:
        raise ConfigError(
            f"--cluster needs redis-py, which is not installed: {INSTALL_HINT}"
        ) from None
    try:
        parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"--cluster: {exc}") from None
