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


# Stream: the bus. Every event of the network, in its one order: entry id 0-SEQ, fields
# n (the node that appended it), k (how many events), p (them, as codec.py writes them);
# a node's hello has k 0 and h (the node that answers it with a snapshot).
BUS = PREFIX + "bus"
# Counter: the bus's last sequence number.
BUS_SEQ = PREFIX + "bus-seq"
# Hash: node id -> the last batch number it appended (a retried append is not appended twice).
BUS_BATCHES = PREFIX + "bus-batches"

# Set: the nodes that know the network (they took in a snapshot, or were alone): only they
# answer a hello.
BUS_READY = PREFIX + "bus-ready"


def snapshot_for(node: int) -> str:
    """List: the snapshot a new node waits for (one item, pushed by the node answering)."""
    return f"{PREFIX}snapshot:{node}"


def node_nicks(node: int) -> str:
    """Set: the folded nicks node `node` holds, so reaping it frees them."""
    return f"{PREFIX}node-nicks:{node}"


# The keys of the node scripts, in the order they take them (KEYS[1], KEYS[2], ...).
NODE_KEYS = (NODES, HEARTBEATS, NODE_SEQ)
# The bus scripts' keys.
BUS_KEYS = (NODES, HEARTBEATS, BUS, BUS_SEQ, BUS_BATCHES, BUS_READY)
