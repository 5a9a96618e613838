"""Command line: `tcpchat server ...` (also `python server.py`, `python -m tcpchat`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import ConfigError, Settings
from .server import ChatServer

log = logging.getLogger("tcpchat")


def server_parser(prog: str = "tcpchat server") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the tcpchat server: IRC for programs, plain text for people "
        "(nc/telnet), on one port.",
    )
    parser.add_argument(
        "--host", help="address to listen on (default: every interface, IPv4 and IPv6)"
    )
    parser.add_argument(
        "--port",
        type=int,
        help="port to listen on (default 6667; 0 picks a free port and prints it)",
    )
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="never read the terminal; just log (for services and scripts)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="TOML file with settings (see README); flags override it"
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="how much to log on stderr (default info)",
    )
    parser.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        help="auto (default) uses uvloop when it is installed (pip install 'tcpchat[fast]')",
    )
    parser.add_argument("--server-name", help="the server's name in IRC replies")
    parser.add_argument("--network-name", help="the network name announced to IRC clients")
    parser.add_argument("--version", action="version", version=f"tcpchat {__version__}")
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    """Config file first, then the flags the user gave on top."""
    settings = Settings.from_toml(args.config) if args.config else Settings()
    overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "log_level": args.log_level,
            "event_loop": args.event_loop,
            "server_name": args.server_name,
            "network_name": args.network_name,
        }.items()
        if value is not None
    }
    if args.no_console:
        overrides["console"] = False
    return settings.updated(overrides, origin="command line")


class CannotListen(Exception):
    """The listening socket could not be opened; said in one line, not a traceback."""


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when asked for or, with "auto", when installed; else asyncio's own loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("uvloop is not installed: pip install 'tcpchat[fast]'") from None
        return None
    return uvloop.new_event_loop


def console_wanted(settings: Settings) -> bool:
    """The console needs a terminal; a service or CI never has its stdin read."""
    return settings.console and sys.stdin.isatty()


async def run_server(settings: Settings, with_console: bool) -> None:
    """Serve until SIGINT/SIGTERM (or quit/over at the console), then shut down gracefully."""
    server = ChatServer(settings)
    try:
        await server.start()
    except OSError as exc:
        raise CannotListen(f"cannot listen on port {settings.port}: {exc.strerror}") from exc
    for host, port in server.addresses:
        shown = f"[{host}]" if ":" in host else host
        print(f"Listening on {shown}:{port}", flush=True)
    print("Server is waiting for connections...", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    waiters = [asyncio.ensure_future(stop.wait())]
    console = None
    if with_console:
        from .console import OperatorConsole, run_console

        console = OperatorConsole(server, display=lambda line: print(line, flush=True))
        waiters.append(asyncio.ensure_future(run_console(console)))
        waiters.append(asyncio.ensure_future(console.quit_requested.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    if console is not None and console.quit_requested.is_set():
        reason = "The server ended the chat"
    else:
        reason = "Server shutting down"
    with contextlib.suppress(OSError):  # stdout may be gone (a closed pipe); carry on
        print("Shutting down...", flush=True)
    await server.shutdown(reason)


def server_main(argv: Sequence[str] | None = None, prog: str = "tcpchat server") -> int:
    args = server_parser(prog).parse_args(argv)
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    with_console = console_wanted(settings)
    # The console shows connections itself; routine log lines would only clutter it.
    level = "warning" if with_console and args.log_level is None else settings.log_level
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        loop_factory = event_loop_factory(settings.event_loop)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(run_server(settings, with_console))
    except CannotListen as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tcpchat", description="tcpchat: chat over TCP.")
    parser.add_argument(
        "command", choices=["server", "client"], help="run the chat server, or the terminal client"
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options for the command")
    parser.add_argument("--version", action="version", version=f"tcpchat {__version__}")
    ns = parser.parse_args(argv)
    if ns.command == "client":
        from .client.cli import client_main

        return client_main(ns.args)
    return server_main(ns.args)


if __name__ == "__main__":
    sys.exit(main())
