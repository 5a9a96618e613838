"""A node's decisions, as pure functions: what a Redis reply means, how long to wait before
trying again, what a URL shows in logs, how a node is listed. No I/O, no redis-py."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .scripts import FENCED

FIRST_RETRY = 0.1  # seconds before the first retry when Redis can't be reached
MAX_RETRY = 5.0  # the longest wait between two tries

PASSWORD_ENV = "REDIS_PASSWORD"


def retry_delay(attempt: int) -> float:
    """Seconds to wait before try `attempt + 1` (0 is the first retry): 0.1 s doubling, at
    most 5 s, so a Redis that is back is found soon, and one that is down is not hammered."""
    return min(MAX_RETRY, FIRST_RETRY * 2 ** min(attempt, 32))


def reason_of(exc: BaseException) -> str:
    """An exception in a few words, for one log line: its first line, or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def heartbeat_interval(node_timeout: float) -> float:
    """A node beats four times per timeout, so one or two lost beats never get it reaped."""
    return node_timeout / 4


def reaping_pause(node_timeout: float) -> float:
    """How long a node that just reached Redis again waits before it reaps anyone: while
    Redis was away nobody could beat, and the others may still be waiting to try again (up
    to MAX_RETRY); their heartbeats are old because of Redis, not because they died."""
    return node_timeout + MAX_RETRY


def reap_age(node_timeout: float) -> float:
    """How old a node's last heartbeat is when it is reaped: three missed beats. The others
    look once a beat, and its last beat was up to one beat before it died, so a dead node is
    noticed within `node_timeout` of dying (never later, as the setting promises)."""
    return node_timeout - heartbeat_interval(node_timeout)


def is_fenced(message: str) -> bool:
    """Whether a script's error reply says this node was fenced (reaped, or replaced)."""
    return message.split(" ", 1)[0] == FENCED


def public_url(url: str) -> str:
    """The URL as logs and the console may show it: without the password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc))


def password_for(url: str, environ: Mapping[str, str]) -> str | None:
    """The password to send: the URL's own, or else $REDIS_PASSWORD (kept out of command
    lines, where `ps` shows it)."""
    if urlsplit(url).password is not None:
        return None  # redis-py takes it from the URL
    return environ.get(PASSWORD_ENV) or None


def client_options(url: str, node_timeout: float, environ: Mapping[str, str]) -> dict[str, Any]:
    """redis-py's options besides the URL: a call that hangs fails well within a node's
    timeout, and redis-py retries nothing itself (the node's loop does, with its schedule)."""
    wait = max(0.5, min(5.0, node_timeout / 2))
    options: dict[str, Any] = {
        "socket_connect_timeout": wait,
        "socket_timeout": wait,
        "decode_responses": True,
    }
    password = password_for(url, environ)
    if password is not None:
        options["password"] = password
    return options


@dataclass(frozen=True, slots=True)
class Membership:
    """Who this process is in the cluster, until it leaves or is fenced."""

    node: int
    epoch: int
    # Random, drawn by the node at each join: if Redis lost its data and its counter
    # started again, a new node could draw an old node's id and epoch, but not its token.
    token: str = ""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node as `tcpchat cluster status` lists it."""

    node: int
    epoch: int
    host: str
    pid: int
    users: int
    heartbeat_ms: int | None  # None: no heartbeat on record

    def line(self, now_ms: int) -> str:
        age = (
            "never" if self.heartbeat_ms is None else f"{(now_ms - self.heartbeat_ms) / 1000:.1f}s"
        )
        return (
            f"node {self.node}  epoch {self.epoch}  {self.host}:{self.pid}  "
            f"users {self.users}  heartbeat {age} ago"
        )


def parse_status(records: Sequence[str], heartbeats: Sequence[str]) -> list[NodeInfo]:
    """The STATUS script's flat HGETALL and ZRANGE WITHSCORES replies, as nodes by id."""
    beats = {
        int(heartbeats[i]): int(float(heartbeats[i + 1])) for i in range(0, len(heartbeats), 2)
    }
    nodes = []
    for i in range(0, len(records), 2):
        node, record = int(records[i]), json.loads(records[i + 1])
        nodes.append(
            NodeInfo(
                node=node,
                epoch=int(record["epoch"]),
                host=str(record.get("host", "?")),
                pid=int(record.get("pid", 0)),
                users=int(record.get("users", 0)),
                heartbeat_ms=beats.get(node),
            )
        )
    return sorted(nodes, key=lambda each: each.node)
