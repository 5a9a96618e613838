"""Command line: `tcpchat client [HOST[:PORT]] [--nick NAME] [--join ROOMS] [--tls]
[--insecure] [--no-time] [--sasl ACCOUNT]`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..plaintext import sane_nick
from .connection import ClientOptions
from .style import colour_wanted

__all__ = ["client_main", "client_parser", "default_nick", "parse_address"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6667
DEFAULT_TLS_PORT = 6697
PASSWORD_VARIABLE = "TCPCHAT_PASSWORD"  # --sasl's password, when not typed


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:port', '[v6]', '[v6]:port' or a bare IPv6 address -> (host, port)."""
    host, port_text = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"no host in {text!r}")
    if not port_text:
        return host, default_port
    return host, port_number(port_text)


def port_number(text: str) -> int:
    """A port (1 to 65535) from its digits; ValueError for anything else."""
    if not text.isdecimal() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port {text!r}")
    return int(text)


def _port_option(text: str) -> int:
    """--port's value: argparse shows an ArgumentTypeError's words, not a ValueError's."""
    try:
        return port_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_address(address: str | None, host: str | None, port: int | None,
                   default_port: int) -> tuple[str, int]:
    """Where to connect, from HOST[:PORT] and --host/--port (each part given at most once).

    Raises ValueError for a bad address or a part given twice."""
    if host is not None and address is not None:
        raise ValueError(f"two hosts: {address!r} and --host {host!r}; give one")
    host, given_port = parse_address(host or address or DEFAULT_HOST, 0)
    if port is not None and given_port:
        raise ValueError(f"two ports: {given_port} and --port {port}; give one")
    return host, port or given_port or default_port


def default_nick() -> str:
    """The login name, made into a nick any server accepts."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or the user database
        login = ""
    return sane_nick(login)


def _rooms(text: str) -> list[str]:
    rooms = [room.strip() for room in text.split(",") if room.strip()]
    return [room if room[0] in "#&+!" else "#" + room for room in rooms]


def client_parser(prog: str = "tcpchat client") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Chat on a tcpchat server, or any IRC server, from the terminal. "
        "Type a line to say it in the current room; /help lists the commands; "
        "'quit' or 'over' leaves.",
    )
    parser.add_argument(
        "address",
        nargs="?",
        metavar="HOST[:PORT]",
        help=f"server to connect to (default {DEFAULT_HOST}:{DEFAULT_PORT}, "
        f"or port {DEFAULT_TLS_PORT} with --tls); IPv6 as [::1]:6667 or a bare ::1",
    )
    # The server's own options, for whoever types them as they did for server.py.
    parser.add_argument("--host", help="the server's host, as HOST[:PORT] gives it")
    parser.add_argument(
        "--port", type=_port_option, help="the server's port, as HOST[:PORT] gives it"
    )
    parser.add_argument(
        "--nick", "-n", help="nickname to use (default: your login name); if taken, "
        "the client picks a similar one and tells you",
    )  # fmt: skip
    parser.add_argument(
        "--join",
        "-j",
        metavar="ROOMS",
        default="#lobby",
        help="comma-separated rooms to join on connect, the first one current "
        "(default #lobby; '' joins none)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, checking the server's certificate against the system's "
        "trusted authorities (or the file in SSL_CERT_FILE)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="TLS (implies --tls) without checking the server's certificate, e.g. a "
        "self-signed one; anyone in between could read and change the chat",
    )
    parser.add_argument(
        "--no-time",
        action="store_true",
        help="don't show the time (HH:MM, local) before messages; it is shown on a "
        "terminal when the server sends it (IRCv3 server-time), never into a pipe",
    )
    parser.add_argument(
        "--sasl",
        metavar="ACCOUNT",
        help="log in to ACCOUNT with SASL (SCRAM-SHA-256, or PLAIN where the server has no "
        "SCRAM) before joining; the password is asked for without echo, or taken from "
        f"{PASSWORD_VARIABLE}. If the login fails, the client says why and exits (code 1)",
    )
    parser.add_argument("--version", action="version", version=f"tcpchat {__version__}")
    return parser


def _password(account: str) -> str:
    """The password for --sasl: from the environment, else asked at the terminal.

    Raises ValueError when there is neither (input is a pipe) or it is empty."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        if not sys.stdin.isatty():
            raise ValueError(
                f"--sasl: no terminal to ask for the password of {account}; "
                f"put it in {PASSWORD_VARIABLE}"
            )
        password = getpass.getpass(f"Password for {account}: ")
    if not password:
        raise ValueError(f"--sasl: the password of {account} is empty")
    return password


# Without prompt_toolkit, a terminal gets the line mode, and this one line about the full UI.
LINE_MODE_HINT = (
    "Simple line mode (prompt_toolkit is not installed); for the full UI: "
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/tcpchat client"
)

INSECURE_WARNING = (
    "Warning: --insecure: the server's certificate is not checked, so the chat is "
    "encrypted but anyone in between could pretend to be the server."
)


def client_main(argv: Sequence[str] | None = None, prog: str = "tcpchat client") -> int:
    parser = client_parser(prog)
    args = parser.parse_args(argv)
    tls = args.tls or args.insecure
    try:
        host, port = server_address(
            args.address, args.host, args.port, DEFAULT_TLS_PORT if tls else DEFAULT_PORT
        )
    except ValueError as exc:
        parser.error(str(exc))
    rooms = _rooms(args.join)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    login = None
    if args.sasl is not None:
        if not args.sasl or " " in args.sasl:
            parser.error("--sasl: give an account name")
        try:
            login = (args.sasl, _password(args.sasl))
        except ValueError as exc:
            parser.error(str(exc))
        except (KeyboardInterrupt, EOFError):
            return 130
    options = ClientOptions(
        host=host,
        port=port,
        nick=args.nick or default_nick(),
        channels=rooms,
        tls=tls,
        insecure=args.insecure,
        show_time=interactive and not args.no_time,
        login=login,
    )
    if args.insecure:
        print(INSECURE_WARNING, file=sys.stderr, flush=True)
    try:
        if interactive:
            colour = colour_wanted(os.environ)
            try:
                from .terminal import chat_in_terminal
            except ImportError:
                from .lines import chat_in_lines

                print(LINE_MODE_HINT, file=sys.stderr, flush=True)
                return asyncio.run(chat_in_lines(options, colour=colour))
            return asyncio.run(chat_in_terminal(options, colour=colour))
        from .piped import chat_over_pipes

        return asyncio.run(chat_over_pipes(options))
    except KeyboardInterrupt:
        return 130
