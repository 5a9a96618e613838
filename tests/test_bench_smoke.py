"""A smoke run of the benchmark with tiny numbers: every scenario runs and loses nothing.

The figures themselves are for bench/bench.py to print, not for a test to judge. (The login
scenarios, which need SASL, have a test of their own: test_bench_logins.py.)
"""

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.store.database import DB_NAME

from net_harness import SERVER, LineClient, server_process

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["fanout", "flood", "pairs", "latency", "idle", "connect"]
VARIANT = (str(ROOT / "bench" / "store_variant.py"),)


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    """bench/bench.py ARGS --quick, and what it printed; it must have succeeded."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), *args, "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| fanout | throughput |" in result.stdout
    return result


def test_every_benchmark_scenario_runs_and_delivers_everything_exactly_once():
    result = bench(*SCENARIOS, "--servers", "tcpchat")
    runs = re.findall(r"^(\w+)\s+tcpchat\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {name for name, _ in runs} == set(SCENARIOS)
    assert all(loss == "0" for _, loss in runs), result.stdout


def test_fanout_to_websocket_clients_runs_beside_tcp_and_delivers_everything_exactly_once():
    result = bench("fanout", "pairs", "--servers", "tcpchat,tcpchat:clients=websocket")
    runs = re.findall(r"^(\w+)\s+(\S+)\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {(name, server) for name, server, _ in runs} == {
        (name, server)
        for name in ("fanout", "pairs")
        for server in ("tcpchat", "tcpchat:clients=websocket")
    }
    assert all(loss == "0" for *_, loss in runs), result.stdout


def test_inspircd_runs_beside_tcpchat_without_throttling_or_losing_anything():
    """Its config lifts the flood limits: with InspIRCd's defaults (one command a second past
    a penalty of 10) the senders would be lagged or quit for excess flood."""
    result = bench("fanout", "pairs", "rooms", "--servers", "tcpchat,inspircd")
    runs = re.findall(r"^(\w+)\s+(\S+)\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {(name, server) for name, server, _ in runs} == {
        (name, server)
        for name in ("fanout", "pairs", "rooms")
        for server in ("tcpchat", "inspircd")
    }
    assert all(loss == "0" for *_, loss in runs), result.stdout
    assert "| tcpchat/inspircd |" in result.stdout


def test_the_floor_relay_runs_beside_tcpchat_and_delivers_everything_exactly_once():
    """bench/floor.py, the least a Python relay does per message, must stay a server the
    scenarios can run against: registered, joined, synced, and every message delivered."""
    scenarios = ("fanout", "pairs", "rooms", "latency", "connect")
    result = bench(*scenarios, "--servers", "floor,tcpchat")
    runs = re.findall(r"^(\w+)\s+(\S+)\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert {(name, server) for name, server, _ in runs} == {
        (name, server)
        for name in scenarios
        for server in ("floor", "tcpchat")
    }
    assert all(loss == "0" for *_, loss in runs), result.stdout
    assert "| floor/tcpchat |" in result.stdout


@pytest.mark.parametrize("room", [[], ["--room", "4"]], ids=["private", "rooms"])
def test_the_core_steps_bench_times_each_step_of_a_message(room: list[str]):
    """bench/core_steps.py drives the sans-IO core; it must keep up with the core's names."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "core_steps.py"), "--runs", "1", "--messages",
         "2000", *room],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    steps = dict(re.findall(r"^(\w[\w, ]*?)\s+(\d+\.\d+)$", result.stdout, re.MULTILINE))
    assert list(steps) == ["receive", "receive, one path", "dispatch", "run_command",
                           "handle_message", "say", "emit", "parse"]  # fmt: skip
    assert all(float(value) > 0 for value in steps.values())


def test_an_unknown_server_name_is_refused_with_the_names_it_knows():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "pairs", "--servers", "tcpchat,irc2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "unknown server: irc2 (known: tcpchat, ngircd, inspircd, floor)" in result.stderr


def threads_on(pid: int, cpus: set[int]) -> int:
    """How many of process `pid`'s threads may run only on `cpus`."""
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            count += os.sched_getaffinity(int(task.name)) == cpus
    return count


def test_the_store_variants_free_writes_no_history_and_apart_writes_it_from_cpu_1(
    tmp_path: Path,
):
    """bench/store_variant.py: `store=free` measures history without its store, so it must
    really leave the rows out (else the bench would quietly measure the real store);
    `store=apart` measures the real store on another core, so it must write the rows, from
    threads moved to CPU 1 while the loop stays where it was. Each must still deliver and
    answer as the real server does."""
    stored, apart = {}, {}
    for name, launcher in (("real", SERVER), ("free", VARIANT + ("free", str(ROOT))),
                           ("apart", VARIANT + ("apart", str(ROOT)))):  # fmt: skip
        data = tmp_path / name
        with server_process("--data-dir", str(data), launcher=launcher) as (proc, port, _):
            ann, ben = LineClient(port).register("ann"), LineClient(port).register("ben")
            ann.send("PRIVMSG ben :kept or not")
            ben.expect(r"^:ann!\S+ PRIVMSG ben :kept or not$")  # once its row is "committed"
            ann.send("PING :after")
            ann.expect(r" PONG \S+ :after$")
            apart[name] = threads_on(proc.pid, {1}) > 0 and os.sched_getaffinity(proc.pid) != {1}
        with contextlib.closing(sqlite3.connect(data / DB_NAME)) as c:
            stored[name] = c.execute(
                "SELECT count(*) FROM history WHERE kind = 'PRIVMSG'"
            ).fetchone()[0]
    assert stored == {"real": 1, "free": 0, "apart": 1}
    assert apart == {"real": False, "free": False, "apart": True}


def test_each_server_of_a_run_gets_a_profile_file_of_its_own(tmp_path: Path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from servers import profile_file
    finally:
        sys.path.remove(str(ROOT / "bench"))
    before = tmp_path / "before"
    names = ["tcpchat", "tcpchat:history=off", "tcpchat:store=free:history=on",
             f"tcpchat@{before}", f"tcpchat@{before}:history=off"]  # fmt: skip
    assert [profile_file("/tmp/p.txt", name) for name in names] == [
        "/tmp/p.txt",
        "/tmp/p.history=off.txt",
        "/tmp/p.store=free,history=on.txt",
        "/tmp/p.@before.txt",
        "/tmp/p.@before.history=off.txt",
    ]
    assert profile_file("/tmp/run.d/prof", "tcpchat:history=off") == "/tmp/run.d/prof.history=off"


def test_small_rooms_on_two_cluster_nodes_deliver_everything_exactly_once():
    """`rooms` waits, room by room, until every member has heard every node's JOINs before
    it counts: a member counted too early would see a JOIN as a message, or miss one."""
    result = bench("fanout", "rooms", "--servers", "tcpchat:cluster=on:nodes=2")
    runs = re.findall(r"^(\w+)\s+(\S+)\s+.*\bloss (\d+)\b", result.stdout, re.MULTILINE)
    assert runs == [
        ("fanout", "tcpchat:cluster=on:nodes=2", "0"),
        ("rooms", "tcpchat:cluster=on:nodes=2", "0"),
    ], result.stdout
