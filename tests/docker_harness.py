"""A Docker engine for the image tests, and the image built on it.

The engine: the one the docker command already reaches, or else (as root, with Debian's
docker.io installed, as `TCPCHAT_TEST_CONTAINER=1 scripts/test.sh` does) a private dockerd of
the tests' own, on its own socket, stopped by its pid at the end. Ours changes nothing in the
firewall (no iptables rules, no forwarding): published ports go through docker-proxy on 127.0.0.1.

The base: the Dockerfile's python:3.11-slim when the engine has it or can pull it. A machine
that reaches no image registry (Debian and PyPI only) gets a stand-in of the same kind under
another name: Debian bookworm's Python 3.11 from debootstrap, made once and kept by the engine.
The build runs on the host's network so that pip reaches PyPI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from container_harness import Dockerfile

from net_harness import ROOT

PRIVATE = Path("/run/tcpchat-test-docker")  # our dockerd's socket, pid file and exec root
PRIVATE_DATA = Path("/var/lib/tcpchat-test-docker")  # its images, kept for the next run
STAND_IN = "tcpchat-test-base:bookworm-python3.11"
IMAGE = "tcpchat-test:latest"


@dataclass
class Docker:
    """The docker command, pointed at an engine that answers."""

    cli: str
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60, check: bool = True
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        done = subprocess.run([self.cli, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done

    def answers(self) -> bool:
        return self.run("version", "--format", "{{.Server.Version}}", check=False,
                        timeout=20).returncode == 0  # fmt: skip

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, check=False).returncode == 0


def _private_engine(cli: str) -> tuple[Docker, int]:
    """Our own dockerd, or a skip that says why none can run here."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        pytest.skip("no Docker engine answers, and none can be started here: dockerd needs "
                    "root and docker.io (TCPCHAT_TEST_CONTAINER=1 scripts/test.sh installs it; "
                    "CI leaves it out for time)")  # fmt: skip
    PRIVATE.mkdir(parents=True, exist_ok=True)
    host = f"unix://{PRIVATE}/docker.sock"
    left = Docker(cli, {**os.environ, "DOCKER_HOST": host})
    if left.answers():  # ours, left running by a run that was killed: stopped at the end
        return left, int((PRIVATE / "dockerd.pid").read_text())
    log = (PRIVATE / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [dockerd, "--host", host, "--pidfile", str(PRIVATE / "dockerd.pid"),
         "--exec-root", str(PRIVATE / "exec"), "--data-root", str(PRIVATE_DATA),
         "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
         "--bip", "10.232.0.1/24"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()  # dockerd has its own copy
    deadline = time.monotonic() + 60
    while not left.answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc.pid)
            said = (PRIVATE / "dockerd.log").read_text(errors="replace").strip().splitlines()
            pytest.skip("no container runtime works here: dockerd did not start: "
                        + " | ".join(said[-3:]))  # fmt: skip
        time.sleep(0.2)  # polling for the engine to answer, with a deadline
    return left, proc.pid


def _stop(pid: int) -> None:
    """Our own dockerd, by its pid: it stops its containerd too."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child: reaped
                return
        except ChildProcessError:  # left by an earlier run: not our child
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)  # polling for it to end, with a deadline
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def docker() -> Iterator[Docker]:
    cli = shutil.which("docker")
    if cli is None:
        pytest.skip("no docker command on this machine (TCPCHAT_TEST_CONTAINER=1 "
                    "scripts/test.sh installs docker.io; CI leaves it out for time)")  # fmt: skip
    reached = Docker(cli, dict(os.environ))
    if reached.answers():
        yield reached
        return
    engine, pid = _private_engine(cli)
    try:
        yield engine
    finally:
        _stop(pid)


def _stand_in(docker: Docker) -> str:
    """Debian bookworm's Python 3.11 (with venv and pip's certificates) as a base image."""
    if docker.has_image(STAND_IN):
        return STAND_IN
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        pytest.skip("the engine can't get python:3.11-slim and debootstrap (to make a stand-in "
                    "from Debian's packages) is missing: TCPCHAT_TEST_CONTAINER=1 "
                    "scripts/test.sh installs it")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tcpchat-rootfs-") as folder:
        rootfs = Path(folder) / "rootfs"
        subprocess.run([debootstrap, "--variant=minbase",
                        "--include=python3,python3-venv,ca-certificates", "bookworm",
                        str(rootfs)], check=True, capture_output=True, timeout=900)  # fmt: skip
        # The host's certificate bundle: pip in the build trusts what the host's pip trusts.
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([docker.cli, "import", "--change",
                        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt", "-", STAND_IN],
                       stdin=tar.stdout, env=docker.env, check=True, capture_output=True,
                       timeout=300)  # fmt: skip
        tar.wait()
    return STAND_IN


def base_image(docker: Docker) -> str:
    """The Dockerfile's base if the engine has it or can pull it, else the stand-in."""
    wanted = Dockerfile().base_image()
    if docker.has_image(wanted):
        return wanted
    if docker.run("pull", wanted, check=False, timeout=300).returncode == 0:
        return wanted
    return _stand_in(docker)


@pytest.fixture(scope="module")
def image(docker: Docker) -> Iterator[str]:
    """The repository's Dockerfile built as it is, on the base above; the builds it replaced
    are removed afterwards (the base stays, for the next run)."""
    base = base_image(docker)
    docker.run("build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base}",
               "--tag", IMAGE, str(ROOT), timeout=900)  # fmt: skip
    yield IMAGE
    docker.run("image", "prune", "--force", check=False)
