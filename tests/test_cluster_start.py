"""A node's first moments: it listens before it has joined the cluster."""

from __future__ import annotations

import asyncio

from tcpchat.cluster.node import ClusterNode
from tcpchat.edge.cluster import RedisNicks


def test_a_nick_asked_for_before_the_node_has_joined_is_given_once_it_has(redis_url):
    """A NICK can arrive between the server's first listen and its join: the claim waits
    for the join and gets the nick, where it was refused as "the network can't check"."""

    async def claim_then_start() -> list[object]:
        node = ClusterNode(redis_url, 4.0)
        nicks = RedisNicks(node, 4.0, present=lambda uid: True)
        answers: list[object] = []
        nicks.claim("x.1", "carol", None, answers.append)
        await asyncio.sleep(0)  # the claim's task runs up to where it waits
        assert answers == []
        membership = await node.start()
        assert membership is not None
        assert nicks.worker is not None
        await nicks.worker
        await node.stop()
        return answers

    assert asyncio.run(claim_then_start()) == [True]
