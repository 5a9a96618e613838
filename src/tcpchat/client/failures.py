"""Why a connection failed, in words a person can act on.

The usual mistake is TLS on the plain port or plain text on the TLS port. The
error the ssl module gives for the first (WRONG_VERSION_NUMBER) and the bare
hang-up a TLS server gives for the second don't say so, so we do, with what to
try instead.
"""

from __future__ import annotations

import os
import socket
import ssl

from ..errors import ConnectError

__all__ = ["ConnectError", "closed_before_welcome", "connect_failure", "describe_error"]

USUAL_TLS_PORT = 6697

# What OpenSSL says when the server's first bytes are not a TLS record: plain text
# (WRONG_VERSION_NUMBER, or newer names for the same), or an HTTP server.
_PLAIN_TEXT_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)


def describe_error(exc: BaseException) -> str:
    """A few words for a connection error: 'Connection refused', not a repr."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def connect_failure(address: str, port: int, tls: bool, exc: BaseException) -> str:
    """The line for a connection (and, with `tls`, a handshake) that failed with `exc`."""
    if not tls:
        return f"Cannot connect to {address}: {describe_error(exc)}"
    if isinstance(exc, ssl.SSLError) and exc.reason in _PLAIN_TEXT_REASONS:
        what = "answered in plain text, not TLS"
    elif isinstance(exc, ssl.SSLEOFError | ConnectionResetError | ConnectionAbortedError):
        what = "closed the connection during the TLS handshake"
    else:
        return f"Cannot connect to {address} with TLS: {describe_error(exc)}"
    other_port = f", or the TLS port (usually {USUAL_TLS_PORT})" if port != USUAL_TLS_PORT else ""
    return (
        f"Cannot connect to {address} with TLS: the server {what}; is {port} its plain "
        f"port? Try without --tls{other_port}."
    )


def closed_before_welcome(port: int, tls: bool, heard: bytes) -> str:
    """Why the server hung up before welcoming us, judged by the first bytes it sent."""
    if tls:
        return "the server closed the connection"
    if _looks_like_tls(heard):
        return "the server answered in TLS, not plain text; try --tls."
    if not heard:
        return (
            "the server closed the connection before saying anything; "
            f"if {port} is a TLS port, try --tls."
        )
    return "the server closed the connection"


def _looks_like_tls(data: bytes) -> bool:
    """A TLS record's header: alert (21) or handshake (22), then version 3.x."""
    return len(data) >= 2 and data[0] in (21, 22) and data[1] == 3
