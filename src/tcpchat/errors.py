"""Every error tcpchat raises on purpose, in one tree.

    TcpchatError
    ├── ProtocolError       remote: a peer sent bytes that are not an IRC message (`parse`)
    ├── UnsafeLineError     local: a line we were about to write could be misread by a peer,
    │                       because a parameter holds CR, LF or NUL, or a space where it must not
    │                       (`serialize`); the value was not checked where it came in
    ├── ConfigError         local: a setting, config file, certificate or key the server can't use
    ├── StoreError          local: the data directory or its database can't be used (says why)
    ├── ListenError         local: a listening socket could not be opened (also an OSError)
    ├── CertificateError    local: `gen-cert` could not make a certificate
    └── ConnectError        the terminal client could not reach the server

What a client gets wrong (an unknown command, a missing parameter, a nick in use) is not an
exception: the core answers it with an IRC numeric and carries on. An exception that escapes a
command handler is a bug; the core logs it with the command and the client, answers `400` to
that client alone, and everyone else carries on. ProtocolError and UnsafeLineError are also
ValueErrors, and ListenError an OSError, so code that catches the built-in kind still works.
"""

from __future__ import annotations

__all__ = [
    "CertificateError",
    "ConfigError",
    "ConnectError",
    "ListenError",
    "ProtocolError",
    "StoreError",
    "TcpchatError",
    "UnsafeLineError",
]


class TcpchatError(Exception):
    """The root of every error tcpchat raises on purpose."""


class ProtocolError(TcpchatError, ValueError):
    """A line from a peer is not an IRC message; the only error `parse` raises."""


class UnsafeLineError(TcpchatError, ValueError):
    """A message could not be written as one safe line; the only error `serialize` raises."""


class ConfigError(TcpchatError, ValueError):
    """A config file or value the server cannot use; the message says which, in one line."""


class StoreError(TcpchatError):
    """The data directory or its database can't be used; the message says why and what to do,
    in one line (a missing or read-only directory, a damaged file, a newer schema, a second
    server on the same directory)."""


class ListenError(TcpchatError, OSError):
    """A listening socket could not be opened; says which port, and why."""

    def __init__(self, cause: OSError, port: int, tls: bool) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.port = port
        self.tls = tls

    def __str__(self) -> str:
        kind = "TLS port" if self.tls else "port"
        return f"cannot listen on {kind} {self.port}: {self.strerror}"


class CertificateError(TcpchatError):
    """No certificate could be made; the message says why and what to do."""


class ConnectError(TcpchatError):
    """The server could not be reached; the message is one line for the user."""
