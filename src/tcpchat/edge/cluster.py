"""The server's side of `--cluster`: join as a node once listening, leave at shutdown.

Shared so far: nicks (`RedisNicks`, the core's `SharedNicks`). A node that finds itself
fenced hangs up on its clients, saying why: the network freed their nicks when it declared
this node dead, so keeping them would let two people hold one nick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..cluster.node import LEAVE_TIMEOUT
from ..cluster.policy import is_fenced, reason_of, retry_delay
from ..cluster.welcome import Welcome, WelcomeGate
from ..config import Settings
from ..core.events import StoreWritten
from ..core.handlers.bans import reload as reload_bans
from ..core.handlers.ownership import accounts_known
from ..core.replication import Replication
from ..core.shared_nicks import UNAVAILABLE, Claimed
from ..store.accounts import registered_channels
from ..store.bans import load_bans
from ..store.replicated_accounts import ReplicatedAccounts, Statement

log = logging.getLogger("tcpchat.cluster")

AWAY_NOTICE = (
    "The network's shared store can't be reached: you can go on chatting, and what you say "
    "is delivered when it is back; a new nick can't be taken until then"
)
BACK_NOTICE = "The network's shared store is back: everything works again"
FENCED_REASON = (
    "This server was cut off from the network for too long and had to start again; please reconnect"
)

# After a read of the bus that brought entries, how long to wait before the next: a busy
# bus is then read in fewer, bigger loop turns. What a turn delivers leaves in one write
# per connection, and those writes are most of a node's work, so a turn per few messages
# cost two nodes more CPU per delivery than one node alone. A quiet bus is read at once.
LINGER = 0.002

T = TypeVar("T")

if TYPE_CHECKING:
    from ..cluster.node import ClusterNode
    from ..cluster.policy import Membership
    from .server import ChatServer


def uid_prefix() -> str:
    """What this process's uids start with in a cluster, so no two nodes make the same one."""
    return secrets.token_hex(4) + "."


async def join_cluster(
    settings: Settings, server: ChatServer, say: Callable[[str], None]
) -> ClusterNode:
    """A started node: joined when Redis answered at once (and `say` told so), otherwise
    trying again in the background. Its events go through the bus from now on."""
    from ..cluster.node import ClusterNode

    assert settings.cluster_url is not None
    core = server.core
    replication = Replication(core)
    bus: Bus | None = None

    def joined(membership: Membership) -> None:
        say(f"Cluster: node {membership.node} (epoch {membership.epoch}) at {node.shown_url}")
        if bus is not None:
            bus.joined(membership)

    gate = WelcomeGate()  # registrations wait until the node knows the network

    def let_in(welcomes: list[Welcome]) -> None:
        """The core's gate as the welcome gate says (the one place that sets it), then the
        registrations it lets go on."""
        core.network_gate = None if gate.open else gate.hold
        for welcome in welcomes:
            welcome(None)

    def knows_network() -> None:
        let_in(gate.knows_network())

    def fenced(membership: Membership, reason: str) -> None:
        gate.fence()
        let_in([])
        say(
            f"Cluster: node {membership.node} (epoch {membership.epoch}) was fenced: the "
            "cluster declared it dead; its clients are let go, and it rejoins as a new node"
        )
        if bus is not None:
            bus.fenced()
        for session in list(core.sessions):
            if not session.console:
                core.close(session, FENCED_REASON)
        replication.reset()
        replication.forget_network()

    def reachable(answers: bool) -> None:
        replication.connected = answers
        for session in list(core.sessions):
            if session.registered and not session.console:
                core.notice(session, BACK_NOTICE if answers else AWAY_NOTICE)

    def dead(nodes: list[int]) -> None:
        count = replication.split({str(each) for each in nodes})
        log.warning("%d user(s) of the dead node(s) left the network", count)

    node = ClusterNode(
        settings.cluster_url,
        settings.cluster_node_timeout,
        users=lambda: core.state.users - core.state.remote_users,
        on_joined=joined,
        on_fenced=fenced,
        on_dead=dead,
        on_reachable=reachable,
        on_nodes=lambda count: setattr(core, "nodes", max(1, count)),
        knows_network=lambda: bus is not None and bus.ready.is_set(),
    )

    def present(uid: str) -> bool:
        return core.state.user(uid) is not None

    core.share_nicks(RedisNicks(node, settings.cluster_node_timeout, present, core.node))
    if server.database is not None:
        core.attach_accounts(share_accounts(server), core.account_names)
    bus = Bus(node, replication, settings.cluster_node_timeout)
    bus.on_ready = knows_network
    core.replicate(replication)
    # It listens already: whoever registers before it knows the network waits, as after a
    # fence. A node that cannot reach Redis, or hears no answer in time, serves anyway
    # (unless it was fenced meanwhile: cluster/welcome.py).
    let_in([])  # closed: the gate starts so
    if await node.start() is not None:  # joined: know the network before saying "waiting"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bus.ready.wait(), settings.cluster_node_timeout * 3)
    let_in(gate.start_wait_over())
    return node


