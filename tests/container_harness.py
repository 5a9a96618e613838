"""The Dockerfile read the way Docker reads it (instructions, the final stage, exec-form
commands), and the container's own command line run here as a plain process: with or without
a container runtime, the tests run what the image would run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from net_harness import ROOT

DATA = "/data"  # the image's data directory, replaced by a folder of the test's


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, USER, ...
    args: str

    def exec_form(self) -> list[str]:
        """`["a", "b"]`: the JSON array Docker runs without a shell."""
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self.args
        return value


def instructions(text: str) -> list[Instruction]:
    """Logical lines (a trailing backslash continues a line; comment lines are skipped, even
    inside a continued instruction, as Docker does), each split into keyword and arguments."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


@dataclass
class Dockerfile:
    """The repository's Dockerfile, and the facts of its final stage (the image people run)."""

    path: Path = ROOT / "Dockerfile"
    all: list[Instruction] = field(init=False)

    def __post_init__(self) -> None:
        self.all = instructions(self.path.read_text(encoding="utf-8"))

    @property
    def final(self) -> list[Instruction]:
        last_from = max(i for i, ins in enumerate(self.all) if ins.keyword == "FROM")
        return self.all[last_from + 1 :]

    def last(self, keyword: str) -> Instruction:
        found = [ins for ins in self.final if ins.keyword == keyword]
        assert found, f"no {keyword} in the Dockerfile's final stage"
        return found[-1]

    def args_defaults(self) -> dict[str, str]:
        """ARG NAME=default lines before the first FROM (what FROM ${NAME} expands to)."""
        defaults = {}
        for ins in self.all:
            if ins.keyword == "FROM":
                break
            if ins.keyword == "ARG" and "=" in ins.args:
                name, _, value = ins.args.partition("=")
                defaults[name] = value
        return defaults

    def base_image(self) -> str:
        base = self.last_from().split()[0]
        return re.sub(r"\$\{(\w+)\}", lambda m: self.args_defaults()[m.group(1)], base)

    def last_from(self) -> str:
        return [ins.args for ins in self.all if ins.keyword == "FROM"][-1]

    def command(self) -> list[str]:
        """What the container runs: ENTRYPOINT followed by CMD."""
        return self.last("ENTRYPOINT").exec_form() + self.last("CMD").exec_form()

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        """HEALTHCHECK's options (--interval=30s ...) and its exec-form command."""
        options, marker, command = self.last("HEALTHCHECK").args.partition(" CMD ")
        assert marker, "HEALTHCHECK without CMD"
        pairs = (option.removeprefix("--").partition("=") for option in options.split())
        return {name: value for name, _, value in pairs}, json.loads(command)


def here(command: list[str], data_dir: Path) -> list[str]:
    """The container's command as this machine runs it: `tcpchat` (the console script the image's
    virtualenv puts on PATH) is `python -m tcpchat`, and /data is `data_dir`."""
    assert command[0] == "tcpchat", command
    return [sys.executable, "-m", "tcpchat"] + [
        str(data_dir) if arg == DATA else arg for arg in command[1:]
    ]


def local_env() -> dict[str, str]:
    """This checkout's code, and none of the tests' default data directory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TCPCHAT_DATA_DIR", None)
    return env


class LocalServer:
    """A server started from a command line, with the ports it printed (IRC, web) and its
    output kept as it comes."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=local_env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        self.printed: list[str] = []
        self.errors: list[str] = []
        self.irc_port = self.web_port = 0
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._keep, args=(self.proc.stderr,), daemon=True).start()
        # blocks until the server prints; the test's timeout bounds it
        for line in self.proc.stdout:
            self.printed.append(line.rstrip("\n"))
            if found := re.match(r"Listening on 127\.0\.0\.1:(\d+)", line):
                self.irc_port = int(found.group(1))
            if found := re.match(r"Listening \(web: https?\) on 127\.0\.0\.1:(\d+)", line):
                self.web_port = int(found.group(1))
            if line.startswith("Server is waiting for connections"):
                return
        self.proc.wait(10)
        raise AssertionError(f"the server exited at start: {''.join(self.errors)}")

    def _keep(self, stream) -> None:
        for line in stream:
            self.errors.append(line)

    def stop(self) -> int:
        """SIGTERM, as `docker stop` sends; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()  # our own process, by its pid
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
