"""Peers speaking another protocol on the chat port: answered briefly, never shown.

Scanners, health checks and people with the wrong port knock on a public chat
server all day. A browser or curl opens with an HTTP request line, a TLS client
with a ClientHello, an SSH client with its version line, a load balancer that is
not in trusted_proxies with a PROXY protocol header (a trusted one's header is read
before any of this, edge/proxied.py). Each of them speaks first, so a connection's
first bytes (or its first line, should the bytes come in pieces) tell them from IRC clients
and people, who never start that way. Such a peer gets a word where it can read
one (an HTTP page saying how to chat), a line in the log, and a closed
connection; it never becomes a user, so no one in the chat sees it come and go.

No I/O here: the edge calls `identify` on the first bytes and on the first line,
and sends what `answer` returns.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..protocol import looks_like_irc
from .proxy_protocol import SIGNATURE

# METHOD SP request-target SP HTTP-version (RFC 9112, section 3): nothing a person types.
_REQUEST_LINE = re.compile(rb"([A-Z]{3,10}) (\S+) HTTP/(\d)(?:\.\d)?\r?")
# A Host header with a name or address we can safely repeat (and its port, dropped).
_HOST_HEADER = re.compile(
    rb"^host:[ \t]*([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d+)?[ \t]*\r?$",
    re.IGNORECASE | re.MULTILINE,
)
# RFC 4253, section 4.2: "SSH-protoversion-softwareversion", sent at once by clients.
_SSH_VERSION = re.compile(rb"SSH-\d\.\d+-")
# The PROXY protocol (HAProxy's), version 1 in text and version 2 in binary.
_PROXY_V1 = re.compile(rb"PROXY (?:TCP4|TCP6|UNKNOWN)\b")
PROXY_V2_SIGNATURE = SIGNATURE
# A TLS record of type handshake (22), protocol version 3.x: a ClientHello.
_TLS_HANDSHAKE = b"\x16\x03"


@dataclass(frozen=True, slots=True)
class Stranger:
    """A peer that is no chat client, as its first bytes tell."""

    protocol: str  # "HTTP", "HTTP/2", "TLS", "SSH" or "PROXY"
    request: str = ""  # HTTP: the request line, for the log
    host: str = ""  # HTTP: the host named in the Host header, when it came along
    head_only: bool = False  # HTTP HEAD: the headers of the answer, not the page


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send a stranger before closing, and what to log about it."""

    reply: bytes
    level: int
    note: str


def identify(data: bytes) -> Stranger | None:
    """The protocol a connection's first bytes (or first line) belong to, if not chat."""
    if data.startswith(_TLS_HANDSHAKE):
        return Stranger("TLS")
    if data.startswith(PROXY_V2_SIGNATURE) or _PROXY_V1.match(data):
        return Stranger("PROXY")
    first = data.split(b"\n", 1)[0]
    if looks_like_irc(first):
        return None  # however odd the rest of the line, an IRC client opens so
    if _SSH_VERSION.match(first):
        return Stranger("SSH")
    request = _REQUEST_LINE.fullmatch(first)
    if request is None:
        return None
    line = first.rstrip(b"\r").decode("ascii", "replace")
    if request.group(3) == b"2":
        return Stranger("HTTP/2", request=line)
    host = _HOST_HEADER.search(data)
    name = host.group(1).decode("ascii").strip("[]") if host else ""
    return Stranger("HTTP", request=line, host=name, head_only=request.group(1) == b"HEAD")


def answer(
    stranger: Stranger, local_host: str, plain_port: int | None, tls_port: int | None
) -> Answer:
    """The reply (if any) and the log line for `stranger`, who reached us at `local_host`."""
    protocol = stranger.protocol
    if protocol == "HTTP":
        page = _page(stranger.host or local_host, plain_port, tls_port)
        reply = _http_response(page, stranger.head_only)
        return Answer(
            reply,
            logging.INFO,
            f"HTTP request {stranger.request!r}; answered that this is a chat server",
        )
    if protocol == "TLS":
        # One line of plain text, not silence: a TLS client then fails at once with
        # "wrong version number", the well-known sign of TLS on a plain port (a bare
        # close looks like a crash), and anyone reading the raw bytes learns where to go.
        where = f"TLS is on port {tls_port}" if tls_port else "this server has no TLS port"
        line = f"This is the plain-text port of a tcpchat chat server; {where}.\r\n"
        return Answer(line.encode(), logging.INFO, f"TLS handshake on the plain port; {where}")
    if protocol == "PROXY":
        return Answer(
            b"",
            logging.WARNING,
            "PROXY protocol header from an address not in trusted_proxies: list the proxy "
            "there, or turn the PROXY protocol off for this port in the load balancer",
        )
    return Answer(b"", logging.INFO, f"{protocol} client on the chat port")


def _page(host: str, plain_port: int | None, tls_port: int | None) -> str:
    """A few lines for a browser or curl: what this is, and how to chat instead."""
    lines = ["This is tcpchat, a chat server, not a web server.", ""]
    if plain_port:
        lines += [
            "To chat, connect with an IRC client (irssi, WeeChat, HexChat, ...):",
            f"    irssi -c {host} -p {plain_port}",
            "or, from a terminal, with nc or telnet:",
            f"    nc {host} {plain_port}",
        ]
    if tls_port:
        lines += ["With TLS:", f"    irssi -c {host} -p {tls_port} -tls"]
    return "\n".join(lines) + "\n"


def _http_response(page: str, head_only: bool) -> bytes:
    """400: the request can't be served here, whatever it asked for. (A 200 would tell
    a scanner's CONNECT that we are an open proxy.)"""
    body = page.encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode()
    return head if head_only else head + body
