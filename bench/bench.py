"""tcpchat benchmarks: commands that print figures (they are not tests).

    python bench/bench.py                     # every scenario, tcpchat and ngIRCd side by side
    python bench/bench.py fanout --runs 5     # one scenario, more runs
    python bench/bench.py idle --servers tcpchat --clients 10000
    python bench/bench.py --quick             # tiny numbers: a smoke run

Scenarios:
  fanout     C clients in one channel, S senders, M messages, 100 in flight
  flood      the same, every message sent at once (unbounded)
  pairs      private messages between C/2 pairs, a window of 20 per pair
  rooms      C clients in rooms of K (--room-size), one sender each, a window of 20 per room
             (--room-window)
  latency    a steady rate of deliveries into the channel; p50/p99/max latency
  idle       hold C registered connections; memory per connection from the server's RSS
  connect    connections and registrations per second
  login      registrations with SASL PLAIN per second, to C accounts made beforehand
  idle-login idle, with every connection logged in (SASL PLAIN) to an account of its own

Each run starts its own server on 127.0.0.1 (tcpchat with bench/unlimited.toml on a new
temporary data directory, so history is written to disk as by default; ngIRCd and InspIRCd
(--servers tcpchat,ngircd,inspircd) from Debian's packages with equivalent configs, installed
if missing), pinned to CPU 0, with this load generator pinned to CPU 1. Figures are medians
over --runs, and every ratio is the first server's to each other's, measured in the same
invocation, runs interleaved.

Variants of tcpchat change settings over unlimited.toml, to measure what one costs:
    python bench/bench.py fanout pairs --servers tcpchat,tcpchat:history=off,tcpchat:sync=full

`clients=websocket` is the one option that is no setting: the same server, its clients (all
of them) connected over WebSocket to its web port instead of over TCP:
    python bench/bench.py fanout latency --servers tcpchat,tcpchat:clients=websocket

`store=free` is another: the same server through bench/store_variant.py, whose database
drops history's rows instead of writing them, to measure what the store costs and what the
rest of history does (pure Python or the checkout's compiled core alike); `store=apart` moves
the store's threads to CPU 1, to bound what a store on a core of its own would give:
    python bench/bench.py pairs --servers tcpchat:history=off,tcpchat,tcpchat:store=free

The login scenarios run tcpchat alone (ngIRCd has no accounts), its data directory holding
C accounts made before it starts; clients log in --login-concurrency at a time. They need
a tcpchat that offers SASL; against one that does not, they fail saying so (exit code 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from floor import start_floor
from inspircd import start_inspircd
from loadgen import BenchClient, LoginFailed, connect_clients, message, percentile
from logins import run_idle_login, run_login
from measured import Figure, Outcome, close_all, own_cpu
from servers import (
    STARTERS,
    Server,
    parse_variant,
    profile_file,
    start_tcpchat,
    two_cores,
)
from wsclient import WebSocketBenchClient

CHANNEL = "#bench"


# ------------------------------------------------------------------ scenarios


async def connect(
    server: Server,
    nicks: list[str],
    audit: set[str],
    channel: str | None,
    concurrency: int = 50,
) -> list[BenchClient]:
    """The scenario's clients, over TCP, or over WebSocket for `tcpchat:clients=websocket`."""
    kind = WebSocketBenchClient if server.web_port is not None else BenchClient
    ports = server.ports  # a cluster's nodes: in turn
    groups = await asyncio.gather(*(
        connect_clients(server.host, port, nicks[i :: len(ports)], audit, channel,
                        concurrency, kind)
        for i, port in enumerate(ports)
    ))  # fmt: skip
    clients = [groups[i % len(ports)][i // len(ports)] for i in range(len(nicks))]
    if channel is not None and len(ports) > 1:
        await joins_seen(clients[: len(ports)], clients, channel)
    return clients


async def joins_seen(
    markers: list[BenchClient], clients: list[BenchClient], channel: str
) -> None:
    """On a cluster, the other nodes' JOINs reach a client some time after its own: one
    client per node says a word, and once everyone has heard every node's word (the bus
    keeps each node's order), every JOIN before it has arrived too."""
    waits = [
        client.expect(rb"PRIVMSG %s :joined via node %d" % (channel.encode(), i))
        for i, marker in enumerate(markers)
        for client in clients
        if client is not marker
    ]
    for i, marker in enumerate(markers):
        marker.write(b"PRIVMSG %s :joined via node %d\r\n" % (channel.encode(), i))
    await asyncio.wait_for(asyncio.gather(*waits), 120)


async def run_fanout(
    server: Server, args: argparse.Namespace, window: int | None
) -> Outcome:
    nicks = [f"b{i}" for i in range(args.clients)]
    senders = args.senders
    auditors = set(nicks[senders : senders + args.auditors])
    clients = await connect(server, nicks, auditors, CHANNEL)
    await asyncio.gather(*(c.sync() for c in clients))
    per_sender = args.messages // senders
    total = per_sender * senders
    done = [
        c.start_counting(total - (per_sender if i < senders else 0)) for i, c in enumerate(clients)
    ]
    order = [(i % senders, i // senders) for i in range(total)]
    position = 0

    def send(count: int) -> None:
        nonlocal position
        end = min(position + count, total)
        for sender, seq in order[position:end]:
            clients[sender].write(message(CHANNEL, sender, seq))
        position = end

    meter = Meter(server)
    if window:
        tracker = clients[senders]  # an auditor: a message it has seen is out of flight
        tracker.on_message = send
        send(window)
    else:
        for sender in range(senders):
            clients[sender].write(
                b"".join(message(CHANNEL, sender, seq) for seq in range(per_sender))
            )
    return await meter.finish(
        done, clients, total * (len(clients) - 1), args.timeout, "deliveries/s"
    )


async def run_pairs(server: Server, args: argparse.Namespace) -> Outcome:
    pairs = args.clients // 2
    senders = [f"s{i}" for i in range(pairs)]
    receivers = [f"r{i}" for i in range(pairs)]
    clients = await connect(server, senders + receivers, set(receivers[: args.auditors]), None)
    await asyncio.gather(*(c.sync() for c in clients))
    per_pair = args.pair_messages
    window = 20
    done = [c.start_counting(0 if i < pairs else per_pair) for i, c in enumerate(clients)]
    sent = [0] * pairs

    def releaser(pair: int) -> Callable[[int], None]:
        def send(count: int) -> None:
            end = min(sent[pair] + count, per_pair)
            sender = clients[pair]
            sender.write(
                b"".join(message(receivers[pair], pair, seq) for seq in range(sent[pair], end))
            )
            sent[pair] = end

        return send

    meter = Meter(server)
    for pair in range(pairs):
        release = releaser(pair)
        clients[pairs + pair].on_message = release
        release(window)
    return await meter.finish(done, clients, per_pair * pairs, args.timeout, "messages/s")


async def run_rooms(server: Server, args: argparse.Namespace) -> Outcome:
    """Small rooms, the way most chat happens: C/K rooms of K members, the first member of
    each sending to its room, --room-window (20) messages in flight per room; every
    message is K-1 deliveries. It measures what `fanout` (one room of 1,000) and `pairs`
    (no room) don't: a room's per-message cost shared by only a few recipients."""
    size = args.room_size
    count = args.clients // size
    names = [f"#room{j}" for j in range(count)]
    nicks = [f"m{j}x{k}" for j in range(count) for k in range(size)]
    auditors = {f"m{j}x1" for j in range(min(args.auditors, count))}
    clients = await connect(server, nicks, auditors, None)
    rooms = [clients[j * size : (j + 1) * size] for j in range(count)]
    await asyncio.gather(*(
        member.join(names[j]) for j, room in enumerate(rooms) for member in room
    ))  # fmt: skip
    if len(server.ports) > 1:  # a cluster: every member has heard every node's JOINs
        await asyncio.gather(*(
            joins_seen(room[: len(server.ports)], room, names[j]) for j, room in enumerate(rooms)
        ))  # fmt: skip
    await asyncio.gather(*(c.sync() for c in clients))
    per_room = args.room_messages
    window = args.room_window
    done = [
        member.start_counting(per_room if k else 0)
        for room in rooms
        for k, member in enumerate(room)
    ]
    sent = [0] * count

    def releaser(j: int) -> Callable[[int], None]:
        sender, name = rooms[j][0], names[j]

        def send(more: int) -> None:
            end = min(sent[j] + more, per_room)
            sender.write(b"".join(message(name, j, seq) for seq in range(sent[j], end)))
            sent[j] = end

        return send

    meter = Meter(server)
    for j, room in enumerate(rooms):
        release = releaser(j)
        room[1].on_message = release  # an auditor in the first rooms, a plain counter after
        release(window)
    deliveries = per_room * count * (size - 1)
    return await meter.finish(done, clients, deliveries, args.timeout, "deliveries/s")


def send_stamped(client: BenchClient, sender: int, seq: int) -> None:
    """The message, stamped with the time it is sent (not when it was scheduled)."""
    client.write(message(CHANNEL, sender, seq))


async def run_latency(server: Server, args: argparse.Namespace) -> Outcome:
    nicks = [f"b{i}" for i in range(args.clients)]
    senders = args.senders
    auditors = set(nicks[senders : senders + max(args.auditors, 50)])
    clients = await connect(server, nicks, auditors, CHANNEL)
    await asyncio.gather(*(c.sync() for c in clients))
    rate = args.rate / (len(clients) - 1)  # messages per second for the wanted deliveries/s
    total = max(int(rate * args.seconds), senders)
    per_sender = total // senders
    total = per_sender * senders
    done = [
        c.start_counting(total - (per_sender if i < senders else 0)) for i, c in enumerate(clients)
    ]
    loop = asyncio.get_running_loop()
    meter = Meter(server)
    start_at = loop.time() + 0.05
    for i in range(total):  # a fixed schedule, so a slow server cannot slow the senders
        sender, seq = i % senders, i // senders
        loop.call_at(start_at + i / rate, send_stamped, clients[sender], sender, seq)
    return await meter.finish(
        done, clients, total * (len(clients) - 1), args.timeout + args.seconds, "deliveries/s"
    )


async def run_idle(server: Server, args: argparse.Namespace) -> Outcome:
    baseline = server.rss_kib()
    cpu, started = own_cpu(), time.perf_counter()
    nicks = [f"i{i}" for i in range(args.clients)]
    clients = await connect(server, nicks, set(), None)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.sync() for c in clients[-10:]))
    held = server.rss_kib()
    close_all(clients)
    per_connection = (held - baseline) * 1024 / len(clients)
    return Outcome(
        [Figure("memory per idle connection", per_connection, "bytes", False)],
        0,
        own_cpu() - cpu,
        0.0,
        elapsed,
        f"RSS {baseline / 1024:.1f} -> {held / 1024:.1f} MiB",
    )


async def run_connect(server: Server, args: argparse.Namespace) -> Outcome:
    cpu, server_cpu, started = own_cpu(), server.cpu_seconds(), time.perf_counter()
    nicks = [f"c{i}" for i in range(args.clients)]
    clients = await connect(server, nicks, set(), None, concurrency=20)
    elapsed = time.perf_counter() - started
    close_all(clients)
    return Outcome(
        [Figure("connect+register", len(clients) / elapsed, "/s")],
        0,
        own_cpu() - cpu,
        server.cpu_seconds() - server_cpu,
        elapsed,
    )


class Meter:
    """CPU and wall time of one measured stretch, for the load generator and the server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cpu, self.server_cpu = own_cpu(), server.cpu_seconds()
        self.node_cpu = server.node_cpu()  # [] unless a cluster
        self.redis_cpu = server.redis_cpu()
        self.threads = server.thread_cpu()
        self.started = time.perf_counter()

    async def finish(
        self,
        done: list[asyncio.Future[None]],
        clients: list[BenchClient],
        deliveries: int,
        timeout: float,
        unit: str,
    ) -> Outcome:
        """Wait for every delivery (or the timeout), then sum up and hang up."""
        loss = await finish(done, clients, timeout)
        elapsed = time.perf_counter() - self.started
        outcome = summarize(
            clients,
            deliveries,
            elapsed,
            loss,
            own_cpu() - self.cpu,
            self.server.cpu_seconds() - self.server_cpu,
            unit,
        )
        if self.server.name.startswith("tcpchat"):  # how its threads shared the work
            outcome.notes = "; ".join(filter(None, [outcome.notes, self._threads()]))
        millions = max(deliveries - loss, 1) / 1e6
        if self.node_cpu:  # a cluster: each node's share of the work, and Redis's
            now = self.server.node_cpu()
            per_node = [cpu - was for cpu, was in zip(now, self.node_cpu, strict=True)]
            redis = self.server.redis_cpu() - self.redis_cpu
            shown = ", ".join(f"{cpu / millions:.2f}" for cpu in per_node)
            outcome.notes = "; ".join(filter(None, [
                outcome.notes, f"CPU s per M on each node: {shown}; Redis {redis:.2f} s"
            ]))  # fmt: skip
        nodes = max(len(self.node_cpu), 1)
        outcome.figures.append(
            Figure("CPU s per M, per node", outcome.server_cpu / nodes / millions, "s", False)
        )
        close_all(clients)
        return outcome

    def _threads(self) -> str:
        before, after = self.threads, self.server.thread_cpu()
        parts = []
        for name, (user, system, switches) in sorted(after.items()):
            was = before.get(name, (0.0, 0.0, 0))
            parts.append(
                f"{name} {user - was[0]:.2f}+{system - was[1]:.2f} s, {switches - was[2]} switches"
            )
        return "server threads (user+sys): " + ", ".join(parts)


async def finish(
    done: list[asyncio.Future[None]], clients: list[BenchClient], timeout: float
) -> int:
    """Wait until every receiver has all it should; the shortfall is the loss."""
    with contextlib.suppress(TimeoutError):  # what never arrived is counted as lost
        await asyncio.wait_for(asyncio.gather(*done), timeout)
    return sum(max(c.expected - c.received, 0) for c in clients)


def summarize(
    clients: list[BenchClient],
    deliveries: int,
    elapsed: float,
    loss: int,
    load_cpu: float,
    server_cpu: float,
    unit: str,
) -> Outcome:
    errors = [e for c in clients for e in c.errors]
    extra = sum(max(c.received - c.expected, 0) for c in clients)
    latencies = sorted(x for c in clients for x in c.latencies_ns)
    figures = [
        Figure("throughput", (deliveries - loss) / elapsed, unit),
        Figure("latency p50", percentile(latencies, 0.50) / 1e6, "ms", False),
        Figure("latency p99", percentile(latencies, 0.99) / 1e6, "ms", False),
        Figure("latency max", (latencies[-1] if latencies else 0) / 1e6, "ms", False),
        # The same work in every run: on a busy machine, a steadier measure of cost than speed.
        Figure("server CPU", server_cpu, "s", False),
    ]
    notes = "; ".join(errors[:3]) + (f"; {extra} duplicates" if extra else "")
    return Outcome(figures, loss + extra + len(errors), load_cpu, server_cpu, elapsed, notes)


SCENARIOS: dict[str, Callable[[Server, argparse.Namespace], Coroutine[Any, Any, Outcome]]] = {
    "fanout": lambda server, args: run_fanout(server, args, window=100),
    "flood": lambda server, args: run_fanout(server, args, window=None),
    "pairs": run_pairs,
    "rooms": run_rooms,
    "latency": run_latency,
    "idle": run_idle,
    "connect": run_connect,
    "login": run_login,
    "idle-login": run_idle_login,
}
# The servers started by name; tcpchat's variants are parsed instead (parse_variant).
OTHERS: dict[str, Callable[[], Server]] = {
    **STARTERS,
    "inspircd": start_inspircd,
    "floor": start_floor,  # the least a Python relay can do (bench/floor.py)
}

# Scenarios that need accounts: tcpchat only, on a data directory made for the run.
ACCOUNT_SCENARIOS = {"login", "idle-login"}


# --------------------------------------------------------------------- driver


def measure(scenario: str, server_name: str, args: argparse.Namespace) -> Outcome:
    """One run. Raises LoginFailed when a login scenario's server can't log clients in."""
    accounts = args.clients if scenario in ACCOUNT_SCENARIOS else 0
    if is_tcpchat(server_name):  # maybe another checkout (tcpchat@DIR), or a variant
        root, settings = parse_variant(server_name)
        profile = args.profile and profile_file(args.profile, server_name)
        server = start_tcpchat(args.event_loop, profile, root, server_name, accounts, settings)
    else:
        server = OTHERS[server_name]()
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(SCENARIOS[scenario](server, args))
    finally:
        server.stop()


def is_tcpchat(name: str) -> bool:
    """tcpchat, another checkout of it (tcpchat@DIR), or a variant (tcpchat:history=off)."""
    return name == "tcpchat" or name.startswith(("tcpchat@", "tcpchat:"))


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The load generator runs on uvloop when it is installed: it must not be the bottleneck."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def fmt(value: float, unit: str) -> str:
    if unit in ("deliveries/s", "messages/s", "/s"):
        return f"{value / 1e6:.3f} M{unit}" if value >= 1e5 else f"{value:,.0f} {unit}"
    if unit in ("ms", "s"):
        return f"{value:.2f} {unit}"
    return f"{value:,.0f} {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--servers",
        default="tcpchat,ngircd",
        help="comma-separated: tcpchat, ngircd, inspircd, floor (bench/floor.py, the least a "
        "Python relay does), tcpchat@DIR (the checkout in DIR, "
        "e.g. the commit before a change), and variants with settings changed over unlimited.toml: "
        "tcpchat:history=off, tcpchat:sync=full, tcpchat:data=none (no data directory), "
        "tcpchat:clients=websocket (clients over WebSocket), "
        "tcpchat:store=free (history's rows made but not written) and tcpchat:store=apart "
        "(the store's threads on CPU 1): bench/store_variant.py "
        "(default tcpchat,ngircd); ratios are the first to each other",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--clients", type=int, help="C (default 1000; 10000 for idle and idle-login)"
    )
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=20000, help="M for fanout/flood/pairs")
    parser.add_argument(
        "--pair-messages",
        type=int,
        default=1000,
        help="pairs: messages each sender sends its partner",
    )
    parser.add_argument(
        "--room-size", type=int, default=10, help="rooms: members of each room (K)"
    )
    parser.add_argument(
        "--room-messages",
        type=int,
        default=2000,
        help="rooms: messages each room's sender sends",
    )
    parser.add_argument(
        "--room-window",
        type=int,
        default=20,
        help="rooms: messages in flight per room (1: each waits for the last to arrive, "
        "so `rooms --clients 2 --room-size 2 --room-window 1` on two nodes is what a "
        "message costs each node besides its deliveries)",
    )
    parser.add_argument(
        "--auditors",
        type=int,
        default=10,
        help="receivers that check order and latency line by line",
    )
    parser.add_argument("--rate", type=float, default=50000, help="latency: deliveries/s")
    parser.add_argument("--seconds", type=float, default=10, help="latency: duration")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument(
        "--login-concurrency",
        type=int,
        default=4,
        help="login scenarios: clients logging in at once (default 4: tcpchat checks at most "
        "4 passwords at once)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run")
    parser.add_argument(
        "--event-loop",
        default="auto",
        choices=["auto", "uvloop", "asyncio"],
        help="tcpchat's event loop",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE.svg",
        help="record each tcpchat under py-spy (pip install py-spy): a flame graph, or with "
        "FILE.txt collapsed stacks for profile_top.py; a variant's file is named after it "
        "(FILE.history=off.svg, FILE.@before.svg)",
    )
    args = parser.parse_args(argv)
    scenarios = args.scenarios or list(SCENARIOS)
    strange = set(scenarios) - set(SCENARIOS)
    if strange:
        parser.error(f"unknown scenario: {', '.join(sorted(strange))}")
    servers = [name for name in args.servers.split(",") if name]
    unknown = [name for name in servers if not is_tcpchat(name) and name not in OTHERS]
    if unknown:
        parser.error(f"unknown server: {', '.join(unknown)} (known: {', '.join(OTHERS)})")
    if args.room_size < 2:
        parser.error("--room-size: a room needs a sender and someone to hear it (at least 2)")
    if args.quick:
        args.runs, args.messages, args.seconds, args.rate = 1, 200, 0.5, 2000
        args.pair_messages = args.room_messages = 20
        args.senders, args.auditors = 2, 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if two_cores():
        os.sched_setaffinity(0, {1})
    print(
        f"# python {sys.version.split()[0]}, {os.cpu_count()} cores; server on CPU 0, "
        f"load generator on CPU 1"
        if two_cores()
        else "# one core: nothing pinned",
        flush=True,
    )
    failed = False
    results: dict[tuple[str, str], list[Outcome]] = {}
    for scenario in scenarios:
        idle = scenario in ("idle", "idle-login")
        clients = args.clients or (10 if args.quick else 10000 if idle else 1000)
        run_args = argparse.Namespace(**{**vars(args), "clients": clients})
        names = servers
        if scenario in ACCOUNT_SCENARIOS:
            names = [name for name in servers if is_tcpchat(name)]
            if len(names) < len(servers):
                print(f"# {scenario}: tcpchat only (the others have no accounts)", flush=True)
        for _ in range(args.runs):
            for server_name in names:  # interleaved, so noise hits both alike
                try:
                    outcome = measure(scenario, server_name, run_args)
                except LoginFailed as exc:
                    print(f"{scenario:8} {server_name:8} FAILED: {exc}", flush=True)
                    print(f"bench.py: {scenario}: {server_name}: {exc}", file=sys.stderr)
                    failed = True
                    break
                results.setdefault((scenario, server_name), []).append(outcome)
                figure = outcome.figures[0]
                print(
                    f"{scenario:8} {server_name:8} {fmt(figure.value, figure.unit):>22}  "
                    f"loss {outcome.loss}  {outcome.elapsed:6.2f} s  "
                    f"load-gen CPU {outcome.load_cpu:5.2f} s  server CPU "
                    f"{outcome.server_cpu:5.2f} s  {outcome.notes}",
                    flush=True,
                )
                failed |= outcome.loss != 0
    print()
    print_table(results, scenarios, servers)
    return 1 if failed else 0


def print_table(
    results: dict[tuple[str, str], list[Outcome]], scenarios: list[str], servers: list[str]
) -> None:
    header = ["scenario", "figure", *servers]
    header += [f"{servers[0]}/{other}" for other in servers[1:]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for scenario in scenarios:
        if (scenario, servers[0]) not in results:
            continue  # it failed (said above), or did not run on the first server
        first = results[(scenario, servers[0])][0]
        for index, figure in enumerate(first.figures):
            if figure.unit == "ms" and not any(
                o.figures[index].value for o in results[(scenario, servers[0])]
            ):
                continue
            medians = {
                name: statistics.median(o.figures[index].value for o in results[(scenario, name)])
                for name in servers
                if (scenario, name) in results
            }
            row = [scenario, figure.name]
            row += [fmt(medians[n], figure.unit) if n in medians else "n/a" for n in servers]
            for other in servers[1:]:
                if other not in medians:
                    row.append("n/a")
                    continue
                ratio = medians[servers[0]] / medians[other] if medians[other] else 0.0
                row.append(f"{ratio:.2f}")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(main())
