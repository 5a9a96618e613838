"""The node scripts against a real redis-server: join, heartbeat and fencing, reap, leave."""

from __future__ import annotations

import threading

import pytest
import redis

from tcpchat.cluster import keys, scripts


class Node:
    """The scripts bound to one connection, as a node would call them."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.join_script = client.register_script(scripts.JOIN)
        self.heartbeat_script = client.register_script(scripts.HEARTBEAT)
        self.reap_script = client.register_script(scripts.REAP)
        self.leave_script = client.register_script(scripts.LEAVE)

    def join(self, host: str = "h", pid: int = 1, token: str = "t") -> tuple[int, int]:
        node, epoch = self.join_script(keys=keys.NODE_KEYS, args=[host, pid, token])
        return int(node), int(epoch)

    def heartbeat(self, node: int, epoch: int, users: int = 0, token: str = "t") -> int:
        return int(
            self.heartbeat_script(keys=keys.NODE_KEYS, args=[node, epoch, users, token])
        )

    def reap(self, timeout_ms: int) -> list[int]:
        return sorted(
            int(each) for each in self.reap_script(keys=keys.NODE_KEYS, args=[timeout_ms])
        )

    def leave(self, node: int, epoch: int, token: str = "t") -> int:
        return int(self.leave_script(keys=keys.NODE_KEYS, args=[node, epoch, token]))


@pytest.fixture
def client(redis_server, redis_url):
    with redis_server.client() as each:
        yield each


def age(client: redis.Redis, node: int, ms: int) -> None:
    """Make a node's last heartbeat `ms` older (instead of waiting that long)."""
    client.zincrby(keys.HEARTBEATS, -ms, str(node))


def test_join_gives_increasing_ids_and_epochs_and_records_the_node(client):
    node = Node(client)
    first, second = node.join("alpha", 11), node.join("beta", 22)
    assert second[0] > first[0] and second[1] > first[1]
    record = client.hget(keys.NODES, str(second[0]))
    assert '"host":"beta"' in record and '"pid":22' in record and '"users":0' in record
    redis_now = client.time()
    beat = client.zscore(keys.HEARTBEATS, str(first[0]))
    assert abs(redis_now[0] * 1000 + redis_now[1] // 1000 - beat) < 5000  # Redis's own clock


def test_heartbeat_updates_users_and_refuses_a_wrong_epoch_as_fenced(client):
    node = Node(client)
    me, epoch = node.join()
    assert node.heartbeat(me, epoch, users=7) > 0
    assert '"users":7' in client.hget(keys.NODES, str(me))
    with pytest.raises(redis.ResponseError, match=r"^FENCED"):
        node.heartbeat(me, epoch + 1)
    assert '"users":7' in client.hget(keys.NODES, str(me))  # nothing written


def test_after_redis_lost_its_data_a_node_with_the_same_id_and_epoch_is_still_told_apart(
    client,
):
    """The counter starts again when Redis loses everything: a new node draws the old one's
    id and epoch, but not its token, so the old one is fenced, and cannot make it leave."""
    node = Node(client)
    old = node.join(token="old-token")
    client.flushdb()  # Redis restarted without its data
    new = node.join(token="new-token")
    assert new == old
    with pytest.raises(redis.ResponseError, match=r"^FENCED"):
        node.heartbeat(*old, token="old-token")
    assert node.leave(*old, token="old-token") == 0
    assert node.heartbeat(*new, token="new-token") > 0


def test_a_reaped_node_is_fenced_on_its_next_heartbeat(client):
    node = Node(client)
    me, epoch = node.join()
    age(client, me, 60_000)
    assert node.reap(10_000) == [me]
    with pytest.raises(redis.ResponseError, match=r"^FENCED"):
        node.heartbeat(me, epoch)
    assert client.hget(keys.NODES, str(me)) is None  # the fenced beat recreated nothing
    assert client.zscore(keys.HEARTBEATS, str(me)) is None


def test_reap_removes_only_stale_nodes_and_is_idempotent(client):
    node = Node(client)
    stale, _ = node.join()
    fresh, fresh_epoch = node.join()
    age(client, stale, 20_000)
    assert node.reap(10_000) == [stale]
    assert node.reap(10_000) == []
    assert client.hkeys(keys.NODES) == [str(fresh)]
    assert node.heartbeat(fresh, fresh_epoch) > 0


def test_two_reapers_at_once_share_the_dead_each_returned_once(redis_server, client):
    joiner = Node(client)
    dead = [joiner.join()[0] for _ in range(200)]
    alive = joiner.join()[0]
    for each in dead:
        age(client, each, 30_000)
    results: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def reap(slot: int) -> None:
        with redis_server.client() as own:
            reaper = Node(own)
            start.wait()
            for _ in range(20):
                results[slot].extend(reaper.reap(10_000))

    threads = [threading.Thread(target=reap, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results[0] + results[1]) == sorted(dead)  # each once, none missed
    assert client.hkeys(keys.NODES) == [str(alive)]


def test_leave_removes_the_node_but_not_with_a_wrong_epoch(client):
    node = Node(client)
    me, epoch = node.join()
    assert node.leave(me, epoch + 1) == 0
    assert client.hexists(keys.NODES, str(me))
    assert node.leave(me, epoch) == 1
    assert not client.hexists(keys.NODES, str(me))
    assert client.zscore(keys.HEARTBEATS, str(me)) is None
    assert node.leave(me, epoch) == 0  # leaving twice is harmless


def test_a_nick_is_one_owners_it_moves_with_a_rename_and_reaping_frees_it(client):
    node = Node(client)
    one, two = node.join(token="one"), node.join(token="two")
    claim = client.register_script(scripts.CLAIM_NICK)
    release = client.register_script(scripts.RELEASE_NICK)

    def claims(who: tuple[int, int], token: str, nick: str, uid: str, old: str = "") -> int:
        nick_keys = [keys.NODES, keys.NICKS, keys.node_nicks(who[0])]
        return int(claim(keys=nick_keys, args=[*who, token, nick, uid, old]))

    assert claims(one, "one", "alice", "u1") == 1
    assert claims(one, "one", "alice", "u1") == 1  # already hers
    assert claims(two, "two", "alice", "u9") == 0  # another node's user
    assert claims(one, "one", "alicia", "u1", old="alice") == 1  # a rename: one step
    assert client.hget(keys.NICKS, "alice") is None
    assert claims(two, "two", "alice", "u9") == 1
    nick_keys = [keys.NODES, keys.NICKS, keys.node_nicks(two[0])]
    assert int(release(keys=nick_keys, args=[*two, "two", "alice", "u8"])) == 0  # not u8's
    with pytest.raises(redis.ResponseError, match=r"^FENCED"):
        claims(two, "wrong-token", "bob", "u9")
    age(client, one[0], 60_000)
    assert node.reap(10_000) == [one[0]]
    assert client.hget(keys.NICKS, "alicia") is None  # the dead node's nicks are free
    assert client.hget(keys.NICKS, "alice") == f"{two[0]}:u9"  # the living one's stay
    assert client.exists(keys.node_nicks(one[0])) == 0
