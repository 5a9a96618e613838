"""Servers started with --cluster against a real redis-server: they join, are listed by
`tcpchat cluster status`, reap a killed node, fence and rejoin a paused one, leave at
shutdown, and keep serving while Redis is away. Every wait is on a condition, with a deadline.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_harness import JOINED, NODE_TIMEOUT, Node, joined, wait_until
from tcpchat.cluster.policy import NodeInfo
from tcpchat.cluster.status import read_status

from net_harness import LineClient, sees_in
from redis_harness import RedisServer, without_redis_py

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)


def nodes_by_pid(url: str) -> dict[int, NodeInfo]:
    return {node.pid: node for node in read_status(url)[1]}


def status_cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tcpchat", "cluster", "status", "--cluster", url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
    )


def test_two_nodes_join_and_cluster_status_lists_both(cluster, redis_url):
    a, b = cluster(), cluster()
    (a_id, a_epoch), (b_id, b_epoch) = joined(a), joined(b)
    assert b_id > a_id and b_epoch > a_epoch
    # The announcement comes after the Listening lines, which are as they always were.
    assert a.startup[-1] == "Server is waiting for connections..."
    assert re.match(r"^Listening on 127\.0\.0\.1:\d+$", a.startup[0])
    assert re.match(JOINED, a.startup[-2]).group(3) == redis_url
    alice = LineClient(a.port).register("alice")
    wait_until(lambda: nodes_by_pid(redis_url)[a.pid].users == 1, "alice counted on a")
    done = status_cli(redis_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line, node_id, node in zip(lines, (a_id, b_id), (a, b), strict=True):
        match = re.match(
            r"^node (\d+)  epoch (\d+)  \S+:(\d+)  users (\d+)  heartbeat ([\d.]+)s ago$", line
        )
        assert match, line
        assert int(match.group(1)) == node_id and int(match.group(3)) == node.pid
        assert float(match.group(5)) < 5 * NODE_TIMEOUT
    assert re.search(r"  users 1  ", lines[0])
    alice.sock.close()


def test_a_killed_node_is_reaped_by_the_other_within_the_timeout(cluster, redis_url):
    a, b = cluster(), cluster()
    (a_id, _), (b_id, _) = joined(a), joined(b)
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    killed = time.monotonic()
    wait_until(lambda: b.pid not in nodes_by_pid(redis_url), "the killed node reaped")
    # Noticed within the timeout plus one beat (scheduling on a busy machine aside).
    assert time.monotonic() - killed < NODE_TIMEOUT * 1.25 + 3.0
    a.wait_printed(rf"reaped node\(s\) {b_id}: no heartbeat", stream="err")
    assert nodes_by_pid(redis_url)[a.pid].node == a_id  # the survivor is untouched


def test_a_paused_node_is_fenced_and_rejoins_as_a_new_node(cluster, redis_url):
    a, b = cluster(), cluster()
    b_id, b_epoch = joined(b)
    b.proc.send_signal(signal.SIGSTOP)
    wait_until(lambda: b.pid not in nodes_by_pid(redis_url), "the paused node reaped")
    b.proc.send_signal(signal.SIGCONT)
    b.wait_printed(
        rf"^Cluster: node {b_id} \(epoch {b_epoch}\) was fenced: the cluster declared it "
        "dead; its clients are let go, and it rejoins as a new node$"
    )
    rejoined = b.wait_printed(JOINED)
    new_id, new_epoch = int(rejoined.group(1)), int(rejoined.group(2))
    assert new_id > b_id and new_epoch > b_epoch
    listed = wait_until(lambda: nodes_by_pid(redis_url).get(b.pid), "the rejoined node")
    assert (listed.node, listed.epoch) == (new_id, new_epoch)
    assert b_id not in {node.node for node in read_status(redis_url)[1]}
    assert b.printed(r"node \d+ \(epoch \d+\) was fenced", stream="err")
    assert a.proc.poll() is None and b.proc.poll() is None


def test_sigterm_leaves_the_cluster_at_once(cluster, redis_url):
    a, b = cluster(), cluster()
    a_id, _ = joined(a)
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(10) == 0
    # No waiting for the reaper: the node left as it shut down.
    assert [node.node for node in read_status(redis_url)[1]] == [a_id]
    assert b.printed(r"node \d+ left the cluster", stream="err")


def test_an_unreachable_redis_keeps_the_server_up_retrying_until_it_comes(tmp_path):
    later = RedisServer(tmp_path)
    node = Node("--host", "127.0.0.1", "--cluster", later.url())
    try:
        assert not any(re.match(JOINED, line) for line in node.startup)
        node.wait_printed(r"cannot reach Redis at unix://\S+ \(.*\); retrying in", "err")
        alice = LineClient(node.port)  # served all the while, but a nick needs the network
        alice.send("NICK alice", "USER alice 0 * :alice")
        alice.expect(r" 437 \* alice :The network can't check that nick right now")
        alice.send("PING :still")
        alice.expect(r"PONG .*still")  # not hanging: the next line was answered
        later.start()
        try:
            node.wait_printed(JOINED)
            node.wait_printed(r"Redis at \S+ answers again", "err")
            alice.send("NICK alice")
            alice.expect(r" 001 alice ")
        finally:
            node.proc.send_signal(signal.SIGTERM)
            assert node.proc.wait(10) == 0
            later.stop()
    finally:
        node.stop()


def test_cluster_without_redis_py_is_one_line_and_exit_code_2():
    done = without_redis_py(
        "from tcpchat.cli import script_main\n"
        "sys.exit(script_main(['--port', '0', '--web-port', '0', '--no-console',"
        " '--cluster', 'redis://127.0.0.1:1/0']))\n"
    )
    assert done.returncode == 2
    assert "Listening" not in done.stdout
    assert done.stderr.strip().splitlines() == [
        "server.py: --cluster needs redis-py, which is not installed: "
        "pip install 'tcpchat[cluster]'"
    ]


def test_cluster_status_says_when_redis_cannot_be_reached(tmp_path):
    url = f"unix://{tmp_path}/nothing.sock?db=0"
    done = status_cli(url)
    assert done.returncode == 1
    assert done.stderr.startswith(f"tcpchat cluster: cannot read the cluster at {url}: ")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://x/", "--cluster http://x/: must be a redis://, rediss:// or unix:// URL"),
        ("redis://x:port/0", "--cluster: Port could not be cast to integer value as 'port'"),
    ],
)
def test_a_bad_cluster_url_is_refused_before_listening(url, said):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--no-console", "--cluster", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"server.py: {said}"]
    assert "Listening" not in proc.stdout


# ------------------------------------------------------------ nicks, network-wide


def registration(node: Node, nick: str) -> LineClient:
    """A client on `node` that has asked for `nick` (and not yet read the answer)."""
    client = LineClient(node.port)
    client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    return client


def outcome(client: LineClient, nick: str) -> str:
    """"won" (welcomed as `nick`) or "taken" (433)."""
    match = client.expect(rf" (?:(001) {nick}|433 \S+ {nick}) ")
    return "won" if match.group(1) else "taken"


def test_a_nick_claimed_on_two_nodes_at_once_goes_to_exactly_one(cluster, redis_url):
    a, b = cluster(), cluster()
    for round_ in range(20):
        nick = f"racer{round_}"
        first, second = registration(a, nick), registration(b, nick)
        results = sorted([outcome(first, nick), outcome(second, nick)])
        assert results == ["taken", "won"], (round_, results)
        first.close()
        second.close()
    # A nick let go on one node (its holder left) is free on the other.
    alice = LineClient(a.port).register("alice")
    assert outcome(registration(b, "alice"), "alice") == "taken"
    alice.send("QUIT :bye")
    alice.expect_closed()
    wait_until(lambda: outcome(registration(b, "alice"), "alice") == "won", "alice free on b")


def renamer_and_watcher(a: Node, b: Node, nick: str) -> tuple[LineClient, LineClient]:
    """`nick` on node a, in #rename, and a watcher there on node b that sees them come: it
    will see their renames too, once those have come over the bus."""
    renamer = LineClient(a.port).register(nick)
    renamer.send("JOIN #rename")
    renamer.expect(rf" 366 {nick} #rename ")
    watcher = LineClient(b.port).register("watcher")
    sees_in(watcher, nick, "#rename")
    return renamer, watcher


def test_a_rename_lets_the_old_nick_go_network_wide_and_takes_the_new_one(cluster, redis_url):
    a, b = cluster(), cluster()
    alice, watcher = renamer_and_watcher(a, b, "alice")
    alice.send("NICK Alicia")
    alice.expect(r":alice!\S+ NICK :?Alicia")
    watcher.expect(r"^:alice!\S+ NICK :?Alicia$")
    assert outcome(registration(b, "alicia"), "alicia") == "taken"  # folded: one nick
    bob = registration(b, "alice")
    assert outcome(bob, "alice") == "won"
    alice.send("NICK ALICIA")  # another case of its own nick: still hers
    alice.expect(r":Alicia!\S+ NICK :?ALICIA")
    assert outcome(registration(b, "Alicia"), "Alicia") == "taken"


def test_a_nick_let_go_by_a_rename_is_free_on_another_node_at_once(cluster, redis_url):
    """Redis lets the old nick go in the rename's own step, before the rename has come over
    the bus to node b: b takes Redis's word for it (it used to answer 433 until then), and
    b's user keeps the nick when the rename does arrive."""
    a, b = cluster(), cluster()
    alice, watcher = renamer_and_watcher(a, b, "alice0")
    for round_ in range(10):  # a newcomer registering with the nick alice just left
        alice.send(f"NICK alice{round_ + 1}")
        alice.expect(rf"^:alice{round_}!\S+ NICK :?alice{round_ + 1}$")
        newcomer = registration(b, f"alice{round_}")
        assert outcome(newcomer, f"alice{round_}") == "won", round_
        newcomer.close()
    bob = LineClient(b.port).register("bob")  # someone already here renaming to it
    alice.send("NICK Alicia")
    alice.expect(r"^:alice10!\S+ NICK :?Alicia$")
    bob.send("NICK alice10")
    bob.expect(r"^:bob!\S+ NICK :?alice10$")
    watcher.expect(r"^:alice10!\S+ NICK :?Alicia$")  # the rename has reached b now
    watcher.send("WHOIS alice10", "WHOIS Alicia")
    assert watcher.expect(r" 311 watcher (\S+) (\S+) ").groups() == ("alice10", "bob")
    assert watcher.expect(r" 311 watcher (\S+) (\S+) ").groups() == ("Alicia", "alice0")


