"""The servers a benchmark runs against: tcpchat, and ngIRCd for comparison (InspIRCd,
the other, is in inspircd.py).

Each is started on 127.0.0.1 on a free port with its limits lifted, pinned to CPU 0 when
the machine has two cores (the load generator takes CPU 1), and stopped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNLIMITED = ROOT / "bench" / "unlimited.toml"


@dataclass
class ServerProcess:
    name: str
    host: str
    port: int
    process: subprocess.Popen | None = None
    workdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    web_port: int | None = None  # tcpchat's web port, when its clients use WebSocket

    @property
    def client_port(self) -> int:
        """Where the benchmark's clients connect: the web port if they speak WebSocket."""
        return self.web_port if self.web_port is not None else self.port

    @property
    def ports(self) -> list[int]:
        """Where the clients connect, spread over in turn: one port (a cluster has more)."""
        return [self.client_port]

    def node_cpu(self) -> list[float]:
        """Each cluster node's CPU seconds: none for one server."""
        return []

    def redis_cpu(self) -> float:
        """A cluster's Redis's CPU seconds: none for one server."""
        return 0.0

    @property
    def pid(self) -> int | None:
        """The server's own pid (under py-spy, the profiled child's)."""
        if self.process is None:
            return None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if "py-spy" in Path(f"/proc/{self.process.pid}/cmdline").read_text():
            return int(children.read_text().split()[0])
        return self.process.pid

    def rss_kib(self) -> int:
        assert self.pid is not None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        assert self.pid is not None
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def thread_cpu(self) -> dict[str, tuple[float, float, int]]:
        """User and system CPU seconds and context switches of the server's threads: its
        event loop (the main thread) and the others together (the database's)."""
        assert self.pid is not None
        tick = os.sysconf("SC_CLK_TCK")
        totals: dict[str, tuple[float, float, int]] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                status = (task / "status").read_text().split("\n")
            except OSError:  # the thread ended meanwhile
                continue
            switches = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
            name = "loop" if task.name == str(self.pid) else "others"
            user, system, count = totals.get(name, (0.0, 0.0, 0))
            totals[name] = (
                user + int(fields[11]) / tick,
                system + int(fields[12]) / tick,
                count + switches,
            )
        return totals

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pid = self.pid
            if pid is not None and pid != self.process.pid:
                os.kill(pid, signal.SIGTERM)  # py-spy then writes its profile and exits
            else:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir is not None:
            self.workdir.cleanup()


def two_cores() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pinned(command: list[str], cpu: int) -> list[str]:
    """Pin to one CPU with taskset when there are two cores to split."""
    return ["taskset", "-c", str(cpu), *command] if two_cores() else command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port}") from None
            time.sleep(0.05)


# Short names for settings a variant changes: `tcpchat:sync=full`.
SETTING_ALIASES = {"sync": "sqlite_synchronous", "data": "data_dir"}


def parse_variant(name: str) -> tuple[Path, dict[str, str]]:
    """`tcpchat[@DIR][:SETTING=VALUE]...`: the checkout (default this one) and the settings
    this variant changes over bench/unlimited.toml, e.g. `tcpchat:history=off`,
    `tcpchat:sync=full`, `tcpchat@../before:data=none` (no data directory: in memory)."""
    base, *options = name.split(":")
    root = Path(base.partition("@")[2]).resolve() if "@" in base else ROOT
    settings: dict[str, str] = {}
    for option in options:
        key, equals, value = option.partition("=")
        if not equals or not key:
            raise SystemExit(f"{name}: a variant's option reads SETTING=VALUE, not {option!r}")
        settings[SETTING_ALIASES.get(key, key)] = value
    return root, settings


def profile_file(profile: str, name: str) -> str:
    """Where a variant's profile goes, so each server of a run has its own: pairs.txt for
    `tcpchat`, pairs.history=off.txt for `tcpchat:history=off`, and pairs.@before.txt for
    `tcpchat@../before` (the checkout's folder name)."""
    base, _, options = name.partition(":")
    checkout = base.partition("@")[2]
    parts = [f"@{Path(checkout).resolve().name}"] if checkout else []
    if options:
        parts.append(options.replace(":", ","))
    if not parts:
        return profile
    tag = ".".join(parts)
    stem, dot, suffix = profile.rpartition(".")
    return f"{stem}.{tag}.{suffix}" if dot and "/" not in suffix else f"{profile}.{tag}"


