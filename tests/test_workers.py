"""`--workers N`: one command runs N processes sharing the port, joined into one network
through a private redis-server it starts in the data directory; a worker that dies is
started again, and SIGTERM stops everything, Redis included. Real processes throughout."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cluster_harness import Node, stop_supervisor, wait_until
from tcpchat.cluster.status import read_status

from net_harness import ROOT, LineClient

pytestmark = pytest.mark.timeout(120)


def test_two_workers_share_the_port_and_are_one_network(tmp_path: Path):
    config = tmp_path / "tcpchat.toml"
    config.write_text("cluster_node_timeout = 3.0\n")  # a busy worker is not taken for dead
    data = tmp_path / "data"
    relative = os.path.relpath(data, ROOT)  # as a person types it (Redis runs elsewhere)
    supervisor = Node("--host", "127.0.0.1", "--workers", "2", "--data-dir", relative,
                      "--config", str(config))  # fmt: skip
    try:
        assert any(line.endswith("(2 workers)") for line in supervisor.startup)
        url = f"unix://{data / 'redis' / 'redis.sock'}?db=0"
        clients = [LineClient(supervisor.port).register(f"user{i}").join("#all")
                   for i in range(16)]  # fmt: skip

        def counted() -> list:
            found = read_status(url)[1]
            return found if sum(node.users for node in found) == 16 else []

        nodes = wait_until(counted, "the 16 users counted on the workers")
        assert len(nodes) == 2 and all(node.users > 0 for node in nodes)  # both took some
        clients[0].send("PRIVMSG #all :hello, everyone")
        for client in clients[1:]:
            client.expect(r"^:user0!\S+ PRIVMSG #all :hello, everyone$")

        victim = nodes[1]
        marks = {id(client): len(client.seen) for client in clients}
        os.kill(victim.pid, signal.SIGKILL)  # a worker dies
        supervisor.wait_printed(rf"worker \d \(pid {victim.pid}\) exited with code -9; "
                                "starting it again", stream="err")  # fmt: skip
        wait_until(lambda: {n.pid for n in read_status(url)[1]} - {nodes[0].pid, victim.pid},
                   "the worker started again")  # fmt: skip
        survivor = next(c for c in clients if not c.sock._closed and _alive(c))
        # Each of its users left, told once (maybe before the PING that found the survivor).
        while len(split_quits(survivor, marks[id(survivor)])) < victim.users:
            survivor.readline(timeout=20)
        assert len(split_quits(survivor, marks[id(survivor)])) == victim.users
        again = LineClient(supervisor.port).register("newcomer").join("#all")
        assert again.seen

        supervisor.proc.send_signal(signal.SIGTERM)
        assert supervisor.proc.wait(30) == 0
        supervisor.wait_printed(r"^Shutting down\.\.\.$")
        assert not (data / "redis" / "redis.sock").exists()  # Redis stopped too
        assert (data / "worker-1").is_dir() and (data / "worker-2").is_dir()
    finally:
        stop_supervisor(supervisor)


def split_quits(client: LineClient, since: int) -> list[str]:
    return [line for line in client.seen[since:]
            if re.match(r"^:user\d+!\S+ QUIT :\*\.net \*\.split$", line)]  # fmt: skip


def _alive(client: LineClient) -> bool:
    client.send("PING :alive")
    try:
        client.expect(r"PONG \S+ :?alive", timeout=5)
    except AssertionError:
        return False
    return True


def test_workers_without_redis_server_say_how_to_get_it(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--workers", "2", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--no-console"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PATH": str(tmp_path)},  # no redis-server on it
    )  # fmt: skip
    assert done.returncode == 2
    assert "--workers needs Redis" in done.stderr
    assert "apt-get install redis-server" in done.stderr
