"""The container image (Dockerfile) and the three-node compose file (contrib/).

With a container runtime: the image is built and run, and a person's view of it is checked
(a chat client, /healthz, Docker's health status, a user that is not root). Without one, and
always: what the Dockerfile says, and the container's own command line and HEALTHCHECK run here
as plain processes; the compose file checked by Compose, HAProxy's config by HAProxy, and that
config run for real in front of three cluster nodes started with the compose file's command.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from pathlib import Path

import pytest

from cluster_harness import wait_until
from container_harness import DATA, Dockerfile, LocalServer, here, local_env
from docker_harness import Docker
from tcpchat.config import Settings

from net_harness import ROOT, LineClient

pytestmark = pytest.mark.timeout(60)
CONTRIB = ROOT / "contrib"
DEFAULTS = Settings()


def healthcheck_here(port: int) -> subprocess.CompletedProcess[str]:
    """The Dockerfile's HEALTHCHECK command, as is, against a server whose web port is `port`."""
    _, command = Dockerfile().healthcheck()
    assert command[0] == "python3" and f"127.0.0.1:{DEFAULTS.web_port}/healthz" in command[2]
    code = command[2].replace(f":{DEFAULTS.web_port}/", f":{port}/")
    return subprocess.run([sys.executable, *command[1:2], code], capture_output=True, text=True,
                          timeout=30)  # fmt: skip


# --- What the Dockerfile says -------------------------------------------------------------


def test_the_image_runs_as_its_own_user_with_its_data_in_the_volume():
    dockerfile = Dockerfile()
    user = dockerfile.last("USER").args
    assert user not in ("root", "0") and not user.startswith(("root:", "0:"))
    made = [ins.args for ins in dockerfile.final if ins.keyword == "RUN" and "useradd" in ins.args]
    assert made and re.search(rf"useradd .*\b{user}\b", made[0]), "USER is never created"
    assert re.search(rf"chown {user}:{user} {DATA}\b", made[0]), "the volume is not the user's"
    assert DATA in dockerfile.last("VOLUME").args.split()
    assert dockerfile.last("WORKDIR").args == DATA
    command = dockerfile.command()
    assert command[command.index("--data-dir") + 1] == DATA and "--no-console" in command
    assert "--host" not in command, "the default --host is every interface, IPv4 and IPv6"


def test_the_image_exposes_the_servers_default_ports_and_checks_its_health():
    dockerfile = Dockerfile()
    exposed = {int(port) for port in dockerfile.last("EXPOSE").args.split()}
    assert exposed == {DEFAULTS.port, DEFAULTS.tls_port, DEFAULTS.web_port} == {6667, 6697, 8080}
    options, command = dockerfile.healthcheck()
    assert command[:2] == ["python3", "-c"] and "urllib.request" in command[2]
    assert f"http://127.0.0.1:{DEFAULTS.web_port}/healthz" in command[2]
    assert {"interval", "timeout", "retries"} <= options.keys()


def test_the_image_installs_what_a_server_needs_on_a_slim_python():
    dockerfile = Dockerfile()
    assert dockerfile.base_image() == "python:3.11-slim"
    installs = " ".join(ins.args for ins in dockerfile.all if ins.keyword == "RUN")
    extras = re.search(r"\[([\w,]+)\]", installs)
    assert extras and set(extras.group(1).split(",")) == {"web", "cluster", "fast"}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert {"web", "cluster", "fast"} <= pyproject["project"]["optional-dependencies"].keys()
    assert pyproject["project"]["scripts"]["tcpchat"] == "tcpchat.cli:main"  # the ENTRYPOINT
    ignored = (ROOT / ".dockerignore").read_text().split()
    for kept_out in (".git", ".venv", "tcpchat-data", "tls", ".pytest_cache", ".mypy_cache"):
        assert kept_out in ignored, f"{kept_out} would be sent into the build"


# --- The container's command line, run here --------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "with-a-certificate"])
def test_the_containers_command_serves_chat_and_its_healthcheck_passes(tmp_path: Path, tls: bool):
    """ENTRYPOINT + CMD with a folder for /data and free ports on 127.0.0.1 (flags added
    after the image's override them, as with `docker run IMAGE --port ...`). With a
    certificate the web port speaks HTTPS, and the HEALTHCHECK must still pass."""
    data = tmp_path / "data"
    data.mkdir()
    argv = here(Dockerfile().command(), data)
    argv += ["--host", "127.0.0.1", "--port", "0", "--web-port", "-1"]
    if tls:
        argv += ["--tls-port", "0", *tls_flags(made_certificate(tmp_path))]
    server = LocalServer(argv, cwd=data)
    try:
        assert server.irc_port and server.web_port, server.printed
        alice = LineClient(server.irc_port).register("alice")
        alice.send("JOIN #boxed", "PRIVMSG #boxed :hello from the container's command")
        alice.expect(r" 366 alice #boxed ")
        done = healthcheck_here(server.web_port)
        assert done.returncode == 0, done.stderr
        assert (data / "tcpchat.sqlite3").exists(), "the data is not in /data"
        alice.close()
    finally:
        assert server.stop() == 0, "SIGTERM (docker stop) must end the server cleanly"
    # the same check fails once the server is gone: Docker would call it unhealthy
    assert healthcheck_here(server.web_port).returncode != 0


