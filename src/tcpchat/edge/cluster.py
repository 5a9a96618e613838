"""The server's side of `--cluster`: join as a node once listening, leave at shutdown.

Shared so far: nicks (`RedisNicks`, the core's `SharedNicks`). A node that finds itself
fenced hangs up on its clients, saying why: the network freed their nicks when it declared
this node dead, so keeping them would let two people hold one nick.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..config import Settings
from ..core.shared_nicks import UNAVAILABLE, Claimed

log = logging.getLogger("tcpchat.cluster")

AWAY_NOTICE = (
    "The network's shared store can't be reached: you can go on chatting here, but a new "
    "nick can't be taken until it is back"
)
BACK_NOTICE = "The network's shared store is back: everything works again"
FENCED_REASON = (
    "This server was cut off from the network for too long and had to start again; please reconnect"
)

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
            "cluster declared it dead; its clients are let go, and it rejoins as a new node"
        )
        core = server.core
        for session in list(core.sessions):
            if not session.console:
                core.close(session, FENCED_REASON)

    def reachable(answers: bool) -> None:
        core = server.core
        for session in list(core.sessions):
            if session.registered and not session.console:
                core.notice(session, BACK_NOTICE if answers else AWAY_NOTICE)

    node = ClusterNode(
        settings.cluster_url,
        settings.cluster_node_timeout,
        users=lambda: server.core.state.users,
        on_joined=joined,
        on_fenced=fenced,
        on_reachable=reachable,
    )
    def present(uid: str) -> bool:
        return server.core.state.user(uid) is not None

    server.core.share_nicks(RedisNicks(node, settings.cluster_node_timeout, present))
    await node.start()
    return node


class RedisNicks:
    """The core's SharedNicks through the node's scripts. One task runs the calls one
    after another, in the order the core made them: a nick let go by one user and claimed
    by the next must reach Redis in that order, which a pool of connections would not keep."""

    def __init__(
        self, node: ClusterNode, timeout: float, present: Callable[[str], bool]
    ) -> None:
        self.node = node
        self.present = present  # is this uid still connected here?
        self.timeout = timeout  # a claim Redis does not answer in time is UNAVAILABLE
        self.calls: deque[Callable[[], Awaitable[None]]] = deque()
        self.worker: asyncio.Task[None] | None = None

    def claim(
        self, uid: str, folded: str, old: str | None, done: Callable[[Claimed], None]
    ) -> None:
        async def call() -> None:
            from ..cluster.node import Unavailable

            answer: Claimed
            try:
                async with asyncio.timeout(self.timeout):
                    answer = await self.node.claim_nick(uid, folded, old)
            except (Unavailable, TimeoutError) as exc:
                log.warning("nick %s could not be claimed: %s", folded, exc or "no answer")
                answer = UNAVAILABLE
            if answer and not self.present(uid):  # it hung up while Redis was asked
                await self.node.release_nick(uid, folded)
                return
            done(answer)

        self._queue(call)

    def release(self, uid: str, folded: str) -> None:
        self._queue(lambda: self.node.release_nick(uid, folded))

    def _queue(self, call: Callable[[], Awaitable[None]]) -> None:
        self.calls.append(call)
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        calls = self.calls
        while calls:
            await calls.popleft()()