def toml_value(text: str) -> str:
    """A variant's value as TOML: on/off and true/false are booleans, numbers stay numbers."""
    lowered = text.lower()
    if lowered in ("on", "true", "yes", "off", "false", "no"):
        return "true" if lowered in ("on", "true", "yes") else "false"
    try:
        float(text)
    except ValueError:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def start_tcpchat(
    event_loop: str = "auto",
    profile: str | None = None,
    root: Path = ROOT,
    name: str = "tcpchat",
    accounts: int = 0,
    settings: dict[str, str] | None = None,
    cpu: int = 0,
) -> Server:
    """tcpchat with bench/unlimited.toml; with `profile`, under py-spy writing a flame graph.

    `root` may be another checkout (say, of the commit before a change), to measure both in
    one run: `--servers tcpchat,tcpchat@../before`. Its data directory is a new temporary
    one, so history is written to a real file as it would be by default (`settings` may say
    `data_dir = "none"`: in memory); `settings` change others over unlimited.toml
    (`parse_variant`). With `accounts`, the directory holds that many accounts
    (`ACCOUNT_NAME.format(i)`, password `ACCOUNT_PASSWORD`), made before it starts.
    """
    settings = dict(settings or {})
    if toml_value(settings.pop("cluster", "off")) == "true":
        nodes = int(settings.pop("nodes", "1"))
        return start_cluster(event_loop, profile, root, name, settings, nodes)
    websocket = settings.pop("clients", "tcp") == "websocket"
    # free: rows made, not written; apart: the store's threads on CPU 1 (store_variant.py)
    store = settings.pop("store", "sqlite")
    if store not in ("sqlite", "free", "apart"):
        raise SystemExit(f"{name}: store is sqlite (the server's), free or apart, not {store!r}")
    launcher = [str(root / "server.py")] if store == "sqlite" else [
        str(ROOT / "bench" / "store_variant.py"), store, str(root)
    ]
    workdir = tempfile.TemporaryDirectory(prefix="bench-tcpchat-")
    folder = Path(workdir.name)
    data = settings.pop("data_dir", str(folder / "data"))
    if data.lower() in ("", "none", "memory"):
        data = "none"
    # The environment says where, not --data-dir: older checkouts ignore it, and then keep
    # nothing in ./tcpchat-data of theirs either way.
    env = {**os.environ, "TCPCHAT_DATA_DIR": data}
    data_dir: list[str] = []
    if accounts:
        if data == "none":
            raise SystemExit(f"{name}: accounts need a data directory")
        make_accounts(Path(data), accounts)
        data_dir = ["--data-dir", data]
    config = UNLIMITED
    if settings:
        config = folder / "bench.toml"
        extra = "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
        kept = [line for line in UNLIMITED.read_text().splitlines(keepends=True)
                if line.partition("=")[0].strip() not in settings]  # TOML allows a key once
        config.write_text("".join(kept) + extra)
    command = [
        sys.executable,
        *launcher,
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-console",
        "--log-level",
        "error",
        "--event-loop",
        event_loop,
        *data_dir,
        *web_port_options(root, websocket),
    ]
    if profile:
        command = [
            "py-spy",
            "record",
            "--nonblocking",
            "--rate",
            "250",
            "--format",
            "raw" if profile.endswith(".txt") else "flamegraph",  # raw: collapsed stacks
            "-o",
            profile,
            "--",
            *command,
        ]
    proc = subprocess.Popen(
        pinned(command, cpu), stdout=subprocess.PIPE, text=True, cwd=root, env=env
    )
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    for line in proc.stdout:
        match = re.match(r"Listening( \(web: http\))? on (\S+):(\d+)", line)
        if match:
            ports.setdefault("web" if match.group(1) else "irc", int(match.group(3)))
        if line.startswith("Server is waiting for connections") and "irc" in ports:
            if websocket and "web" not in ports:
                break
            web = ports.get("web") if websocket else None
            return ServerProcess(name, "127.0.0.1", ports["irc"], proc, workdir, web)
    proc.kill()
    proc.wait()
    workdir.cleanup()
    raise SystemExit(f"{name} did not start" + (" with a web port" if websocket else ""))


