"""systemd's two small protocols, with the standard library only.

- The notify socket (`Type=notify`): a datagram to `$NOTIFY_SOCKET` says `READY=1` once the
  server listens, `STOPPING=1` when it shuts down, and `WATCHDOG=1` every half of
  `$WATCHDOG_USEC` while its event loop runs (a loop that hangs stops them, and systemd
  restarts the service).
- Socket activation (`tcpchat.socket`): listening sockets passed as file descriptors 3, 4,
  ... with `$LISTEN_FDS` (and `$LISTEN_PID` naming this process), each named by
  `$LISTEN_FDNAMES` as `irc`, `tls` or `web` (unnamed ones are the chat port). The server
  serves on them instead of binding its own.

Both are what sd_notify(3) and sd_listen_fds(3) do; the protocol is a few lines, so no
library is worth its weight here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("tcpchat.edge")

FIRST_FD = 3  # SD_LISTEN_FDS_START
KINDS = ("irc", "tls", "web")


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send `message` ("READY=1", ...) to the service manager; False when there is none."""
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("could not tell systemd %r: %s", message.split("=")[0], exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ, pid: int | None = None) -> float:
    """Seconds between two WATCHDOG=1 (half what systemd allows), or 0 for no watchdog."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID")
    if not usec.isdigit() or (owner and owner != str(pid or os.getpid())):
        return 0.0
    return int(usec) / 2e6


def activated_sockets(
    environ: Mapping[str, str] = os.environ, pid: int | None = None
) -> dict[str, list[socket.socket]]:
    """The listening sockets systemd passed this process, by kind (irc, tls, web)."""
    if environ.get("LISTEN_PID") != str(pid or os.getpid()):
        return {}
    count = int(environ.get("LISTEN_FDS", "0") or 0)
    names = environ.get("LISTEN_FDNAMES", "").split(":")
    found: dict[str, list[socket.socket]] = {}
    for index in range(count):
        sock = socket.socket(fileno=FIRST_FD + index)
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            log.warning("file descriptor %d is not a listening socket; ignored", sock.fileno())
            sock.detach()
            continue
        name = names[index] if index < len(names) else ""
        found.setdefault(name if name in KINDS else "irc", []).append(sock)
    return found


def tell_ready(
    loop: asyncio.AbstractEventLoop, addresses: list[tuple[str, int]]
) -> Callable[[], None]:
    """Under systemd (Type=notify): READY=1 now, and WATCHDOG=1 at half the interval it
    asks for, from the event loop (so a hung loop stops them). Returns what stops them."""
    shown = ", ".join(f"{host}:{port}" for host, port in addresses)
    notify(f"READY=1\nSTATUS=Serving on {shown}\nMAINPID={os.getpid()}")
    interval = watchdog_interval()
    handles: list[asyncio.TimerHandle] = []

    def beat() -> None:
        notify("WATCHDOG=1")
        handles[:] = [loop.call_later(interval, beat)]

    def stop() -> None:
        for handle in handles:
            handle.cancel()

    if interval:
        beat()
    return stop
