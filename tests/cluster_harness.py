"""Nodes of a test cluster: server processes with --cluster on the test's private Redis,
their output read as it comes, and a deadline on every wait."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from net_harness import launch_server, start_server_printing

ROOT = Path(__file__).resolve().parent.parent
NODE_TIMEOUT = 1.0  # seconds: short, so a dead node is noticed quickly
DEADLINE = 15.0  # the most any condition below is waited for (a noisy, shared machine)
JOINED = r"^Cluster: node (\d+) \(epoch (\d+)\) at (\S+)$"


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> object:
    """Poll `condition` until it holds (its value), or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Node:
    """A server process with --cluster, its output read as it comes."""

    def __init__(self, *args: str, wait: bool = True) -> None:
        """`wait=False`: return once the process is started, not ready yet (a node that
        joins when no other can answer it is ready only later): `wait_ready()` then."""
        if wait:
            self.proc, self.port, self.startup = start_server_printing(*args)
        else:
            self.proc, self.port, self.startup = launch_server(*args), 0, []
        self.out: list[str] = []
        self.err: list[str] = []
        self.lock = threading.Lock()
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self.lock:
                lines.append(line.rstrip("\n"))

    def printed(self, pattern: str, stream: str = "out") -> re.Match[str] | None:
        with self.lock:
            lines = list(self.out if stream == "out" else self.err)
        return next((m for m in map(re.compile(pattern).search, lines) if m), None)

    def wait_printed(self, pattern: str, stream: str = "out") -> re.Match[str]:
        return wait_until(lambda: self.printed(pattern, stream), f"{pattern!r} on {stream}")

    def wait_ready(self) -> None:
        """For a node started with `wait=False`: until it is ready, its lines up to then
        moved from `out` to `startup`, as a node started waiting has them."""
        ready = self.wait_printed(r"^Server is waiting for connections")
        with self.lock:
            end = self.out.index(ready.string) + 1
            self.startup, self.out[:end] = self.out[:end], []
        listening = re.compile(r"^Listening on \S+:(\d+)$")
        self.port = int(next(m for m in map(listening.match, self.startup) if m).group(1))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # our own process, by its pid
        self.proc.wait(10)


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Start nodes on the test's clean database (or at `url`), all stopped at the end."""
    config = tmp_path / "cluster.toml"
    config.write_text(f"cluster_node_timeout = {NODE_TIMEOUT}\n")
    started: list[Node] = []

    def start(*args: str, url: str = redis_url, wait: bool = True) -> Node:
        node = Node("--host", "127.0.0.1", "--cluster", url, "--config", str(config), *args,
                    wait=wait)  # fmt: skip
        started.append(node)
        return node

    yield start
    for node in started:
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGCONT)  # a paused one must be able to die
        node.stop()


def joined(node: Node) -> tuple[int, int]:
    """The node id and epoch it announced before "Server is waiting for connections"."""
    match = next(m for m in map(re.compile(JOINED).match, node.startup) if m)
    return int(match.group(1)), int(match.group(2))


def stop_supervisor(supervisor: Node) -> None:
    """SIGTERM first, so the supervisor stops its workers and Redis even when the test failed
    (a SIGKILL would leave them running); SIGKILL only if it does not end."""
    if supervisor.proc.poll() is None:
        supervisor.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            supervisor.proc.wait(30)
    supervisor.stop()
