"""The login scenarios: registrations with SASL PLAIN per second, and the memory of an idle
logged-in connection. tcpchat alone, started on a data directory holding the accounts
(servers.make_accounts); each client logs in to an account of its own (loadgen's
`register_with_sasl`), and a server without SASL makes them fail saying so (LoginFailed).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from loadgen import connect_logged_in
from measured import Figure, Outcome, close_all, own_cpu
from servers import ACCOUNT_NAME, ACCOUNT_PASSWORD, Server


def accounts(count: int) -> list[str]:
    return [ACCOUNT_NAME.format(i) for i in range(count)]


async def run_login(server: Server, args: argparse.Namespace) -> Outcome:
    cpu, server_cpu, started = own_cpu(), server.cpu_seconds(), time.perf_counter()
    clients = await connect_logged_in(
        server.host, server.port, accounts(args.clients), ACCOUNT_PASSWORD, args.login_concurrency
    )
    elapsed = time.perf_counter() - started
    close_all(clients)
    return Outcome(
        [Figure("connect+register+SASL PLAIN", len(clients) / elapsed, "/s")],
        0,
        own_cpu() - cpu,
        server.cpu_seconds() - server_cpu,
        elapsed,
    )


async def run_idle_login(server: Server, args: argparse.Namespace) -> Outcome:
    baseline = server.rss_kib()
    cpu, started = own_cpu(), time.perf_counter()
    clients = await connect_logged_in(
        server.host, server.port, accounts(args.clients), ACCOUNT_PASSWORD, args.login_concurrency
    )
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.sync() for c in clients[-10:]))
    held = server.rss_kib()
    close_all(clients)
    per_connection = (held - baseline) * 1024 / len(clients)
    return Outcome(
        [Figure("memory per idle logged-in connection", per_connection, "bytes", False)],
        0,
        own_cpu() - cpu,
        0.0,
        elapsed,
        f"RSS {baseline / 1024:.1f} -> {held / 1024:.1f} MiB",
    )