@dataclass
class ClusterProcess:
    """`tcpchat:cluster=on[:nodes=N]`: N nodes on one private redis-server (pinned to CPU
    1, beside the load generator: what the bus costs Redis is not the node's CPU). It
    passes for one server: clients are spread over the nodes' ports, CPU is their sum."""

    name: str
    nodes: list[ServerProcess]
    redis: subprocess.Popen
    workdir: tempfile.TemporaryDirectory = field(repr=False)
    web_port: int | None = None

    @property
    def host(self) -> str:
        return self.nodes[0].host

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def client_port(self) -> int:
        return self.nodes[0].port

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def pid(self) -> int | None:
        return self.nodes[0].pid

    def rss_kib(self) -> int:
        return sum(node.rss_kib() for node in self.nodes)

    def cpu_seconds(self) -> float:
        return sum(node.cpu_seconds() for node in self.nodes)

    def node_cpu(self) -> list[float]:
        return [node.cpu_seconds() for node in self.nodes]

    def redis_cpu(self) -> float:
        fields = Path(f"/proc/{self.redis.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def thread_cpu(self) -> dict[str, tuple[float, float, int]]:
        totals: dict[str, tuple[float, float, int]] = {}
        for node in self.nodes:
            for name, (user, system, switches) in node.thread_cpu().items():
                was = totals.get(name, (0.0, 0.0, 0))
                totals[name] = (was[0] + user, was[1] + system, was[2] + switches)
        return totals

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(15)
        self.workdir.cleanup()


# What a benchmark runs against: one server, or a cluster passing for one.
Server = ServerProcess | ClusterProcess


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a Unix socket in `folder`, as a cluster's README config
    says (append-only file, fsync every second), pinned to CPU 1; and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("cluster=on needs redis-server (apt-get install redis-server)")
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        pinned([binary, "--port", "0", "--unixsocket", str(sock), "--dir", str(folder),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--loglevel", "warning"], 1),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("redis-server did not start")
        time.sleep(0.05)
    return proc, f"unix://{sock}?db=0"


def start_cluster(
    event_loop: str, profile: str | None, root: Path, name: str, settings: dict[str, str],
    nodes: int,
) -> ClusterProcess:
    """`nodes` tcpchat nodes on one new Redis: node K pinned to CPU K mod 2."""
    workdir = tempfile.TemporaryDirectory(prefix="bench-cluster-")
    redis, url = start_redis(Path(workdir.name))
    started: list[ServerProcess] = []
    try:
        for index in range(nodes):
            each = dict(settings, cluster_url=url)
            node = start_tcpchat(event_loop, profile if index == 0 else None, root,
                                 f"{name}#{index}", 0, each, cpu=index % 2)  # fmt: skip
            assert isinstance(node, ServerProcess)  # a node, not a cluster of its own
            started.append(node)
    except BaseException:
        for node in started:
            node.stop()
        redis.terminate()
        workdir.cleanup()
        raise
    return ClusterProcess(name, started, redis, workdir)


def web_port_options(root: Path, websocket: bool) -> list[str]:
    """The web port: a free one when the clients use WebSocket, else off; nothing for a
    checkout from before the web port (it has no such option, and binds nothing more)."""
    if not (root / "src" / "tcpchat" / "edge" / "websocket.py").exists():
        if websocket:
            raise SystemExit(f"{root} has no WebSocket: clients=websocket needs it")
        return []
    return ["--web-port", "-1" if websocket else "0"]


ACCOUNT_NAME = "acct{}"
ACCOUNT_PASSWORD = "bench-password"


def make_accounts(data_dir: Path, count: int) -> None:
    """`count` accounts in a new data directory, as REGISTER would leave them (this checkout's
    schema). One set of SCRAM keys serves them all: a login costs the server the same."""
    sys.path.insert(0, str(ROOT / "src"))
    from tcpchat.accounts.scram import derive_keys
    from tcpchat.config import Settings
    from tcpchat.store.accounts import Account, create_account
    from tcpchat.store.database import Database
    from tcpchat.store.schema import MIGRATIONS

    keys = derive_keys(ACCOUNT_PASSWORD, iterations=Settings().password_iterations)

    def create(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN")
        for i in range(count):
            name = ACCOUNT_NAME.format(i)
            create_account(connection, Account(name, name, None, keys, time.time()))
        connection.execute("COMMIT")

    database = Database(data_dir, MIGRATIONS)
    database.open()
    try:
        database.run_now(create)
    finally:
        database.close()


NGIRCD_CONF = """\
[Global]
    Name = bench.ngircd
    Info = benchmark
    Listen = 127.0.0.1
    Ports = {port}
    MotdPhrase = bench
    PidFile = {dir}/ngircd.pid
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 30
    MaxPenaltyTime = 0
    PingTimeout = 3600
    PongTimeout = 3600
    MaxListSize = 100000
[Options]
    DNS = no
    Ident = no
    PAM = no
    SyslogFacility = local7
"""


def ensure_package(binary: str, package: str) -> str:
    """A server from Debian's packages, installed if missing (the benchmark runs as root)."""
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path:
        return path
    if os.geteuid() != 0:
        raise SystemExit(f"{binary} is not installed: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return f"/usr/sbin/{binary}"


def start_ngircd() -> ServerProcess:
    binary = ensure_package("ngircd", "ngircd")
    workdir = tempfile.TemporaryDirectory(prefix="bench-ngircd-")
    port = free_port()
    conf = Path(workdir.name) / "ngircd.conf"
    conf.write_text(NGIRCD_CONF.format(port=port, dir=workdir.name))
    proc = subprocess.Popen(
        pinned([binary, "-n", "-f", str(conf)], 0),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port)
    return ServerProcess("ngircd", "127.0.0.1", port, proc, workdir)


STARTERS: dict[str, Callable[[], Server]] = {"tcpchat": start_tcpchat, "ngircd": start_ngircd}
