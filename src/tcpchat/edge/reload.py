"""Reloading the configuration of a running server: SIGHUP, REHASH, the console's /rehash.

The file is read again the way the server read it at start (the environment, the file,
then the command line's flags over it), checked whole, and the TLS certificate and key are
loaded, before anything changes: a file with an error changes nothing, and the error is
said. Then what can change live does, for whatever comes next (new connections, new
handshakes, the next command); what cannot (where the server listens, its data, its
cluster, its name) keeps its running value and is reported as needing a restart.

systemd hears RELOADING=1 before and READY=1 after (Type=notify, ExecReload).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import fields, replace
from typing import TYPE_CHECKING

from ..config import Settings, toml_spelling
from ..core.model import Reloaded
from ..core.reconfigure import reconfigure
from ..errors import ConfigError
from . import systemd, tls
from .fdlimit import FD_RESERVE, connection_cap, raise_fd_limit

if TYPE_CHECKING:
    from .server import ChatServer

log = logging.getLogger("tcpchat.edge")

# Settings a running server cannot take: its sockets, its data, its place in a cluster, its
# name (every client has it in every prefix), and what was sized or chosen at start.
NEEDS_RESTART = (
    "host", "port", "plain_listener", "tls_port", "web_port", "web_host", "reuse_port",
    "listen_backlog", "data_dir", "sqlite_synchronous", "history", "cluster_url", "workers",
    "cluster_node_timeout", "server_name", "network_name", "console", "event_loop",
    "whowas_entries", "whowas_per_nick", "log_format",
)  # fmt: skip


class Reloader:
    """Reloads `server`'s settings from `load` (which reads them as at start); `source` is
    the config file, or None when the server was started without one."""

    def __init__(
        self, server: ChatServer, load: Callable[[], Settings], source: str | None
    ) -> None:
        self.server = server
        self.load = load
        self.source = source

    def reload(self) -> Reloaded:
        """Read, check, apply; the outcome is logged and returned for whoever asked."""
        systemd.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            outcome = self._reload()
            for line in outcome.lines:
                (log.info if outcome.ok else log.error)("reload: %s", line)
        finally:
            systemd.notify("READY=1")
        return outcome

    def _reload(self) -> Reloaded:
        source = self.source or "(no config file)"
        if self.source is None:
            return Reloaded(False, source, ["There is no config file to reload: the server "
                                            "was started without --config."])  # fmt: skip
        old = self.server.settings
        try:
            new = self.load()
            context = self._tls_context(old, new)
        except ConfigError as exc:
            return Reloaded(False, source, [f"{exc}; nothing changed."])
        later = [key for key in NEEDS_RESTART if getattr(new, key) != getattr(old, key)]
        if bool(new.tls_cert) != bool(old.tls_cert):  # TLS turned on or off: a listener
            later.append("tls_cert")
        kept = {key: getattr(old, key) for key in later}
        if "tls_cert" in kept:
            kept["tls_key"] = old.tls_key
        applied = replace(new, **kept)
        changed = [
            f.name for f in fields(Settings) if getattr(applied, f.name) != getattr(old, f.name)
        ]
        self._apply(old, applied, context)
        what = ", ".join(changed) + " changed" if changed else "nothing changed"
        lines = [f"Reloaded {source}: {what}."]
        if context is not None:
            lines.append("TLS certificate and key read again: new connections get them.")
        for key in later:
            wanted, running = toml_spelling(key, getattr(new, key)), toml_spelling(key, kept[key])
            lines.append(f"{wanted} needs a restart (running with {running}).")
        return Reloaded(True, source, lines)

    def _tls_context(self, old: Settings, new: Settings) -> ssl.SSLContext | None:
        """The new certificate's context, when TLS runs now and stays on; raises
        ConfigError for a certificate or key that cannot be used."""
        if not (old.tls_cert and new.tls_cert):
            return None
        return tls.server_context(new.tls_cert, new.tls_key)

    def _apply(self, old: Settings, new: Settings, context: ssl.SSLContext | None) -> None:
        server = self.server
        server.settings = new
        reconfigure(server.core, new)
        for each in server.listeners:
            if each.tls is not None and context is not None:
                each.tls = context
            each.handshake_timeout = new.tls_handshake_timeout
            each.shutdown_timeout = new.tls_shutdown_timeout
            each.handshakes_per_address = new.max_connections_per_address
        if new.max_connections != old.max_connections:
            limit = raise_fd_limit(new.max_connections + FD_RESERVE)
            server.max_connections = connection_cap(new.max_connections, limit)
        if new.log_level != old.log_level:
            logging.getLogger().setLevel(new.log_level.upper())


def on_sighup(reloader: Reloader, with_console: bool) -> Callable[[], None]:
    """SIGHUP reloads the config file; the log says how it went, and so does the console
    (which shows warnings only)."""

    def reload() -> None:
        outcome = reloader.reload()
        if with_console and outcome.ok:
            for line in outcome.lines:
                print(line, flush=True)

    return reload
