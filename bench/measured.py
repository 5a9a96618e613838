"""What a benchmark run found: its figures, loss and CPU, shared by every scenario."""

from __future__ import annotations

import resource
from dataclasses import dataclass

from loadgen import BenchClient


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    higher_is_better: bool = True


@dataclass
class Outcome:
    figures: list[Figure]
    loss: int
    load_cpu: float  # load generator CPU seconds
    server_cpu: float
    elapsed: float
    notes: str = ""


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def close_all(clients: list[BenchClient]) -> None:
    for client in clients:
        if client.transport is not None:
            client.transport.close()
