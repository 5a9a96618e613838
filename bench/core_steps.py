"""What a message costs in the sans-IO core alone, step by step (no sockets, no loop).

500 pairs of registered users, as in `bench.py pairs`, and 200,000 lines `PRIVMSG nick :text`
(or, with `--room N`, rooms of N members and `PRIVMSG #room :text`) handed to the core at each
step of its path, from the outermost in; each step's figure includes those below it, so the
differences are what each step adds:

    receive           the edge's call: checks, then the quick lane (handlers/messaging.py)
    receive, one path the same with the quick lane turned off: parsed, then dispatched
    dispatch          the command table, after a Message has been parsed
    run_command       the reply buffer and the error isolation around a handler
    handle_message    the handler
    say               the target's lookup, then the event
    emit              the event through the pipeline: rendered, written to the recipient

plus `parse`, decoding and parsing alone. The recipients' connections are stand-ins that
count writes. History is off and the limits are bench/unlimited.toml's, as in the bench;
with `--history`, history is on and each message's row is made and kept, never written (what
history's step costs the loop, the store left out: compare `receive` with and without it).

    python bench/core_steps.py                  # this checkout
    python bench/core_steps.py --src ../before/src --runs 7
    python bench/core_steps.py --room 10        # messages to rooms of 10 instead
    python bench/core_steps.py --history        # with history's step (rows kept, not written)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Counted:
    """A connection as the core sees it: each write counted, nothing kept."""

    __slots__ = ("writes",)

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def close(self) -> None:
        pass


def steps(messages: int, room: int = 0, history: bool = False) -> dict[str, Callable[[], None]]:
    """Each step of the path, as a function that sends `messages` messages through it:
    private ones between 500 pairs, or with `room`, to 1,000 // `room` rooms of that many
    members (one of whom sends); with `history`, each message's row made and kept."""
    import tcpchat.core.chat as chat
    from tcpchat.config import Settings
    from tcpchat.core import ChatCore
    from tcpchat.core.chat import parse_line
    from tcpchat.core.events import message_sent
    from tcpchat.core.handlers.messaging import handle_message, say

    core = ChatCore(Settings.from_toml(ROOT / "bench" / "unlimited.toml").updated(
        {"history": history}
    ))
    # Rows wait for a write that never comes (an edge would write them at the turn's end).
    core.history.wake = lambda: None
    # (sender, target): s0 to r0 ... (pairs), or s0 to #r0 ... (rooms; the others are r0_1...)
    people = [(f"s{i}", f"#r{i}" if room else f"r{i}") for i in range(1000 // (room or 2))]
    for sender, target in people:
        members = [f"r{target[2:]}_{m}" for m in range(1, room)] if room else [target]
        for nick in [sender, *members]:
            session = core.connect(Counted(), "127.0.0.1")
            core.receive(session, f"NICK {nick}".encode())
            core.receive(session, f"USER {nick} 0 * :bench".encode())
            if room:
                core.receive(session, f"JOIN {target}".encode())
            assert session.registered, nick
    by_nick = {s.user.nick: s for s in core.sessions}
    # What the event says of each target: its name as shown, its channel key, its recipient.
    shown: dict[str, tuple[str, str | None, str | None]] = {
        target: (target, target, None) if room else (target, None, by_nick[target].user.uid)
        for _, target in people
    }
    lines = [(by_nick[people[i % len(people)][0]],
              f"PRIVMSG {people[i % len(people)][1]} :{i} 1 1700000000".encode())
             for i in range(messages)]  # fmt: skip
    parsed = [(session, parse_line(raw.decode())) for session, raw in lines]
    receive, dispatch, run_command, emit = (
        core.receive, core.dispatch, core.run_command, core.emit
    )

    def via_receive() -> None:
        for session, raw in lines:
            receive(session, raw)

    def via_one_path() -> None:
        """receive, with the quick lane (if this checkout has one) turned off."""
        lane = getattr(chat, "quick_message", None)
        if lane is not None:
            chat.quick_message = lambda core, session, raw: False
        try:
            via_receive()
        finally:
            if lane is not None:
                chat.quick_message = lane

    def via_dispatch() -> None:
        for session, msg in parsed:
            dispatch(session, msg)

    def via_run_command() -> None:
        for session, msg in parsed:
            run_command(session, handle_message, msg)

    def via_handler() -> None:
        for session, msg in parsed:
            handle_message(core, session, msg)

    def via_say() -> None:
        for session, msg in parsed:
            say(core, session, "PRIVMSG", msg.params[0], msg.params[1], None)

    def via_emit() -> None:
        for session, msg in parsed:
            user, (name, key, recipient) = session.user, shown[msg.params[0]]
            emit(message_sent((session.last_heard, core.msgid_origin, core.next_serial(),
                               "PRIVMSG", user.uid, user.source, name, key, recipient,
                               msg.params[1], None, False)))  # fmt: skip

    def parse_alone() -> None:
        for _, raw in lines:
            parse_line(raw.decode())

    def fresh(run: Callable[[], None]) -> Callable[[], None]:
        def step() -> None:
            core.history.pending = []  # not the rows of the step before
            now = core.clock()  # as a read would: history's rows never go back in time
            for session in core.sessions:
                session.last_heard = now
            run()

        return step

    return {name: fresh(run) for name, run in {
        "receive": via_receive,
        "receive, one path": via_one_path,
        "dispatch": via_dispatch,
        "run_command": via_run_command,
        "handle_message": via_handler,
        "say": via_say,
        "emit": via_emit,
        "parse": parse_alone,
    }.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", default=str(ROOT / "src"), help="the package's folder")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument(
        "--room", type=int, default=0, help="N: messages to rooms of N members, not private"
    )
    parser.add_argument(
        "--history", action="store_true", help="history on: each row made and kept, not written"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, args.src)
    timings: dict[str, list[float]] = {}
    for _ in range(args.runs):  # the steps take turns, run by run
        for name, run in steps(args.messages, args.room, args.history).items():
            gc.collect()
            gc.disable()  # as timeit does: a collection falls on whichever step is running
            started = time.perf_counter()
            run()
            timings.setdefault(name, []).append(time.perf_counter() - started)
            gc.enable()
    kind = f"message to a room of {args.room}" if args.room else "private message"
    kept = ", history's rows kept" if args.history else ""
    print(f"# {args.src}: µs per {kind}{kept}, medians of {args.runs}")
    for name, seconds in timings.items():
        print(f"{name:18} {statistics.median(seconds) / args.messages * 1e6:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
