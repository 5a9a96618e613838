"""WebSocket (IRCv3 WebSocket spec) and the little HTTP around it, on the web port.

One connection starts as HTTP: `GET /healthz` is answered, the web client's static files are
served, and a WebSocket upgrade makes it an IRC connection like any other. From then on it is
a `Connection`, so flood control, send queues, timeouts and connection limits are the very
same code as for TCP: the only difference is the transport it writes to, `FramedTransport`,
which turns each IRC line into one WebSocket message (and lines in come one per message).

The WebSocket protocol itself is the `websockets` library's sans-IO `ServerProtocol` (frames,
masking, UTF-8 checks, ping/pong, the closing handshake); this module feeds it bytes and
writes what it gives back. Subprotocols: `text.ircv3.net` and `binary.ircv3.net`, the first
the client offers that we know; none offered means text. A text message must be valid UTF-8
(the library closes with 1007 otherwise); what the server relays from a TCP client that is
not UTF-8 is sent with replacement characters on text, as is on binary.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from http import HTTPStatus
from importlib import resources
from typing import Any

from websockets.datastructures import Headers
from websockets.exceptions import InvalidOrigin
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from ..addresses import in_networks
from .connection import Connection, Hub
from .metrics import render
from .subprotocols import BINARY, SUBPROTOCOLS, choose_subprotocol

__all__ = ["SUBPROTOCOLS", "FramedTransport", "WebConnection"]

log = logging.getLogger("tcpchat.edge")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def static_file(path: str) -> tuple[bytes, str] | None:
    """A file of the web client (`/` is its index.html) and its content type; None for
    anything else, and for any path that tries to leave the folder."""
    name = "index.html" if path in ("", "/") else path.lstrip("/")
    if not name or "/" in name or "\\" in name or name.startswith(".") or ".." in name:
        return None
    suffix = name[name.rfind(".") :] if "." in name else ""
    kind = CONTENT_TYPES.get(suffix)
    if kind is None:
        return None
    try:
        folder = resources.files("tcpchat.web").joinpath("static")
        return folder.joinpath(name).read_bytes(), kind
    except (FileNotFoundError, ModuleNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


# Frame headers for payloads under 126 bytes, by payload size: nearly every IRC line.
_TEXT_HEADERS = [bytes((0x81, size)) for size in range(126)]
_BINARY_HEADERS = [bytes((0x82, size)) for size in range(126)]


def frame_lines(data: bytes, binary: bool) -> bytes:
    """Each CR LF-ended IRC line of `data` as one unmasked, unfragmented server frame.

    Written here rather than with the library's `send_text` because it is the fan-out hot
    path: one channel message is framed once per recipient, and the library's frame objects
    cost six times what the whole TCP delivery does. A server frame is just a header and the
    payload (RFC 6455, section 5.2); text must be UTF-8, so a line that is not gets
    replacement characters (one check for the lot, in the common case that all is ASCII)."""
    if not binary and not data.isascii():
        try:
            data.decode()
        except UnicodeDecodeError:
            data = data.decode(errors="replace").encode()
    headers = _BINARY_HEADERS if binary else _TEXT_HEADERS
    opcode = 0x82 if binary else 0x81
    parts: list[bytes] = []
    for line in data.split(b"\r\n"):
        size = len(line)
        if size < 126:
            if size:
                parts.append(headers[size])
                parts.append(line)
        else:
            if size < 65536:
                parts.append(bytes((opcode, 126)) + size.to_bytes(2, "big"))
            else:
                parts.append(bytes((opcode, 127)) + size.to_bytes(8, "big"))
            parts.append(line)
    return b"".join(parts)


class FramedTransport:
    """The transport a WebSocket connection's `Connection` writes to: IRC lines out become
    one message each; closing sends the closing handshake first.

    The last bytes framed are remembered (one entry for text, one for binary): in fan-out
    every member is handed the same lines in the same loop turn, so they are framed once."""

    _last: list[tuple[bytes, bytes]] = [(b"", b""), (b"", b"")]

    def __init__(self, raw: asyncio.Transport, protocol: ServerProtocol, binary: bool) -> None:
        self.raw = raw
        self.protocol = protocol
        self.binary = binary

    def write(self, data: bytes) -> None:
        if self.protocol.state is not State.OPEN:
            return
        last = self._last
        binary = self.binary
        seen, framed = last[binary]
        if data is not seen and data != seen:
            framed = frame_lines(data, binary)
            last[binary] = (data, framed)
        self.raw.write(framed)

    def close(self, code: int = 1000, reason: str = "") -> None:
        protocol = self.protocol
        if protocol.state is State.OPEN:
            protocol.send_close(code, reason)
            self.raw.write(b"".join(protocol.data_to_send()))
        self.raw.close()

    def abort(self) -> None:
        self.raw.abort()

    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:  # pragma: no cover - can_write_eof says no
        raise NotImplementedError

    def get_write_buffer_size(self) -> int:
        return self.raw.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.raw.get_extra_info(name, default)


class WebConnection(Connection, asyncio.Protocol):
    """One connection to the web port: HTTP until it upgrades, then IRC over WebSocket."""

    __slots__ = ("raw", "protocol", "upgraded", "answered", "handshake_timer", "max_line")
    screened_at_open = False  # screened at the upgrade instead (`_screen`)
    LOGGED_AT_OPEN = False  # logged as a connection once it is a WebSocket (`_request`)

    def __init__(
        self, hub: Hub, peer: tuple[str, int] | None = None, via: str | None = None
    ) -> None:
        super().__init__(hub, peer, via)
        settings = hub.settings
        self.max_line = settings.max_line_bytes + settings.max_tags_bytes
        # A message may be a little over a line (the library refuses far larger ones,
        # say one that claims 2 GiB, before reading it); a longer line gets 417 as on TCP.
        self.protocol = ServerProtocol(
            select_subprotocol=choose_subprotocol, max_size=self.max_line * 4
        )
        self.raw: asyncio.Transport | None = None
        self.upgraded = False
        self.answered = False  # an HTTP response went out
        self.handshake_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw: asyncio.Transport = transport  # type: ignore[assignment]
        self.raw = raw
        framed = FramedTransport(raw, self.protocol, binary=False)
        if not self.opened(framed, self.peer_of(raw)):  # type: ignore[arg-type]
            return
        self.set_timer(None)  # never a person on nc: a browser speaks IRC
        timeout = self.hub.settings.tls_handshake_timeout
        self.handshake_timer = self.loop.call_later(timeout, self._too_slow)

    def _too_slow(self) -> None:
        self.handshake_timer = None
        if not self.upgraded and self.raw is not None:
            log.info("%s: no HTTP request or WebSocket handshake in time", self.peer,
                     extra=self.fields("web_timeout"))  # fmt: skip
            self.raw.abort()

    def data_received(self, data: bytes) -> None:
        if self.closing and self.upgraded:
            return
        protocol = self.protocol
        self.hub.metrics.bytes_in += len(data)
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                self._request(event)
            elif isinstance(event, Frame):
                self._message(event)
        if protocol.handshake_exc is not None and not self.answered:  # not HTTP at all
            self._bad_request(str(protocol.handshake_exc))
            return
        self._send_protocol_data()

    def _bad_request(self, why: str) -> None:
        """400 and hang up: the library parses requests but leaves answering a bad one to
        us (the server around it)."""
        self.answered = True
        log.info("%s: not an HTTP request (%s)", self.peer, why,
                 extra=self.fields("bad_request", reason=why))  # fmt: skip
        body = b"Bad request: this port speaks HTTP and WebSocket\n"
        raw = self.raw
        if raw is not None:
            raw.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            raw.close()

    def _send_protocol_data(self) -> None:
        raw = self.raw
        protocol = self.protocol
        pending = protocol.data_to_send()
        if raw is not None and pending:
            raw.write(b"".join(pending))
        if raw is not None and protocol.close_expected() and not raw.is_closing():
            raw.close()

    # ------------------------------------------------------------- HTTP

    def _request(self, request: Request) -> None:
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
            self.handshake_timer = None
        protocol = self.protocol
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        self.answered = True
        if not upgrade:
            protocol.send_response(self._page(request.path))
            return
        refusal = self._origin_refusal(request) or self._behind_proxy(request)
        if refusal is not None:
            response = protocol.reject(HTTPStatus.FORBIDDEN, refusal + "\n")
            protocol.handshake_exc = InvalidOrigin(request.headers.get("Origin"))
            protocol.send_response(response)
            return
        response = protocol.accept(request)
        protocol.send_response(response)
        if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS:
            self.upgraded = True
            self.log_connect()
            framed = self.transport
            assert isinstance(framed, FramedTransport)
            framed.binary = protocol.subprotocol == BINARY
            self._screen()

    def _screen(self) -> None:
        """A D-line or throttling refuses the connection once it is a WebSocket (not before:
        the page's own files take connections too), with an ERROR the page shows."""
        refusal = self.hub.screen(self.peer[0])
        if refusal is not None:
            log.warning("refused %s: %s", self.peer, refusal)
            self.write(self.core.farewell(self.peer[0], refusal))
            self.close()

    def _page(self, path: str) -> Response:
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return _response(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        if path == "/metrics":
            return self._metrics()
        found = static_file(path)
        if found is None:
            return _response(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain; charset=utf-8")
        body, kind = found
        return _response(HTTPStatus.OK, body, kind)

    def _metrics(self) -> Response:
        """The Prometheus exposition, for the addresses in metrics_allow only."""
        text = "text/plain; charset=utf-8"
        if not in_networks(self.peer[0], self.hub.settings.metrics_allow):
            return _response(HTTPStatus.FORBIDDEN, b"Metrics are not for this address\n", text)
        try:
            body = render(self.hub)
        except ImportError:
            body = b"Metrics need prometheus_client: pip install 'tcpchat[web]'\n"
            return _response(HTTPStatus.SERVICE_UNAVAILABLE, body, text)
        return _response(HTTPStatus.OK, body, "text/plain; version=0.0.4; charset=utf-8")

    def _behind_proxy(self, request: Request) -> str | None:
        """Through a trusted reverse proxy, the client is the last address of
        X-Forwarded-For that is not a trusted proxy itself: the connection is counted
        again under it (limits per address apply to it); None, or why it is refused."""
        trusted = self.hub.settings.trusted_proxies
        forwarded = request.headers.get_all("X-Forwarded-For")
        if not trusted or not forwarded or not in_networks(self.peer[0], trusted):
            return None
        chain = [part.strip() for value in forwarded for part in value.split(",")]
        client = None
        for address in reversed(chain):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                return "X-Forwarded-For holds something that is not an address"
            client = address
            if not in_networks(address, trusted):
                break
        if client is None or client == self.peer[0]:
            return None
        self.hub.release(self)
        self.peer = (client, self.peer[1])
        return self.hub.admit(self)

    def _origin_refusal(self, request: Request) -> str | None:
        """Why a browser page from elsewhere may not connect (allowed_origins): by default
        only the page's own origin, or no Origin at all (not a browser)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        allowed = self.hub.settings.allowed_origins
        host = request.headers.get("Host", "")
        own = {f"http://{host}", f"https://{host}"}
        if origin in own or origin in allowed or "*" in allowed:
            return None
        return f"Origin {origin} is not allowed to connect here"

    # ------------------------------------------------------- IRC lines in

    def _message(self, frame: Frame) -> None:
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY) or self.closing:
            return
        data = bytes(frame.data)
        if frame.opcode is Opcode.TEXT:
            try:
                data.decode()
            except UnicodeDecodeError:  # the spec's refusal: close with 1007
                log.info("%s sent a text message that is not UTF-8", self.peer,
                         extra=self.fields("bad_frame"))  # fmt: skip
                self.protocol.fail(CloseCode.INVALID_DATA, "a text message must be UTF-8")
                self.closing = True
                return
        if b"\r" in data or b"\n" in data:  # one line per message; take each, as TCP would
            lines = [part for part in data.replace(b"\r", b"\n").split(b"\n") if part]
        else:
            lines = [data]
        for line in lines:
            if len(line) > self.max_line:
                self.take(line[: self.max_line], True)
            else:
                self.take(line, False)
            if self.closing:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
            self.handshake_timer = None
        self.lost(exc)


def _response(status: HTTPStatus, body: bytes, kind: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
