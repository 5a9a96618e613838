"""The server's side of `--cluster`: join as a node once listening, leave at shutdown.

The core knows nothing of it yet (this slice shares no nicks or channels); the node only
reports how many users this server has, and says when it joined or was fenced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config import Settings

if TYPE_CHECKING:
    from ..cluster.node import ClusterNode
    from ..cluster.policy import Membership
    from .server import ChatServer


async def join_cluster(
    settings: Settings, server: ChatServer, say: Callable[[str], None]
) -> ClusterNode:
    """A started node: joined when Redis answered at once (and `say` told so), otherwise
    trying again in the background. Later slices will make the reaped nodes' users quit."""
    from ..cluster.node import ClusterNode

    assert settings.cluster_url is not None

    def joined(membership: Membership) -> None:
        say(f"Cluster: node {membership.node} (epoch {membership.epoch}) at {node.shown_url}")

    def fenced(membership: Membership, reason: str) -> None:
        say(
            f"Cluster: node {membership.node} (epoch {membership.epoch}) was fenced: the "
            "cluster declared it dead; rejoining as a new node"
        )

    node = ClusterNode(
        settings.cluster_url,
        settings.cluster_node_timeout,
        users=lambda: server.core.state.users,
        on_joined=joined,
        on_fenced=fenced,
    )
    await node.start()
    return node
