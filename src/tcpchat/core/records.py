"""The chat state's records: who is connected and which channels exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Bits of Client.tag_mask: which tags a client wants on relayed messages.
WANTS_TIME = 1  # server-time
WANTS_CLIENT_TAGS = 2  # message-tags


class Sink(Protocol):
    """Where the core writes a client's bytes; the edge decides how they travel."""

    def write(self, data: bytes) -> None:
        """Queue `data` (whole CRLF-terminated lines) for the client."""

    def close(self) -> None:
        """Send what is queued, then hang up."""


@dataclass(slots=True, eq=False)
class Client:
    """One connection as the chat core sees it (identity by object, not by nick)."""

    sink: Sink
    host: str
    connected_at: float
    # The sink's write, bound once, since relays call it for every recipient.
    write: Callable[[bytes], None] = field(init=False, repr=False)
    nick: str = "*"
    user: str = ""
    realname: str = ""
    password: str | None = None
    registered: bool = False
    cap_negotiating: bool = False
    caps: set[str] = field(default_factory=set)
    tag_mask: int = 0
    away: str | None = None
    modes: set[str] = field(default_factory=set)
    channels: dict[str, Channel] = field(default_factory=dict)  # folded name -> channel
    last_spoke: float = 0.0  # for WHOIS idle time
    last_heard: float = 0.0  # any line at all, for ping timeouts
    ping_sent: bool = False  # a keepalive PING is waiting for an answer
    gone: bool = False
    console: bool = False  # the server's own operator console, not a connection
    source: str = "*"  # nick!user@host, kept current so relays never rebuild it

    def __post_init__(self) -> None:
        self.write = self.sink.write

    def attach(self, sink: Sink) -> None:
        """Send this client's output somewhere else from now on."""
        self.sink = sink
        self.write = sink.write

    def refresh_source(self) -> None:
        """Recompute `source` after the nick or user changed."""
        self.source = f"{self.nick}!{self.user or '~u'}@{self.host}"


@dataclass(slots=True, eq=False)
class Channel:
    """A room. `members` maps each member to its status letters ('o', 'v', 'ov')."""

    name: str
    created: float
    members: dict[Client, str] = field(default_factory=dict)
    topic: str = ""
    topic_setter: str = ""
    topic_time: float = 0.0
    modes: set[str] = field(default_factory=lambda: {"n", "t"})
    key: str | None = None
    limit: int | None = None
    bans: dict[str, tuple[str, float]] = field(default_factory=dict)  # mask -> (setter, time)
    invited: set[Client] = field(default_factory=set)

    def status_prefix(self, member: Client, multi_prefix: bool = False) -> str:
        """The '@'/'+' shown before a member's nick, highest first."""
        status = self.members.get(member, "")
        prefix = ("@" if "o" in status else "") + ("+" if "v" in status else "")
        return prefix if multi_prefix else prefix[:1]

    def mode_string(self, show_key: bool) -> list[str]:
        """The channel's modes as MODE parameters, e.g. ['+klnt', 'secret', '10']."""
        letters = "".join(sorted(self.modes))
        params: list[str] = []
        if self.key is not None:
            letters += "k"
            params.append(self.key if show_key else "*")
        if self.limit is not None:
            letters += "l"
            params.append(str(self.limit))
        return ["+" + letters, *params]