def test_a_dead_nodes_nicks_are_free_once_it_is_reaped(cluster, redis_url):
    a, b = cluster(), cluster()
    ghost = LineClient(b.port).register("ghost")  # held open: the nick stays taken
    assert outcome(registration(a, "ghost"), "ghost") == "taken"
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    wait_until(lambda: b.pid not in nodes_by_pid(redis_url), "the killed node reaped")
    assert outcome(registration(a, "ghost"), "ghost") == "won"
    ghost.close()


def test_a_fenced_node_lets_its_clients_go_saying_why(cluster, redis_url):
    a, b = cluster(), cluster()
    held = LineClient(b.port).register("paused")
    b.proc.send_signal(signal.SIGSTOP)
    wait_until(lambda: b.pid not in nodes_by_pid(redis_url), "the paused node reaped")
    taker = registration(a, "paused")
    assert outcome(taker, "paused") == "won"  # freed with the node
    b.proc.send_signal(signal.SIGCONT)
    held.expect(r"^ERROR :.*cut off from the network for too long.*please reconnect")
    b.wait_printed(JOINED)
    assert outcome(registration(b, "paused"), "paused") == "taken"  # still a's
    taker.close()


def test_clients_that_hang_up_while_their_nick_is_claimed_leave_no_nick_behind(
    cluster, redis_url
):
    a, b = cluster(), cluster()
    nicks = [f"quick{i}" for i in range(20)]
    for nick in nicks:  # asks, and hangs up before the network's answer can come back
        registration(a, nick).close()
    for nick in nicks:
        wait_until(lambda n=nick: outcome(registration(b, n), n) == "won", f"{nick} free")


def test_local_users_are_told_when_redis_stops_answering_and_when_it_is_back(
    cluster, redis_server, redis_url
):
    a = cluster()
    alice = LineClient(a.port).register("alice")
    with redis_server.client() as admin:
        admin.execute_command("CLIENT", "PAUSE", "3000", "ALL")  # Redis answers no one
    alice.expect(r"NOTICE alice :The network's shared store can't be reached: you can go on "
                 "chatting, and what you say is delivered when it is back")  # fmt: skip
    alice.send("PING :here")
    alice.expect(r"PONG .*here")  # chatting here goes on meanwhile
    alice.expect(r"NOTICE alice :The network's shared store is back")
    alice.send("NICK alicia")
    alice.expect(r":alice!\S+ NICK :?alicia")