# --- Compose and HAProxy ---------------------------------------------------------------------


def compose(*args: str) -> str:
    """Compose v1 (Debian's docker-compose, which scripts/test.sh installs; the v2 plugin is
    not in Debian): `config` checks the file against Compose's schema without an engine."""
    v1 = shutil.which("docker-compose")
    assert v1, "docker-compose is missing: scripts/test.sh installs it"
    done = subprocess.run([v1, "-f", str(CONTRIB / "compose.yaml"), *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def service_blocks(config: str) -> dict[str, str]:
    """`compose config`'s output (normalised YAML), one text block per service."""
    services = config.split("\nservices:\n", 1)[-1] if not config.startswith("services:") \
        else config.split("\n", 1)[1]  # fmt: skip
    services = re.split(r"\n(?=\S)", services, maxsplit=1)[0]  # up to the next top-level key
    parts = re.split(r"^  (\S+):\n", services, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_compose_runs_three_nodes_and_a_redis_behind_one_balancer():
    assert set(compose("config", "--services").split()) == {
        "redis", "node-a", "node-b", "node-c", "balancer"}  # fmt: skip
    volumes = set(compose("config", "--volumes").split())
    assert volumes == {"redis-data", "node-a-data", "node-b-data", "node-c-data"}
    blocks = service_blocks(compose("config"))
    for node in ("node-a", "node-b", "node-c"):
        block = blocks[node]
        assert "- --cluster\n    - redis://redis:6379/0\n" in block
        assert f"- {node}-data:/data" in block, f"{node} has no data volume of its own"
        assert "ports:" not in block, f"{node} is published past the balancer"
        assert "condition: service_healthy" in block
    assert "appendonly" in blocks["redis"] and "redis:7-alpine" in blocks["redis"]
    published = re.findall(r"published: (\d+)", blocks["balancer"])
    assert sorted(map(int, published)) == [6667, 8080]
    assert "haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg" in blocks["balancer"]
    cli = shutil.which("docker")  # the v2 plugin too, where it is installed
    if cli and subprocess.run([cli, "compose", "version"], capture_output=True).returncode == 0:
        plugin = subprocess.run([cli, "compose", "-f", str(CONTRIB / "compose.yaml"), "config",
                                 "-q"], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert plugin.returncode == 0, plugin.stderr


def haproxy() -> str:
    binary = shutil.which("haproxy")
    assert binary, "haproxy is missing: scripts/test.sh installs it"
    return binary


def test_haproxy_accepts_the_config():
    """Outside Compose the nodes' names don't resolve: that, and nothing else, is warned of."""
    done = subprocess.run([haproxy(), "-c", "-f", str(CONTRIB / "haproxy.cfg")],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if "[WARNING]" in line]
    assert all("could not resolve address 'node-" in line for line in warnings), warnings
    config = (CONTRIB / "haproxy.cfg").read_text()
    assert "mode tcp" in config and "balance leastconn" in config
    assert re.search(r"http-check send meth GET uri /healthz", config)
    servers = re.search(r"^\s*default-server (.*)$", config, flags=re.M)
    assert servers and {"send-proxy-v2", "check-send-proxy"} <= set(servers.group(1).split())


def test_the_nodes_believe_the_balancers_proxy_header_from_the_compose_network_alone():
    """The compose network's subnet is fixed, and is the nodes' trusted_proxies; with the
    client's address known, the limits per address are on (the defaults), not turned off."""
    subnet = re.search(r"^networks:\n  default:\n    ipam:\n      config:\n      - subnet: (\S+)$",
                       compose("config"), flags=re.M)  # fmt: skip
    assert subnet, "the compose network has no fixed subnet"
    node = Settings().updated(tomllib.loads((CONTRIB / "compose-node.toml").read_text()))
    assert node.trusted_proxies == (subnet.group(1),)
    for limit in ("max_connections_per_address", "registrations_per_address",
                  "connections_per_minute_per_address"):  # fmt: skip
        assert getattr(node, limit) == getattr(DEFAULTS, limit) > 0, limit


def listed(block: str, key: str) -> list[str]:
    """The items of `key:` (a YAML list) in one service's block of `compose config`."""
    found = re.search(rf"^    {key}:\n((?:    - .*\n)+)", block, flags=re.M)
    assert found, f"no {key} in {block}"
    return [line.removeprefix("    - ") for line in found.group(1).splitlines()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_users(node: LocalServer) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.web_port}/metrics", timeout=10) as page:
        found = re.search(r"^tcpchat_local_users (\S+)$", page.read().decode(), flags=re.M)
    assert found, "no tcpchat_local_users in /metrics"
    return int(float(found.group(1)))


@pytest.mark.timeout(120)
def test_the_balancer_spreads_clients_over_the_three_nodes_and_skips_a_stopped_one(
    tmp_path: Path, redis_url: str
):
    """contrib/haproxy.cfg run by HAProxy, its binds and servers moved to 127.0.0.1 ports, in
    front of three nodes started with the compose file's command (its Redis is the tests')."""
    block = service_blocks(compose("config"))["node-a"]
    mounts = dict(reversed(m.split(":")[:2]) for m in listed(block, "volumes"))
    # The nodes' settings as compose mounts them, but trusting this balancer, on loopback.
    node_toml = next(path for path in mounts.values() if path.endswith("compose-node.toml"))
    settings = re.sub(r"^trusted_proxies = .*$", 'trusted_proxies = ["127.0.0.1"]',
                      Path(node_toml).read_text(), flags=re.M)  # fmt: skip
    (tmp_path / "tcpchat.toml").write_text(settings)
    mounts = {where: str(tmp_path / "tcpchat.toml") if path == node_toml else path
              for where, path in mounts.items()}  # fmt: skip
    nodes: dict[str, LocalServer] = {}
    balancer = None
    try:
        for name in "abc":
            data = tmp_path / name
            data.mkdir()
            argv = here(Dockerfile().command() + listed(block, "command"), data)
            argv = [mounts.get(arg, arg).replace("redis://redis:6379/0", redis_url)
                    for arg in argv]  # fmt: skip
            nodes[name] = LocalServer(argv + ["--host", "127.0.0.1", "--port", "0",
                                              "--web-port", "-1"], cwd=data)  # fmt: skip
        irc, web = free_port(), free_port()
        config = (CONTRIB / "haproxy.cfg").read_text()
        config = config.replace("bind :6667", f"bind 127.0.0.1:{irc}")
        config = config.replace("bind :8080", f"bind 127.0.0.1:{web}")
        for name, node in nodes.items():
            checked_at = f"port {node.web_port}"  # each node's /healthz
            config = config.replace(f"node-{name}:6667", f"127.0.0.1:{node.irc_port} {checked_at}")
            config = config.replace(f"node-{name}:8080", f"127.0.0.1:{node.web_port} {checked_at}")
        (tmp_path / "haproxy.cfg").write_text(config)
        balancer = subprocess.Popen([haproxy(), "-db", "-f", str(tmp_path / "haproxy.cfg")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        with urllib.request.urlopen(
            wait_until(lambda: _answering(web, balancer), "the balancer's web port"), timeout=10
        ) as page:
            assert page.read() == b"ok\n"

        # alice comes from 127.0.0.2; HAProxy connects to her node from 127.0.0.1, so that
        # node knows her address only from the balancer's PROXY header
        people = [LineClient(irc, source=f"127.0.0.{i}").register(nick).join("#lobby")
                  for i, nick in ((2, "alice"), (1, "bob"), (1, "carol"))]  # fmt: skip
        assert [local_users(node) for node in nodes.values()] == [1, 1, 1]
        people[0].send("PRIVMSG #lobby :one address, three nodes")
        for person in people[1:]:
            person.expect(r"^:alice!alice@127\.0\.0\.2 PRIVMSG #lobby :one address, three nodes$")
        people[1].send("WHOIS alice")
        people[1].expect(r" 311 bob alice alice 127\.0\.0\.2 \* :alice$")
        assert any(re.search(r"Client connected from: 127\.0\.0\.2:\d+ .* via proxy 127\.0\.0\.1$",
                             line) for node in nodes.values() for line in node.errors)  # fmt: skip
        people.pop().close()  # carol leaves her node empty: leastconn sends the next one there
        emptied = wait_until(lambda: next((n for n in nodes.values() if not local_users(n)), None),
                             "carol's node to be empty")  # fmt: skip
        dave = LineClient(irc).register("dave").join("#lobby")
        assert [local_users(node) for node in nodes.values()] == [1, 1, 1]

        assert isinstance(emptied, LocalServer) and emptied.stop() == 0  # dave's node stops
        dave.expect_closed()
        people[0].expect(r":dave!\S+ QUIT ")
        later = [LineClient(irc).register(f"late{i}") for i in range(4)]  # none refused
        assert sum(local_users(n) for n in nodes.values() if n is not emptied) == 2 + len(later)
        for person in people + later:
            person.close()
    finally:
        if balancer is not None:
            balancer.terminate()  # our own haproxy, by its pid
            balancer.wait(10)
        for node in nodes.values():
            node.stop()


def _answering(port: int, balancer: subprocess.Popen[bytes]) -> str | None:
    """The balancer's /healthz URL once it accepts connections."""
    if balancer.poll() is not None:
        said = balancer.stdout.read().decode() if balancer.stdout else ""
        raise AssertionError(f"haproxy exited: {said}")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return None
    return f"http://127.0.0.1:{port}/healthz"


# --- The image itself, on a container runtime ------------------------------------------------


def made_certificate(tmp_path: Path) -> Path:
    """A folder with gen-cert's cert.pem and key.pem (for localhost and 127.0.0.1)."""
    subprocess.run([sys.executable, "-m", "tcpchat", "gen-cert", "--out", str(tmp_path / "tls"),
                    "--host", "localhost"], env=local_env(), check=True, capture_output=True,
                   timeout=60)  # fmt: skip
    return tmp_path / "tls"


def tls_flags(folder: Path) -> list[str]:
    return ["--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem")]


def owned_by_the_images_user(folder: Path) -> Path:
    """As the README says to mount a certificate: readable by the image's user."""
    made = [ins.args for ins in Dockerfile().final if "useradd" in ins.args][0]
    uid = int(re.search(r"--uid (\d+)", made).group(1))  # type: ignore[union-attr]
    for path in (folder, *folder.iterdir()):
        if os.geteuid() == 0:
            os.chown(path, uid, uid)
        else:  # an engine reached without root: readable by everyone, in the test's own folder
            path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def published(docker: Docker, name: str, port: int) -> int:
    address = docker.run("port", name, f"{port}/tcp").stdout.split()[0]
    assert address.startswith("127.0.0.1:"), address
    return int(address.rsplit(":", 1)[1])


@pytest.mark.timeout(1800)  # the first run here makes a base image and installs from PyPI
def test_the_image_serves_chat_as_a_user_that_is_not_root_and_turns_healthy(
    docker: Docker, image: str, tmp_path: Path
):
    name = f"tcpchat-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    tls = owned_by_the_images_user(made_certificate(tmp_path))
    try:
        # --health-interval only shortens the wait: the check is the Dockerfile's own
        docker.run("run", "--detach", "--name", name, "--publish", "127.0.0.1::6667",
                   "--publish", "127.0.0.1::6697", "--publish", "127.0.0.1::8080",
                   "--health-interval", "1s", "--volume", f"{volume}:/data",
                   "--volume", f"{tls}:/tls:ro", image, *tls_flags(Path("/tls")))  # fmt: skip
        wait_until(lambda: "Server is waiting for connections" in docker.run("logs", name).stdout,
                   "the server in the container to listen", timeout=60)  # fmt: skip
        alice = LineClient(published(docker, name, 6667)).register("alice")
        alice.join("#boxed")
        trusting = ssl.create_default_context(cafile=str(tls / "cert.pem"))
        bob = LineClient(published(docker, name, 6697), host="localhost", ssl_context=trusting)
        bob.register("bob")
        bob.join("#boxed")
        alice.expect(r":bob!\S+ JOIN #boxed")
        web = f"https://localhost:{published(docker, name, 8080)}/healthz"  # TLS: HTTPS too
        with urllib.request.urlopen(web, timeout=10, context=trusting) as page:
            assert page.read() == b"ok\n"
        health = ["inspect", "--format", "{{.State.Health.Status}}", name]
        wait_until(lambda: docker.run(*health).stdout.strip() == "healthy",
                   "docker to call the container healthy", timeout=60)  # fmt: skip

        status = docker.run("exec", name, "cat", "/proc/1/status").stdout
        uids = re.search(r"^Uid:\s+(.*)$", status, flags=re.M)
        assert uids and set(uids.group(1).split()) != {"0"} and "0" not in uids.group(1).split()
        owner = docker.run("exec", name, "stat", "-c", "%u", "/data/tcpchat.sqlite3").stdout
        assert owner.split() == uids.group(1).split()[:1], "the data is not the server's"
        at_data = '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Type}} {{.Name}}{{end}}{{end}}'
        assert docker.run("inspect", "--format", at_data, name).stdout.split() == ["volume", volume]

        docker.run("stop", "--time", "10", name, timeout=30)
        exit_code = docker.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout
        assert exit_code.strip() == "0", "docker stop (SIGTERM) did not end the server cleanly"
        alice.expect_closed()
        bob.expect_closed()
    finally:
        docker.run("rm", "--force", name, check=False)
        docker.run("volume", "rm", volume, check=False)