def share_accounts(server: ChatServer) -> ReplicatedAccounts:
    """Accounts and registered channels changed here are changed on every node."""
    core = server.core
    assert server.database is not None

    def publish(statements: list[Statement]) -> None:
        core.emit(StoreWritten(core.clock(), tuple(statements)))

    def changed() -> None:  # another node's change: the names, channels and bans known here
        core.accounts.names(lambda names: accounts_known(core, names or set()))
        core.accounts.read(registered_channels, core.channel_registry.load)
        core.accounts.read(load_bans, lambda bans: reload_bans(core, bans))

    return ReplicatedAccounts(core.accounts, server.database, publish, changed)


async def leave_cluster(server: ChatServer, node: ClusterNode, reason: str) -> None:
    """Tell the network this node's users are leaving, then leave."""
    replication = server.core.replication
    if isinstance(replication, Replication):
        replication.leaving(reason)
        bus = replication.bus
        if isinstance(bus, Bus):
            await bus.drain(LEAVE_TIMEOUT)
            bus.stop()
    await node.stop()


class Bus:
    """This node's reading and writing of the bus: one task appends what the core emitted,
    a batch per loop turn, in order; one task reads what every node appended and hands it
    to the core, in order. A new membership first says hello and takes in a snapshot."""

    def __init__(self, node: ClusterNode, replication: Replication, timeout: float) -> None:
        self.node = node
        self.replication = replication
        replication.bus = self
        replication.wake = self.wake
        self.timeout = timeout
        self.membership: Membership | None = None
        self.ready = asyncio.Event()  # the hello is done: appending may start
        self.on_ready: Callable[[], None] = lambda: None  # and the network is known
        self.last = 0  # the sequence number of the last entry read
        self.batch = 0  # the number of the last batch appended, in this membership
        self.sender: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.starting: asyncio.Task[None] | None = None

    def joined(self, membership: Membership) -> None:
        self.membership, self.batch = membership, 0
        self.starting = asyncio.get_running_loop().create_task(self._hello(membership))

    def fenced(self) -> None:
        self.membership = None
        self.ready.clear()
        for task in (self.reader, self.starting):
            if task is not None:
                task.cancel()

    def stop(self) -> None:
        self.fenced()
        if self.sender is not None:
            self.sender.cancel()

    def wake(self) -> None:
        if self.sender is None or self.sender.done():
            self.sender = asyncio.get_running_loop().create_task(self._send())

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout`) until everything emitted so far is appended."""
        if self.sender is not None and not self.sender.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.sender), timeout)

    async def _hello(self, membership: Membership) -> None:
        from ..cluster.codec import decode_state

        delay, failures = 0.0, 0
        while self.membership is membership:
            await asyncio.sleep(delay)
            try:
                seq, answering = await self.node.hello(membership)
                snapshot = None
                if answering is not None:
                    snapshot = await self._snapshot(membership, seq)
                    if snapshot is None:
                        log.warning("node %d did not answer the hello; saying it again", answering)
                        delay = 0.1
                        continue
            except Exception as exc:
                if is_fenced(str(exc)):
                    return  # the heartbeat finds out and rejoins
                log.warning("cannot say hello on the bus (%s); trying again", reason_of(exc))
                delay, failures = retry_delay(failures), failures + 1
                continue
            if snapshot is not None:
                users, channels, store = decode_state(snapshot)
                self.replication.load(users, channels)
                accounts = self.replication.core.accounts
                if isinstance(accounts, ReplicatedAccounts):
                    accounts.load(store)
            try:
                await self.node.ready(membership)
            except Exception as exc:  # it still works; it only answers no hello until it
                log.warning("cannot say this node is ready (%s)", reason_of(exc))
            self.last = seq
            self.ready.set()
            self.on_ready()
            self.reader = asyncio.get_running_loop().create_task(self._read(membership))
            self.wake()
            return

    async def _snapshot(self, membership: Membership, seq: int) -> str | None:
        """The snapshot answering hello `seq` (one answering an earlier hello, which came
        too late, is passed over), or None after the timeout."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            found = await self.node.await_snapshot(membership.node, left)
            if found is None:
                return None
            at, _, snapshot = found.partition(" ")
            if int(at) == seq:
                return snapshot
        return None

    async def _dump(self) -> list[Statement]:
        """This node's accounts and registered channels, for a joining node."""
        accounts = self.replication.core.accounts
        if not isinstance(accounts, ReplicatedAccounts):
            return []
        found: asyncio.Future[list[Statement] | None] = asyncio.get_running_loop().create_future()
        accounts.dump(found.set_result)
        return await found or []

    async def _rolled_back(self) -> None:
        """A Redis that lost its last writes (a crash with `appendfsync everysec`) numbers
        new entries from where it got back to: a node that had read further would wait for
        numbers it has passed, and hear nobody again. It reads on from there instead."""
        try:
            seq = await self.node.bus_seq()
        except Exception:
            return  # the next read says what is wrong
        if seq < self.last:
            log.error(
                "the bus went back from %d to %d (Redis lost its last writes): reading on "
                "from there; what was said in between reached only some nodes",
                self.last, seq,
            )  # fmt: skip
            self.last = seq

    async def _send(self) -> None:
        from ..cluster.codec import encode_batch

        replication = self.replication
        while replication.outbox:
            await self.ready.wait()
            membership = self.membership
            assert membership is not None
            events = replication.take()
            self.batch += 1
            payload = encode_batch(events, str(membership.node))
            failures = 0
            while self.membership is membership:
                try:
                    await self.node.append(membership, self.batch, len(events), payload)
                    break
                except Exception as exc:
                    if is_fenced(str(exc)):
                        break  # the heartbeat finds out; what was not appended is dropped
                    log.warning("cannot append to the bus (%s); trying again", reason_of(exc))
                    await asyncio.sleep(retry_delay(failures))
                    failures += 1

    async def _read(self, membership: Membership) -> None:
        from ..cluster.codec import decode_batch, encode_state

        mine = str(membership.node)
        replication = self.replication
        failures = 0
        while self.membership is membership:
            try:
                entries = await self.node.read(self.last)
            except Exception as exc:
                log.warning("cannot read the bus (%s); trying again", reason_of(exc))
                await asyncio.sleep(retry_delay(failures))
                failures += 1
                continue
            failures = 0
            if not entries:  # quiet: a moment to check Redis did not lose the bus's end
                await self._rolled_back()
            for seq, fields in entries:
                if seq != self.last + 1:
                    log.error("the bus lost entries %d to %d", self.last + 1, seq - 1)
                self.last = seq
                origin, count = fields["n"], int(fields["k"])
                if count == 0:  # a hello: this node answers it, when named
                    if fields.get("h") == mine:
                        store = await self._dump()
                        users, channels = replication.snapshot()
                        snapshot = encode_state(users, channels, mine, store)
                        await self.node.send_snapshot(int(origin), f"{seq} {snapshot}")
                elif origin == mine:
                    replication.returned(count)
                else:
                    replication.arrived(decode_batch(fields["p"]))
            if entries:  # busy: let the next entries gather (see LINGER)
                await asyncio.sleep(LINGER)


class RedisNicks:
    """The core's SharedNicks through the node's scripts. One task runs the calls one
    after another, in the order the core made them: a nick let go by one user and claimed
    by the next must reach Redis in that order, which a pool of connections would not keep."""

    def __init__(
        self, node: ClusterNode, timeout: float, present: Callable[[str], bool], mine: str = ""
    ) -> None:
        self.node = node
        self.mine = mine  # the prefix of this node's uids: only their nicks are let go here
        self.present = present  # is this uid still connected here?
        self.timeout = timeout  # a claim Redis does not answer in time is UNAVAILABLE
        self.calls: deque[Callable[[], Awaitable[None]]] = deque()
        self.worker: asyncio.Task[None] | None = None

    def claim(
        self, uid: str, folded: str, old: str | None, done: Callable[[Claimed], None]
    ) -> None:
        async def call() -> None:
            answer: Claimed = await self._ask(
                f"nick {folded} could not be claimed", self.node.claim_nick(uid, folded, old)
            )
            if answer and not self.present(uid):  # it hung up while Redis was asked
                await self.node.release_nick(uid, folded)
                return
            done(answer)

        self._queue(call)

    def take(
        self, uid: str, folded: str, old: str | None, node: str,
        done: Callable[[], None] | None = None,
    ) -> None:
        async def call() -> None:
            await self._ask(f"nick {folded} could not be given",
                            self.node.take_nick(uid, folded, old, node))  # fmt: skip
            if done is not None:
                done()

        self._queue(call)

    def holder(self, folded: str, done: Callable[[str | None], None]) -> None:
        async def call() -> None:
            done(await self._ask(f"who holds nick {folded} is not known",
                                 self.node.nick_holder(folded)))  # fmt: skip

        self._queue(call)

    def release(self, uid: str, folded: str) -> None:
        if not uid.startswith(self.mine):  # someone elsewhere: their node lets it go
            return
        self._queue(lambda: self.node.release_nick(uid, folded))

    async def _ask(self, what: str, call: Awaitable[T]) -> T | None:
        """The store's answer, or UNAVAILABLE when it can't give one in time (logged as
        `what`: the caller says no, or waits no longer)."""
        from ..cluster.node import Unavailable

        try:
            async with asyncio.timeout(self.timeout):
                return await call
        except (Unavailable, TimeoutError) as exc:
            log.warning("%s: %s", what, exc or "no answer")
            return UNAVAILABLE

    def _queue(self, call: Callable[[], Awaitable[None]]) -> None:
        self.calls.append(call)
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        calls = self.calls
        await self.node.tried.wait()  # a node just started: not before its first join try
        while calls:
            await calls.popleft()()
