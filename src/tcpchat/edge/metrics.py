"""What `GET /metrics` shows, in the Prometheus text format.

The server keeps plain counters (integers on objects it already has, bumped where the thing
happens: a few nanoseconds, no library on the hot path); a scrape reads them all at once
through a custom collector of `prometheus_client` (the `web` extra), which writes the
exposition format. No label names a user or a channel: a label's values are commands,
transports, kinds and reasons, each a short fixed list.

The event loop's lag is measured by a timer that asks to run every `LAG_INTERVAL` seconds
and notes how late it ran: a histogram of it says whether the loop keeps up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["LAG_BUCKETS", "LAG_INTERVAL", "Metrics", "render"]

LAG_INTERVAL = 0.25
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The edge's counters (the core keeps its own: lines in, handler failures)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.bytes_in = 0
        self.bytes_out = 0
        self.refused: Counter[str] = Counter()  # reason -> connections refused
        self.dropped: Counter[str] = Counter()  # reason (SendQ exceeded, ...) -> drops
        self.flood_disconnects = 0
        self.lag_counts = [0] * (len(LAG_BUCKETS) + 1)  # per bucket, the last for +Inf
        self.lag_sum = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        self._due = self.loop.time() + LAG_INTERVAL
        self._timer = self.loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        now = self.loop.time()
        lag = max(now - self._due, 0.0)
        self.lag_sum += lag
        for index, bound in enumerate(LAG_BUCKETS):
            if lag <= bound:
                self.lag_counts[index] += 1
                break
        else:
            self.lag_counts[-1] += 1
        self._due = now + LAG_INTERVAL
        self._timer = self.loop.call_at(self._due, self._tick)


def render(server: Any) -> bytes:
    """The exposition text of everything `server` (the ChatServer) counts; needs
    prometheus_client."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(server))
    return generate_latest(registry)


class _Collector:
    def __init__(self, server: Any) -> None:
        self.server = server

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        server, core = self.server, self.server.core
        metrics = server.metrics
        connections = GaugeMetricFamily(
            "tcpchat_connections", "Open connections", labels=["transport", "kind"]
        )
        for (transport, kind), count in sorted(_connection_kinds(server).items()):
            connections.add_metric([transport, kind], count)
        yield connections
        state = core.state
        yield GaugeMetricFamily(
            "tcpchat_users", "Registered users, network-wide", value=state.users
        )
        yield GaugeMetricFamily(
            "tcpchat_local_users",
            "Registered users connected to this node",
            value=state.users - state.remote_users,
        )
        yield GaugeMetricFamily("tcpchat_nodes", "Live nodes of the network", value=core.nodes)
        replication = core.replication
        if replication is not None:
            bus = CounterMetricFamily(
                "tcpchat_bus_events", "Events through the cluster's bus", labels=["direction"]
            )
            bus.add_metric(["out"], replication.sent)
            bus.add_metric(["in"], replication.received)
            yield bus
        channels = sum(1 for _ in core.state.all_channels())
        yield GaugeMetricFamily("tcpchat_channels", "Channels", value=channels)
        yield _by("tcpchat_lines_in", "Lines received, by command", "command", core.lines_in)
        lines_out = {c.decode(errors="replace"): n for c, n in core.router.lines_out.items()}
        yield _by("tcpchat_lines_out", "Lines sent, by command", "command", lines_out)
        yield CounterMetricFamily("tcpchat_bytes_in", "Bytes received", value=metrics.bytes_in)
        yield CounterMetricFamily("tcpchat_bytes_out", "Bytes sent", value=metrics.bytes_out)
        yield _by(
            "tcpchat_dropped_connections",
            "Connections dropped for not reading (send queue)",
            "reason",
            metrics.dropped,
        )
        yield CounterMetricFamily(
            "tcpchat_flood_disconnects",
            "Connections closed for flooding",
            value=metrics.flood_disconnects,
        )
        yield _by("tcpchat_refused_connections", "Connections refused", "reason", metrics.refused)
        yield CounterMetricFamily(
            "tcpchat_handler_failures",
            "Commands whose handler failed (logged)",
            value=core.handler_failures,
        )
        history = core.history
        yield CounterMetricFamily(
            "tcpchat_history_rows_written", "History rows committed", value=history.committed
        )
        yield CounterMetricFamily(
            "tcpchat_history_rows_lost", "History rows a failed write lost", value=history.failed
        )
        yield CounterMetricFamily(
            "tcpchat_history_reads", "History reads (CHATHISTORY, playback)", value=history.reads
        )
        buckets = []
        total = 0
        for bound, count in zip((*map(str, LAG_BUCKETS), "+Inf"), metrics.lag_counts, strict=True):
            total += count
            buckets.append((bound, total))
        yield HistogramMetricFamily(
            "tcpchat_event_loop_lag_seconds",
            f"How late a timer due every {LAG_INTERVAL} s ran",
            buckets=buckets,
            sum_value=metrics.lag_sum,
        )


def _by(name: str, text: str, label: str, counts: Mapping[str, int]) -> Any:
    """A counter with one label, a sample per value."""
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, text, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


def _connection_kinds(server: Any) -> Counter[tuple[str, str]]:
    kinds: Counter[tuple[str, str]] = Counter()
    for connection in server.connections:
        upgraded = getattr(connection, "upgraded", None)  # a WebConnection's
        if upgraded is not None:
            transport = "websocket" if upgraded else "http"
        elif connection.transport is not None and connection.transport.get_extra_info("ssl_object"):
            transport = "tls"
        else:
            transport = "tcp"
        if connection.person is not None:
            kind = "person"
        elif connection.session is not None:
            kind = "irc"
        else:
            kind = "unknown"
        kinds[transport, kind] += 1
    return kinds
