"""Real terminals for end-to-end tests: each `Terminal` is a private tmux server.

A test types with `type()` and reads the screen with `wait_for()`, which polls
the pane until the text shows up or the timeout passes. The command runs
wrapped so that its exit code is printed on the screen when it ends.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT = 15.0
_counter = itertools.count()


def require(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is not installed; scripts/test.sh installs it (apt-get install {tool})"
    return path


class Terminal:
    """One command running in a real terminal (a tmux pane)."""

    def __init__(
        self, command: list[str], *, netns: str | None = None, cwd: str | None = None,
        env: dict[str, str] | None = None, width: int = 120, height: int = 40,
    ) -> None:
        require("tmux")
        self.socket = f"tcpchat-test-{os.getpid()}-{next(_counter)}"
        shell = " ".join(shlex.quote(part) for part in command)
        variables = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        wrapped = f"{variables} {shell}; echo \"[exited with $?]\""
        launch = ["tmux", "-f", "/dev/null", "-L", self.socket]
        if netns:
            launch = ["ip", "netns", "exec", netns, *launch]
        subprocess.run(
            [*launch, "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
             "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
             "-c", cwd or os.getcwd(), wrapped],
            check=True,
        )

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return result.stdout

    def type(self, text: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", "main", "-l", text)
        if enter:
            self._tmux("send-keys", "-t", "main", "Enter")

    def press(self, *keys: str) -> None:
        """Keys by tmux name, e.g. press("C-c") or press("C-d")."""
        self._tmux("send-keys", "-t", "main", *keys)

    def command_pid(self) -> int:
        """The pid of the command (a child of the pane's shell), to signal it."""
        shell = self._tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip()
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        assert len(children) == 1, f"the pane's shell has children {children}"
        return int(children[0])

    def screen(self) -> str:
        """Everything the pane has shown, scrollback included, with wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "main")

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Poll the screen until `pattern` (a regex, multiline) shows up."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            match = re.search(pattern, screen, re.MULTILINE)
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {pattern!r} on the screen:\n{screen}")
            time.sleep(0.05)  # polling interval for an external terminal, not synchronisation

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        return int(self.wait_for(r"\[exited with (\d+)\]", timeout).group(1))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def server_with_console(*args: str) -> Terminal:
    """`python server.py ARGS` on 127.0.0.1, a free port, with its operator console."""
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "server.py", "--host", "127.0.0.1", "--port", "0", *args]
    return Terminal(command, cwd=str(root), env={"NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
