"""Every setting and limit of the server, in one place, with its default and valid range.

A TOML file may set any field below by its name (top level, or under a
`[server]` table); command-line flags override the file. Every value is checked
against its type and its range in `RANGES` as it is applied, with an error that
names the setting as the user wrote it; `Settings.check` checks a whole set again
(for a start, or a reload).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .logs import FORMATS as LOG_FORMATS
from .passwords import parse_hash
from .protocol import is_channel_name

# For IRC clients, who land in no room by themselves. People on nc and telnet get
# their own welcome instead (see PlainSession's show_motd), and are put in #lobby.
DEFAULT_MOTD = (
    "Welcome to tcpchat.\n"
    "People meet in #lobby: /join #lobby to say hello, /list for the other rooms."
)
DEFAULT_WEB_PORT = 8080


@dataclass(slots=True)
class Settings:
    """Server settings. Field names are the config-file keys."""

    # Where to listen. "" means every interface, IPv4 and IPv6.
    host: str = ""
    port: int = 6667
    plain_listener: bool = True  # false: TLS only (needs tls_cert)
    # HTTP + WebSocket (the web client, /healthz); 0 turns it off, -1 any free port (tests)
    web_port: int = DEFAULT_WEB_PORT
    web_host: str | None = None  # where the web port listens; None: the same as `host`
    allowed_origins: tuple[str, ...] = ()  # browser pages elsewhere that may connect
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1")  # who may read /metrics
    # Who may say who the client is (addresses or networks; none by default): their PROXY
    # protocol header on any port (required on the chat ports), X-Forwarded-For on the web port
    trusted_proxies: tuple[str, ...] = ()
    # TLS beside the plain port, when a certificate is given (PEM files; the key may be
    # in the certificate's file). TLS 1.2 at least.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_port: int = 6697
    tls_handshake_timeout: float = 10.0  # a peer that stalls the handshake is dropped
    tls_shutdown_timeout: float = 2.0  # how long a closing TLS connection waits for the peer
    # IRCv3 sts: seconds clients should insist on TLS after seeing the policy; 0: no policy.
    # Only with a certificate clients trust: a self-signed one would lock them out.
    sts_duration: int = 0
    console: bool = True
    log_level: str = "info"
    log_format: str = "text"  # "json": one object a line, with event, conn, addr, nick
    # Channel and private message text in the log (at info, event "message"): off, for
    # the people chatting; passwords are never logged.
    log_messages: bool = False
    event_loop: str = "auto"  # "uvloop" (faster, if installed), "asyncio", or "auto"

    # The embedded database (accounts, registered channels, history): one SQLite file in this
    # directory, made on first start, relative to where the server runs. "" keeps everything
    # in memory, gone at exit (the command line says --data-dir none).
    data_dir: str = "tcpchat-data"
    # How hard SQLite syncs to disk: "normal" (a power cut may lose the last commits; a
    # crash of the server loses nothing) or "full" (nothing, at a cost per commit).
    sqlite_synchronous: str = "normal"

    # History: every channel and private message (and channel events) kept in the database,
    # written before anyone receives it; CHATHISTORY, playback on JOIN and SEARCH read it.
    history: bool = True
    history_on_join: int = 20  # lines a client without chathistory is sent on JOIN; 0: none
    history_days: float = 30.0  # older lines are deleted; 0: kept however old
    history_max_per_target: int = 100_000  # lines kept per channel or conversation
    chathistory_max: int = 1000  # CHATHISTORY=: the most lines one request returns

    # Accounts.
    registration: bool = True  # REGISTER is open (operators can always make accounts)
    registration_requires_approval: bool = False  # new accounts wait for VERIFY with a code
    registrations_per_minute: int = 30  # server-wide, new accounts a minute
    registrations_per_address: int = 3  # new accounts per address (IPv6 /64) an hour
    nick_grace: float = 30.0  # seconds to log in before a registered nick is taken back
    password_min_length: int = 8  # REGISTER: shorter passwords are WEAK_PASSWORD
    password_iterations: int = 4096  # PBKDF2 rounds of the SCRAM-SHA-256 keys kept
    certfps_per_account: int = 5  # TLS client certificates that log one account in (CERTFP)

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
    # The tags section a client may send, '@' and trailing space included: IRCv3 allows a
    # client 4094 bytes of tag data (the server's own tags go on top when relaying).
    max_tags_bytes: int = 4096
    nick_length: int = 30
    channel_length: int = 50
    topic_length: int = 390
    away_length: int = 200
    kick_length: int = 255
    user_length: int = 18
    realname_length: int = 150  # NAMELEN: longest real name (USER cuts it, SETNAME refuses)
    host_length: int = 64  # HOSTLEN: longest host an operator may give someone (CHGHOST)
    channels_per_user: int = 50
    targets_per_message: int = 4
    key_length: int = 50  # KEYLEN: longest channel key (+k)
    max_list_entries: int = 100  # MAXLIST: bans per channel
    modes_per_command: int = 4  # MODES: mode changes with a parameter in one MODE command
    # UTF8ONLY: refuse lines that are not valid UTF-8 (FAIL ... INVALID_UTF8) instead of
    # reading them as Latin-1.
    utf8_only: bool = False
    # draft/multiline: the most a message of several lines may hold (its bytes, each line
    # feed counted, and its lines), advertised as max-bytes and max-lines.
    multiline_max_bytes: int = 4096
    multiline_max_lines: int = 100
    monitor_limit: int = 100  # MONITOR: nicks on one client's MONITOR list
    whowas_entries: int = 1000  # WHOWAS records kept in all (the oldest go first); 0: none
    whowas_per_nick: int = 10  # WHOWAS records kept for any one nick
    knock_interval: float = 60.0  # seconds a user waits between two KNOCKs; 0: no wait

    # Clustering (in progress: nodes and nicks are shared, channels not yet). A Redis URL
    # (redis://, rediss:// for TLS, unix://PATH?db=N) joins this server to the cluster there
    # as a node; None runs alone. A password goes in the URL or in $REDIS_PASSWORD. Needs
    # redis-py: pip install 'tcpchat[cluster]'.
    cluster_url: str | None = None
    # --workers N: N processes on this machine, one network through Redis (workers.py).
    workers: int = 1
    reuse_port: bool = False  # share the ports with other processes (each worker does)
    # Seconds without a heartbeat before the other nodes declare a node dead and reap it;
    # each node beats four times per timeout.
    cluster_node_timeout: float = 10.0

    # Connection handling.
    sendq_bytes: int = 1 << 20  # output buffered for one client before it is dropped
    plain_greeting_delay: float = 1.0  # silence before a peer is greeted as a person
    listen_backlog: int = 1024  # connections the OS queues before we accept them
    max_connections: int = 20000  # in total; the file-descriptor limit is raised to fit
    max_connections_per_address: int = 20  # per IPv4 address or IPv6 /64; 0 = no limit
    # New connections let in per IPv4 address or IPv6 /64 in any minute; 0 = no limit.
    connections_per_minute_per_address: int = 30
    throttle_exempt: tuple[str, ...] = ("127.0.0.0/8", "::1")  # networks never throttled
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
    def from_toml(cls, path: str | Path, base: Settings | None = None) -> Settings:
        """Load settings from a TOML file (over `base`, or the defaults); unknown keys are an
        error, not ignored."""
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
        return (base or cls()).updated(data, origin=str(path))

    def updated(
        self,
        values: dict[str, Any],
        origin: str = "settings",
        spelled: Callable[[str, Any], str] | None = None,
    ) -> Settings:
        """A copy with `values` applied, each checked against the field's type and range.

        An error reads `ORIGIN: SETTING: problem`, the setting spelled as the user wrote it
        (`spelled(key, value)`; by default as in a TOML file: `port = 70000`)."""
        known = {f.name: f for f in fields(self)}
        current = {name: getattr(self, name) for name in known}
        spell = spelled or toml_spelling
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{origin}: unknown setting {key!r}")
            where = f"{origin}: {spell(key, value)}" if origin else spell(key, value)
            if key == "operators":
                value = _operators(value, origin)
            else:
                value = _typed(known[key].default, current[key], key, value, where)
                problem = value_problem(key, value)
                if problem:
                    raise ConfigError(f"{where}: {problem}")
            current[key] = value
        return Settings(**current)

    def check(self) -> None:
        """Every value in its range, and the settings that only make sense together.

        Run before serving (and fit for a reload): a Settings built directly, not through
        `updated`, is checked here too."""
        for each in fields(self):
            value = getattr(self, each.name)
            problem = value_problem(each.name, value)
            if problem:
                raise ConfigError(f"{toml_spelling(each.name, value)}: {problem}")
        if not self.plain_listener and not self.tls_cert:
            raise ConfigError("plain_listener = false (--no-plain) needs tls_cert (--tls-cert)")
        if len(self.default_channel) > self.channel_length:
            raise ConfigError(
                f"default_channel = {json.dumps(self.default_channel)} is longer than "
                f"channel_length = {self.channel_length}"
            )


def toml_spelling(key: str, value: Any) -> str:
    """A setting as a config file spells it: `port = 70000`, `log_level = "loud"`."""
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str):
        shown = json.dumps(value)
    elif isinstance(value, list | tuple):
        shown = "[" + ", ".join(json.dumps(v) if isinstance(v, str) else repr(v) for v in value)
        shown += "]"
    else:
        shown = repr(value)
    return f"{key} = {shown}"


def _typed(declared: Any, default: Any, key: str, value: Any, where: str) -> Any:
    """`value` as the field's type, or a ConfigError saying which type (and range) it needs."""
    rule = RANGES.get(key)
    span = f" ({rule})" if isinstance(rule, Range) else ""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: must be a list of strings")
        return tuple(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: must be a number{span}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be an integer{span}")
        return value
    if declared is None:  # an optional string
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string")
    return value


@dataclass(frozen=True, slots=True)
class Range:
    """A number's valid range: `low` to `high`, both included (`above` means low excluded)."""

    low: float
    high: float = math.inf
    above: bool = False  # low itself is not allowed: "more than 0"

    def problem(self, value: float) -> str | None:
        if not math.isfinite(value):
            return "must be a finite number"
        too_low = value <= self.low if self.above else value < self.low
        return f"must be {self}" if too_low or value > self.high else None

    def __str__(self) -> str:
        if self.above:
            return f"more than {_number(self.low)}"
        if self.high == math.inf:
            return f"at least {_number(self.low)}"
        return f"between {_number(self.low)} and {_number(self.high)}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _choice(*allowed: str) -> Callable[[str], str | None]:
    def problem(value: str) -> str | None:
        return None if value in allowed else "must be one of " + ", ".join(allowed)

    return problem


def _name(value: str) -> str | None:
    """A name sent as one IRC parameter: something, with no spaces or control characters."""
    if not value or re.search(r"[\s\x00-\x1f]", value):
        return "must be a name without spaces"
    return None


def _channel(value: str) -> str | None:
    if not is_channel_name(value):
        return "must be a room name: # and at least one character, no spaces, commas or colons"
    return None


def _redis_url(value: str) -> str | None:
    if value.partition("://")[0] not in ("redis", "rediss", "unix"):
        return "must be a redis://, rediss:// or unix:// URL"
    return None


def _networks(value: tuple[str, ...]) -> str | None:
    for each in value:
        try:
            ipaddress.ip_network(each, strict=False)
        except ValueError:
            return f"{each!r} is not an address or a network (such as 192.0.2.0/24 or ::1)"
    return None


def _nicks(value: tuple[str, ...]) -> str | None:
    return "must not contain an empty nick" if any(not nick for nick in value) else None


PORT = Range(0, 65535)
SECONDS = Range(0, above=True)
LENGTH = Range(1, 65535)

# Each setting's valid values; a setting missing here takes any value of its type.
# The README's settings table says the same in words.
RANGES: dict[str, Range | Callable[[Any], str | None]] = {
    "port": PORT,
    "tls_port": PORT,
    "web_port": Range(-1, 65535),
    "tls_handshake_timeout": SECONDS,
    "sts_duration": Range(0, 1 << 31),
    "tls_shutdown_timeout": SECONDS,
    "log_level": _choice("debug", "info", "warning", "error"),
    "log_format": _choice(*LOG_FORMATS),
    "event_loop": _choice("auto", "uvloop", "asyncio"),
    "sqlite_synchronous": _choice("normal", "full"),
    "history_on_join": Range(0, 1000),
    "history_days": Range(0, 1e6),
    "history_max_per_target": Range(1, 1 << 40),
    "chathistory_max": Range(1, 100_000),
    "registrations_per_minute": Range(0, 1 << 24),
    "registrations_per_address": Range(0, 1 << 24),
    "nick_grace": Range(0, 86400),
    "password_min_length": Range(1, 300),
    "password_iterations": Range(4096, 10_000_000),
    "certfps_per_account": Range(1, 1000),
    "server_name": _name,
    "network_name": _name,
    "default_channel": _channel,
    "reserved_nicks": _nicks,
    # RFC 1459 lines are 512 bytes: a server must take that much from every client.
    "max_line_bytes": Range(512, 1 << 20),
    # IRCv3 message-tags: a client may send 4094 bytes of tags, '@' and space aside.
    "max_tags_bytes": Range(4096, 1 << 20),
    "multiline_max_bytes": Range(1, 1 << 20),
    "multiline_max_lines": Range(1, 65535),
    "nick_length": Range(9, 255),  # RFC 1459's 9 is what every IRC client expects to fit
    "channel_length": Range(2, 255),  # '#' and one character at least
    "topic_length": LENGTH,
    "away_length": LENGTH,
    "kick_length": LENGTH,
    "user_length": LENGTH,
    "realname_length": LENGTH,
    "host_length": Range(1, 255),
    "channels_per_user": Range(1, 65535),
    "targets_per_message": Range(1, 65535),
    "key_length": Range(1, 255),
    "max_list_entries": Range(1, 65535),
    "modes_per_command": Range(1, 100),
    "monitor_limit": Range(1, 65535),
    "whowas_entries": Range(0, 1 << 24),
    "whowas_per_nick": Range(1, 65535),
    "knock_interval": Range(0, 86400),
    "sendq_bytes": Range(1, 1 << 40),
    "plain_greeting_delay": Range(0, 3600),
    "listen_backlog": Range(1, 65535),
    "max_connections": Range(1, 1 << 24),  # also the open-file limit asked for
    "max_connections_per_address": Range(0, 1 << 24),  # 0: no limit
    "connections_per_minute_per_address": Range(0, 1 << 24),  # 0: no limit
    "throttle_exempt": _networks,
    "trusted_proxies": _networks,
    "registration_timeout": SECONDS,
    "ping_interval": SECONDS,
    "ping_timeout": SECONDS,
    "socket_send_buffer": Range(0, (1 << 31) - 1),  # 0: the OS decides; an int for the OS
    "flood_burst": Range(1, 1 << 24),  # at least one line, or no one could speak
    "flood_rate": Range(0, 1e6),  # 0: no flood control
    "flood_max_queued": Range(0, 1 << 24),
    "cluster_url": _redis_url,
    "workers": Range(1, 256),
    "cluster_node_timeout": Range(0.2, 3600),
}


def value_problem(key: str, value: Any) -> str | None:
    """What is wrong with `value` for setting `key` (already of the right type), or None."""
    rule = RANGES.get(key)
    if rule is None or value is None:
        return None
    if isinstance(rule, Range):
        return rule.problem(value)
    return rule(value)


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
