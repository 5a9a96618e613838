"""A private redis-server for the cluster tests: one per test session, on a Unix socket in a
temporary folder (no TCP port, so nothing else on the machine can collide with it), with
nothing saved to disk (unless a test asks for a Redis that keeps its data). Each test gets a
clean database and a URL to point tcpchat at it.

The system's redis service is never used or started: the tests start and stop their own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


class RedisServer:
    """A redis-server process of our own, bound to a Unix socket only."""

    def __init__(self, folder: Path, persistent: bool = False) -> None:
        """`persistent`: every write goes to an append-only file before Redis answers
        (appendfsync always, as the README asks of a cluster's Redis), so a restart in the
        same folder loses nothing."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.persistent = persistent
        self.socket = folder / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        """The form `--cluster` takes (and redis-py understands)."""
        return f"unix://{self.socket}?db={db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:  # CI must run these tests, never skip them
            raise RuntimeError(
                "redis-server is not installed: scripts/test.sh installs it "
                "(apt-get install redis-server)"
            )
        self.proc = subprocess.Popen(
            [
                binary,
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "yes" if self.persistent else "no",
                "--appendfsync", "always",
                "--daemonize", "no",
                "--dir", str(self.folder),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Ready once it answers PING on its socket (connection refused until then)."""
        import redis

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"redis-server exited at start: {output}")
            try:
                with redis.Redis(unix_socket_path=str(self.socket)) as client:
                    if client.ping():
                        return
            except (redis.ConnectionError, FileNotFoundError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer in time")
            time.sleep(0.02)  # polling the condition, with a deadline

    def client(self, db: int = 0):  # -> redis.Redis (imported lazily, as tcpchat does)
        import redis

        return redis.Redis(unix_socket_path=str(self.socket), db=db, decode_responses=True)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # our own process, by its pid
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    folder = Path(tempfile.mkdtemp(prefix="tcpchat-redis-"))
    server = RedisServer(folder).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database 0 for each test (tests run one at a time)."""
    with redis_server.client() as client:
        client.flushdb()
    return redis_server.url()


def without_redis_py(code: str) -> subprocess.CompletedProcess[str]:
    """Python `code` run with redis-py made unimportable (as on a machine without the
    cluster extra), this checkout's `src` on its path and no data directory."""
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['redis'] = None\n" + code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(root / "src"), "TCPCHAT_DATA_DIR": "none"},
    )
