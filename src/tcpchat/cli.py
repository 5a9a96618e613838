"""Command line: `tcpchat server ...` (also `python server.py`, `python -m tcpchat`),
and the helpers `tcpchat gen-cert` and `tcpchat hash-password`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import logging
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .cluster import check_cluster_url
from .config import Settings
from .edge import systemd
from .edge.reload import Reloader, on_sighup
from .edge.server import ChatServer
from .errors import ConfigError, ListenError, StoreError
from .farewells import RESTART_REASON, SHUTDOWN_REASON
from .logs import FORMATS, setup_logging

log = logging.getLogger("tcpchat")


def server_parser(prog: str = "tcpchat server") -> argparse.ArgumentParser:
    helpers = prog.removesuffix(" server")  # "server.py" or "tcpchat"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the tcpchat server: IRC for programs, plain text for people "
        "(nc/telnet), on one port.",
        epilog=f"Helpers: '{_run(helpers)} gen-cert [--out DIR] [--host NAME]' makes a "
        f"self-signed TLS certificate to try TLS with; '{_run(helpers)} hash-password "
        "[--name NAME]' hashes an operator password for the config file. '--help' after "
        "either says more.",
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
        "--tls-cert",
        metavar="FILE",
        help="PEM certificate (chain): adds a TLS listener beside the plain one "
        "(try it with a certificate from 'tcpchat gen-cert')",
    )
    parser.add_argument(
        "--tls-key", metavar="FILE", help="PEM private key (default: inside the --tls-cert file)"
    )
    parser.add_argument(
        "--tls-port",
        type=int,
        help="port for TLS (default 6697; 0 picks a free port and prints it)",
    )
    parser.add_argument(
        "--web-port",
        type=int,
        help="port for the web client and IRC over WebSocket (default 8080; 0 turns it off, "
        "-1 picks a free port and prints it)",
    )
    parser.add_argument(
        "--web-host",
        help="address for the web port (default: the same as --host; '' every interface)",
    )
    parser.add_argument(
        "--no-plain",
        action="store_true",
        help="no plain-text listener: TLS only (needs --tls-cert)",
    )
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="never read the terminal; just log (for services and scripts)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where accounts, registered channels and history are kept, in one SQLite file "
        "(default ./tcpchat-data, or $TCPCHAT_DATA_DIR); 'none' keeps everything in memory",
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
        "--log-format",
        choices=FORMATS,
        help="text (default) for people; json: one object a line (time, level, event, "
        "conn, addr, nick, message) for the journal or a log collector",
    )
    parser.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        help="auto (default) uses uvloop when it is installed (pip install 'tcpchat[fast]')",
    )
    parser.add_argument(
        "--cluster",
        metavar="URL",
        help="join the cluster at this Redis (redis://HOST:PORT/DB, rediss://, "
        "unix:///PATH?db=N; password in the URL or $REDIS_PASSWORD) as a node: one network "
        "with the other nodes there (needs 'tcpchat[cluster]')",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run N processes sharing the ports, one network through Redis (--cluster, or a "
        "private redis-server in the data directory); needs 'tcpchat[cluster]'",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        help="share the listening ports with other processes (what each worker does)",
    )
    parser.add_argument("--server-name", help="the server's name in IRC replies")
    parser.add_argument("--network-name", help="the network name announced to IRC clients")
    parser.add_argument("--version", action="version", version=version_line())
    return parser


def version_line() -> str:
    """`tcpchat 0.x (compiled core)` or `(pure Python)`: which one runs matters for speed."""
    from .core import chat

    kind = "pure Python" if str(chat.__file__).endswith(".py") else "compiled core"
    return f"tcpchat {__version__} ({kind})"


def load_settings(args: argparse.Namespace) -> Settings:
    """The environment first (TCPCHAT_DATA_DIR), then the config file, then the flags."""
    base = Settings()
    if os.environ.get("TCPCHAT_DATA_DIR") is not None:
        data_dir = _data_dir(os.environ["TCPCHAT_DATA_DIR"])
        base = base.updated({"data_dir": data_dir}, origin="TCPCHAT_DATA_DIR")
    settings = Settings.from_toml(args.config, base) if args.config else base
    overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
            "tls_port": args.tls_port,
            "web_port": args.web_port,
            "web_host": args.web_host,
            "log_level": args.log_level,
            "log_format": args.log_format,
            "event_loop": args.event_loop,
            "server_name": args.server_name,
            "network_name": args.network_name,
            "cluster_url": args.cluster,
            "workers": args.workers,
            "data_dir": None if args.data_dir is None else _data_dir(args.data_dir),
        }.items()
        if value is not None
    }
    if args.no_console:
        overrides["console"] = False
    if args.no_plain:
        overrides["plain_listener"] = False
    if args.reuse_port:
        overrides["reuse_port"] = True
    settings = settings.updated(overrides, origin="", spelled=flag_spelling)
    settings.check()
    return settings


def _data_dir(text: str) -> str:
    """'none' (any case) or nothing: no directory, everything in memory."""
    return "" if text.strip().lower() in ("", "none") else text


# Settings whose flag is not the setting's name.
FLAGS = {"cluster_url": "--cluster"}


def flag_spelling(key: str, value: object) -> str:
    """A setting as the command line spells it: `--port 99999`, `--cluster URL`."""
    flag = FLAGS.get(key, f"--{key.replace('_', '-')}")
    return f"{flag} {shlex.quote(str(value))}"


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


async def run_server(
    settings: Settings,
    with_console: bool,
    reload: Callable[[], Settings] | None = None,
    config_file: str | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or quit/over, Ctrl-C or Ctrl-D at the console), then
    shut down gracefully, telling every client why. SIGHUP (and REHASH, /rehash) reloads
    the settings with `reload`, from `config_file`."""
    server = ChatServer(settings)
    reloader = Reloader(server, reload or (lambda: settings), config_file)
    server.core.rehash = reloader.reload
    if settings.cluster_url:
        from .edge.cluster import uid_prefix

        server.core.node = uid_prefix()
    try:
        await server.start()
    except ListenError as exc:
        raise CannotListen(str(exc)) from exc
    except OSError as exc:
        raise CannotListen(f"cannot listen: {exc.strerror or exc}") from exc
    # Ready for SIGINT/SIGTERM before saying so: a script may signal as soon as it reads.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # SIGTERM (systemd, `docker stop`), and SIGINT with no console to type `over` at, are a
    # restart: clients are told to come back. Only the console ends the chat for good.
    reasons: list[str] = []

    def stop_with(reason: str) -> None:
        reasons.append(reason)
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, stop_with, RESTART_REASON)
    loop.add_signal_handler(
        signal.SIGINT, stop_with, SHUTDOWN_REASON if with_console else RESTART_REASON
    )
    loop.add_signal_handler(signal.SIGHUP, on_sighup(reloader, with_console))
    for label, addresses in (
        ("", server.addresses),
        (" (TLS)", server.tls_addresses),
        (" (web: https)" if settings.tls_cert else " (web: http)", server.web_addresses),
    ):
        for host, port in addresses:
            shown = f"[{host}]" if ":" in host else host
            print(f"Listening{label} on {shown}:{port}", flush=True)
    node = None
    if settings.cluster_url:
        from .edge.cluster import join_cluster

        node = await join_cluster(settings, server, say=lambda line: print(line, flush=True))
    print("Server is waiting for connections...", flush=True)
    stop_watchdog = systemd.tell_ready(loop, server.addresses + server.tls_addresses)
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
    if with_console:
        from .console import OperatorConsole, run_console

        console = OperatorConsole(server, display=lambda line: print(line, flush=True))
        waiters.append(asyncio.ensure_future(run_console(console)))
        waiters.append(asyncio.ensure_future(console.quit_requested.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    with contextlib.suppress(OSError):  # stdout may be gone (a closed pipe); carry on
        print("Shutting down...", flush=True)
    stop_watchdog()
    systemd.notify("STOPPING=1")
    reason = reasons[0] if reasons else SHUTDOWN_REASON  # no signal: the console's quit
    if node is not None:
        from .edge.cluster import leave_cluster

        await leave_cluster(server, node, reason)
    await server.shutdown(reason)


def _run(prog: str) -> str:
    """How a user types `prog`: `python server.py` for the script, else as is."""
    return f"python {prog}" if prog.endswith(".py") else prog


def script_main(argv: Sequence[str] | None = None, prog: str = "server.py") -> int:
    """`python server.py`: the server, or `gen-cert` / `hash-password` from a fresh clone."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "gen-cert":
        return gen_cert_main(args[1:], prog=f"{prog} gen-cert")
    if args and args[0] == "hash-password":
        return hash_password_main(args[1:], prog=f"{prog} hash-password")
    if args and args[0] == "cluster":
        from .cluster.status import cluster_main

        return cluster_main(args[1:], prog=f"{prog} cluster")
    return server_main(args, prog=prog)


def server_main(argv: Sequence[str] | None = None, prog: str = "tcpchat server") -> int:
    args = server_parser(prog).parse_args(argv)
    try:
        settings = load_settings(args)
        if settings.cluster_url:
            check_cluster_url(settings.cluster_url)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1:
        from .workers import run_workers

        setup_logging(settings.log_level, settings.log_format)
        return run_workers(settings, list(sys.argv[1:] if argv is None else argv))
    with_console = console_wanted(settings)
    # The console shows connections itself; routine log lines would only clutter it.
    level = "warning" if with_console and args.log_level is None else settings.log_level
    setup_logging(level, settings.log_format)
    try:
        loop_factory = event_loop_factory(settings.event_loop)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            reload = functools.partial(load_settings, args)
            runner.run(run_server(settings, with_console, reload, args.config))
    except CannotListen as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # a TLS certificate or key that can't be used
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # the data directory or its database
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


def gen_cert_main(argv: Sequence[str] | None = None, prog: str = "tcpchat gen-cert") -> int:
    from .edge.tls import CERT_NAME, KEY_NAME, VALID_DAYS, make_self_signed
    from .errors import CertificateError

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Make a self-signed TLS certificate and key (cert.pem, key.pem) to try "
        "TLS with. It uses the openssl command (or the cryptography package). Clients must "
        "be told to trust it: SSL_CERT_FILE=cert.pem tcpchat client HOST --tls.",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="tls",
        help="where to write (default tls/, which .gitignore keeps out of git)",
    )
    parser.add_argument(
        "--host",
        default=socket.gethostname(),
        help="the name clients connect to (default: this machine's name); "
        "localhost, 127.0.0.1 and ::1 are always included",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)
    folder = Path(args.out)
    existing = [folder / name for name in (CERT_NAME, KEY_NAME) if (folder / name).exists()]
    if existing and not args.force:
        names = " and ".join(str(path) for path in existing)
        print(f"{prog}: {names} already exist(s); use --force to replace", file=sys.stderr)
        return 1
    try:
        cert, key = make_self_signed(folder, args.host)
    except (CertificateError, OSError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    if prog.startswith("server.py"):  # from a clone: the commands that work there
        server, client = "python server.py", "python client.py"
    else:
        server, client = "tcpchat server", "tcpchat client"
    print(f"Wrote {cert} (self-signed for {args.host}, valid {VALID_DAYS} days) and {key}.")
    print(f"Serve TLS:  {server} --tls-cert {cert} --tls-key {key}")
    print(f"Connect:    SSL_CERT_FILE={cert} {client} {args.host} --tls")
    print(f"            openssl s_client -connect {args.host}:6697 -CAfile {cert} -quiet")
    return 0


def hash_password_main(
    argv: Sequence[str] | None = None, prog: str = "tcpchat hash-password"
) -> int:
    from .passwords import hash_password

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print the scrypt hash of an operator password, for the [operators] "
        "table of the config file. On a terminal the password is asked twice, unechoed; "
        "otherwise the first line of standard input is the password.",
    )
    parser.add_argument("--name", help='print a ready config line: NAME = "scrypt$..."')
    args = parser.parse_args(argv)
    if sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Same again: ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 1
        if password != again:
            print(f"{prog}: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print(f"{prog}: the password is empty", file=sys.stderr)
        return 1
    hashed = hash_password(password)
    print(f'{args.name} = "{hashed}"' if args.name else hashed)
    return 0


COMMANDS = {
    "server": "run the chat server",
    "client": "the terminal client",
    "gen-cert": "make a self-signed TLS certificate to try TLS",
    "hash-password": "hash an operator password for the config file",
    "cluster": "the cluster's nodes: 'cluster status --cluster URL'",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tcpchat", description="tcpchat: chat over TCP.")
    parser.add_argument(
        "command",
        choices=list(COMMANDS),
        help="; ".join(f"{name}: {what}" for name, what in COMMANDS.items()),
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options for the command")
    parser.add_argument("--version", action="version", version=f"tcpchat {__version__}")
    ns = parser.parse_args(argv)
    if ns.command == "client":
        from .client.cli import client_main

        return client_main(ns.args)
    if ns.command == "gen-cert":
        return gen_cert_main(ns.args)
    if ns.command == "hash-password":
        return hash_password_main(ns.args)
    if ns.command == "cluster":
        from .cluster.status import cluster_main

        return cluster_main(ns.args)
    return server_main(ns.args)


if __name__ == "__main__":
    sys.exit(main())
