"""Every setting and limit of the server, in one place, with its default.

A TOML file may set any field below by its name (top level, or under a
`[server]` table); command-line flags override the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .passwords import parse_hash

# For IRC clients, who land in no room by themselves. People on nc and telnet get
# their own welcome instead (see PlainSession's show_motd), and are put in #lobby.
DEFAULT_MOTD = (
    "Welcome to tcpchat.\n"
    "People meet in #lobby: /join #lobby to say hello, /list for the other rooms."
)


class ConfigError(ValueError):
    """A config file or value the server cannot use; the message says which."""


@dataclass(slots=True)
class Settings:
    """Server settings. Field names are the config-file keys."""

    # Where to listen. "" means every interface, IPv4 and IPv6.
    host: str = ""
    port: int = 6667
    plain_listener: bool = True  # false: TLS only (needs tls_cert)
    # TLS beside the plain port, when a certificate is given (PEM files; the key may be
    # in the certificate's file). TLS 1.2 at least.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_port: int = 6697
    tls_handshake_timeout: float = 10.0  # a peer that stalls the handshake is dropped
    tls_shutdown_timeout: float = 2.0  # how long a closing TLS connection waits for the peer
    console: bool = True
    log_level: str = "info"
    event_loop: str = "auto"  # "uvloop" (faster, if installed), "asyncio", or "auto"

    # Who we are.
    server_name: str = "tcpchat"
    network_name: str = "tcpchat"
    motd: str = DEFAULT_MOTD
    password: str | None = None
    # Server operators: name -> scrypt hash of the password (`tcpchat hash-password`).
    operators: dict[str, str] = field(default_factory=dict)
    default_channel: str = "#lobby"
    # Nicks no client may take (the operator console speaks as "Server").
    reserved_nicks: tuple[str, ...] = ("Server",)

    # Protocol limits (advertised in ISUPPORT where IRC has a token).
    max_line_bytes: int = 512  # one line, CRLF included, tags aside
    max_tags_bytes: int = 8191  # the tags section, '@' and trailing space included
    nick_length: int = 30
    channel_length: int = 50
    topic_length: int = 390
    away_length: int = 200
    kick_length: int = 255
    user_length: int = 18
    channels_per_user: int = 50
    targets_per_message: int = 4

    # Connection handling.
    sendq_bytes: int = 1 << 20  # output buffered for one client before it is dropped
    plain_greeting_delay: float = 1.0  # silence before a peer is greeted as a person
    listen_backlog: int = 1024  # connections the OS queues before we accept them
    max_connections: int = 20000  # in total; the file-descriptor limit is raised to fit
    max_connections_per_address: int = 20  # per IPv4 address or IPv6 /64; 0 = no limit
    registration_timeout: float = 60.0  # to finish NICK/USER (or to give a nickname)
    ping_interval: float = 120.0  # silence before the server sends PING
    ping_timeout: float = 60.0  # then, silence before the client is dropped
    tcp_keepalive: bool = True  # let the OS find half-open connections of quiet peers
    socket_send_buffer: int = 0  # SO_SNDBUF per connection in bytes; 0 leaves it to the OS

    # Flood control: a token bucket per connection. Lines beyond it wait (are
    # delayed, not dropped); past flood_max_queued waiting lines the client is
    # disconnected with "Excess Flood". flood_rate = 0 turns it off.
    flood_burst: int = 20  # lines a client may send at once
    flood_rate: float = 5.0  # lines per second, sustained
    flood_max_queued: int = 500  # lines waiting before "Excess Flood"

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Load settings from a TOML file; unknown keys are an error, not ignored."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        table = data.pop("server", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [server] must be a table")
        data.update(table)
        return cls().updated(data, origin=str(path))

    def updated(self, values: dict[str, Any], origin: str = "settings") -> Settings:
        """A copy with `values` applied, each checked against the field's type."""
        known = {f.name: f for f in fields(self)}
        current = {name: getattr(self, name) for name in known}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{origin}: unknown setting {key!r}")
            default = current[key]
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"{origin}: {key} must be true or false")
            if key == "operators":
                value = _operators(value, origin)
            elif isinstance(default, tuple):
                value = tuple(value)
            elif isinstance(default, float) and isinstance(value, int):
                value = float(value)
            elif known[key].default is None:  # an optional string
                if value is not None and not isinstance(value, str):
                    raise ConfigError(f"{origin}: {key} must be a string")
            elif not isinstance(value, type(default)):
                raise ConfigError(f"{origin}: {key} must be a {type(default).__name__}")
            current[key] = value
        return Settings(**current)

    def check(self) -> None:
        """Settings that only make sense together, checked once all are applied."""
        if not self.plain_listener and not self.tls_cert:
            raise ConfigError("plain_listener = false (--no-plain) needs tls_cert (--tls-cert)")


def _operators(value: Any, origin: str) -> dict[str, str]:
    """The [operators] table: each name maps to a valid scrypt hash string."""
    if not isinstance(value, dict):
        raise ConfigError(f'{origin}: operators must be a table of name = "scrypt$..."')
    checked: dict[str, str] = {}
    for name, hashed in value.items():
        if not name or any(ch in name for ch in " ,:\0\r\n"):
            raise ConfigError(f"{origin}: operator name {name!r} can't be typed in OPER")
        if not isinstance(hashed, str):
            raise ConfigError(f"{origin}: operator {name!r} needs a hash string")
        try:
            parse_hash(hashed)
        except ValueError as exc:
            raise ConfigError(f"{origin}: operator {name!r}: {exc}") from None
        checked[name] = hashed
    return checked
