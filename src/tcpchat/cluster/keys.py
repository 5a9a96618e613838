"""Every Redis key tcpchat uses, in one place, all under the `tcpchat:` prefix (so one Redis
database can be inspected, or flushed, knowing what is whose)."""

from __future__ import annotations

PREFIX = "tcpchat:"

# Hash: node id -> JSON {"epoch", "host", "pid", "started" (Redis ms), "users"}.
NODES = PREFIX + "nodes"
# Sorted set: node id -> its last heartbeat, in Redis server time (ms). Never a node's clock:
# nodes' clocks differ, Redis's is the one all of them compare against.
HEARTBEATS = PREFIX + "heartbeats"
# Counter (INCR): each join takes the next number as its node id and epoch.
NODE_SEQ = PREFIX + "node-seq"

# Hash: folded nick -> "NODE:UID", its holder network-wide (a claim is one atomic script).
NICKS = PREFIX + "nicks"


def node_nicks(node: int) -> str:
    """Set: the folded nicks node `node` holds, so reaping it frees them."""
    return f"{PREFIX}node-nicks:{node}"


# The keys of the node scripts, in the order they take them (KEYS[1], KEYS[2], ...).
NODE_KEYS = (NODES, HEARTBEATS, NODE_SEQ)
