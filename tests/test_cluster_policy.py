"""The cluster's decisions without I/O: retry schedule, FENCED replies, URLs, status lines."""

from __future__ import annotations

from tcpchat.cluster.policy import (
    NodeInfo,
    heartbeat_interval,
    is_fenced,
    parse_status,
    password_for,
    public_url,
    reap_age,
    retry_delay,
)

from redis_harness import without_redis_py


def test_retry_delay_doubles_from_a_tenth_of_a_second_up_to_five():
    delays = [retry_delay(attempt) for attempt in range(10)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 5.0 and max(delays) == 5.0
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert retry_delay(10_000) == 5.0  # no overflow however long Redis is away


def test_heartbeats_come_four_times_per_timeout_and_three_missed_get_a_node_reaped():
    assert heartbeat_interval(10.0) == 2.5
    # Looked for once a beat, its last beat up to one before it died: within the timeout.
    assert reap_age(10.0) == 7.5 and reap_age(10.0) + heartbeat_interval(10.0) == 10.0


def test_only_a_fenced_reply_counts_as_fenced():
    assert is_fenced("FENCED node 3 is no longer in the cluster")
    assert not is_fenced("NOSCRIPT No matching script")
    assert not is_fenced("ERR FENCED")


def test_urls_in_logs_never_show_the_password():
    assert public_url("redis://:s3cret@db.example:6380/2") == "redis://db.example:6380/2"
    assert public_url("rediss://app:s3cret@db.example/0") == "rediss://app@db.example/0"
    assert public_url("unix:///run/redis.sock?db=3") == "unix:///run/redis.sock?db=3"


def test_password_comes_from_the_url_or_else_the_environment():
    env = {"REDIS_PASSWORD": "from-env"}
    assert password_for("redis://:in-url@h/0", env) is None  # redis-py reads the URL's
    assert password_for("redis://h/0", env) == "from-env"
    assert password_for("redis://h/0", {}) is None


def test_status_lists_nodes_by_id_with_their_heartbeat_age():
    records = [
        "12", '{"epoch":12,"host":"b","pid":9,"started":1,"users":3}',
        "3", '{"epoch":3,"host":"a","pid":7,"started":1,"users":0}',
    ]  # fmt: skip
    nodes = parse_status(records, ["3", "1000", "12", "1500"])
    assert [node.node for node in nodes] == [3, 12]
    assert nodes[1] == NodeInfo(12, 12, "b", 9, 3, 1500)
    assert nodes[1].line(now_ms=2000) == "node 12  epoch 12  b:9  users 3  heartbeat 0.5s ago"


def test_the_server_and_the_cluster_modules_import_without_redis_py():
    """redis-py is optional: made unimportable, the server and its cluster modules load."""
    done = without_redis_py(
        "import tcpchat.cli, tcpchat.cluster, tcpchat.cluster.policy, tcpchat.cluster.node\n"
        "import tcpchat.cluster.status, tcpchat.edge.cluster\n"
        "print('ok')\n"
    )
    assert done.stdout.strip() == "ok", done.stderr
