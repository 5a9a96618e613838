"""`tcpchat cluster status --cluster URL`: the nodes in the cluster, one line each, as Redis
sees them (ages by Redis's clock, read in the same script as the nodes)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import INSTALL_HINT, keys, scripts
from .policy import NodeInfo, client_options, parse_status, public_url, reason_of

STATUS_TIMEOUT = 10.0  # seconds; the timeouts redis-py gets (connect, and each reply)


def read_status(url: str) -> tuple[int, list[NodeInfo]]:
    """Redis's time (ms) and every node, by id. Raises redis-py's errors."""
    import redis

    options = client_options(url, STATUS_TIMEOUT * 2, os.environ)
    with redis.Redis.from_url(url, **options) as client:
        status = client.register_script(scripts.STATUS)
        now, records, heartbeats = status(keys=keys.NODE_KEYS)
    return int(now), parse_status(records, heartbeats)


def cluster_main(argv: Sequence[str] | None = None, prog: str = "tcpchat cluster") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The cluster's nodes (servers started with --cluster): 'status' lists "
        "each one's id, epoch, host:pid, users and heartbeat age.",
    )
    parser.add_argument("action", choices=["status"], help="status: list the nodes")
    parser.add_argument(
        "--cluster",
        metavar="URL",
        required=True,
        help="the cluster's Redis, as given to the servers (password in the URL or "
        "$REDIS_PASSWORD)",
    )
    args = parser.parse_args(argv)
    try:
        import redis
    except ImportError:
        print(f"{prog}: needs redis-py, which is not installed: {INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        now, nodes = read_status(args.cluster)
    except (redis.RedisError, OSError, ValueError) as exc:
        reason = reason_of(exc)
        print(f"{prog}: cannot read the cluster at {public_url(args.cluster)}: {reason}",
              file=sys.stderr)  # fmt: skip
        return 1
    if not nodes:
        print(f"No nodes in the cluster at {public_url(args.cluster)}.")
    for node in nodes:
        print(node.line(now))
    return 0
