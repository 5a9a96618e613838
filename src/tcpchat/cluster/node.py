"""ClusterNode: this server's membership in the cluster, kept alive by a heartbeat.

`start` connects and joins (a new node id and epoch from Redis); then one task, every
quarter of `cluster_node_timeout`, sends a heartbeat and reaps the nodes whose heartbeat is
three beats old (policy.reap_age: so a dead node is noticed within the timeout), handing
their ids to `on_dead`. Both steps in one task, in that
order, so a node never reaps itself while it is beating on time. A node that has just
reached Redis again reaps nobody for a while (policy.reaping_pause): while Redis was away
nobody could beat, so every heartbeat is old, and not because its node died.

A heartbeat refused as FENCED (this node was reaped while it was paused or cut off, or
another process took its record) means the cluster has declared this node dead: it calls
`on_fenced`, forgets its membership and joins again as a new node, with a higher epoch. It
never writes with the old epoch again. When Redis can't be reached, it tries again after
0.1 s, doubling up to 5 s (policy.retry_delay), saying so in the log each time; `stop`
leaves (so the others need not wait for the timeout) and closes the connection.

Only this module and `status` talk to Redis; redis-py is imported when a node is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import keys, scripts
from .policy import (
    Membership,
    client_options,
    heartbeat_interval,
    is_fenced,
    public_url,
    reap_age,
    reaping_pause,
    reason_of,
    retry_delay,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("tcpchat.cluster")

LEAVE_TIMEOUT = 2.0  # seconds a shutdown waits to leave before leaving it to the reapers
BUS_LENGTH = 100_000  # batches the bus keeps (about: Redis trims whole blocks)


class Fenced(Exception):
    """The cluster has declared this node dead; it must rejoin as a new one."""


class Unavailable(Exception):
    """The network's shared state can't be read or written now (Redis away, or this node
    between memberships); the text says why."""


def _ignore(*_: Any) -> None:
    pass


class ClusterNode:
    """One process's membership: `await start()`, later `await stop()`."""

    def __init__(
        self,
        url: str,
        node_timeout: float,
        users: Callable[[], int] = lambda: 0,
        on_joined: Callable[[Membership], None] = _ignore,
        on_fenced: Callable[[Membership, str], None] = _ignore,
        on_dead: Callable[[list[int]], None] = _ignore,
        on_reachable: Callable[[bool], None] = _ignore,
        on_nodes: Callable[[int], None] = _ignore,
        knows_network: Callable[[], bool] = lambda: True,
    ) -> None:
        """`on_reachable(False)` when Redis stops answering, `(True)` when it answers
        again: once each way, not at every try. `on_nodes(count)`: the live nodes, after
        each reaping. `knows_network()`: whether this node has taken in the network's
        users since it joined; until then, for a timeout at most, it reaps nobody."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.url = url
        self.shown_url = public_url(url)
        self.node_timeout = node_timeout
        self.interval = heartbeat_interval(node_timeout)
        self.on_reachable = on_reachable
        self.on_nodes = on_nodes
        self.knows_network = knows_network
        self.users, self.on_joined, self.on_fenced, self.on_dead = (
            users,
            on_joined,
            on_fenced,
            on_dead,
        )
        self.membership: Membership | None = None
        self.failures = 0  # tries in a row that could not reach Redis
        self.reap_after = 0.0  # the loop's time before which this node reaps nobody
        self.joined_at = 0.0  # the loop's time it last joined
        self.task: asyncio.Task[None] | None = None
        options = client_options(url, node_timeout, os.environ)
        self.redis: Redis = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self.scripts = {
            name: self.redis.register_script(source)
            for name, source in (
                ("join", scripts.JOIN),
                ("heartbeat", scripts.HEARTBEAT),
                ("reap", scripts.REAP),
                ("leave", scripts.LEAVE),
                ("claim_nick", scripts.CLAIM_NICK),
                ("release_nick", scripts.RELEASE_NICK),
                ("take_nick", scripts.TAKE_NICK),
            )
        }
        # How long a read of the bus waits for news: well within the socket's timeout.
        self.read_block_ms = max(50, int(options["socket_timeout"] * 500))
        # The bus's calls, one or two a message, on a client of their own without redis-py's
        # socket timeout, which wraps each send in asyncio.wait_for: a task per call on
        # Python 3.11, about 40% of a call's CPU. asyncio.timeout bounds them instead.
        self.call_timeout: float = options["socket_timeout"]
        self.bus_redis: Redis = Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), **{**options, "socket_timeout": None}
        )
        # The reader's XREAD and the sender's append, each on a connection of its own,
        # spoken to directly (`_direct`): redis-py's client layer (its pool, retries,
        # events, argument checks) was about a quarter of what each node spends on every
        # message of the network (100 of 410 us of CPU on a node that only receives it).
        self._direct_connections: dict[str, Any] = {}
        # Set once the first try to join is over, joined or not: the server listens before
        # it, and a nick asked for meanwhile waits for it rather than be refused.
        self.tried = asyncio.Event()
        self.bus_scripts = {
            name: self.bus_redis.register_script(source)
            for name, source in (
                ("append", scripts.APPEND), ("hello", scripts.HELLO), ("ready", scripts.READY)
            )
        }  # fmt: skip

    async def start(self) -> Membership | None:
        """Join now if Redis answers (the membership), else None and keep trying in the
        background: a server with an unreachable Redis still serves its own clients."""
        try:
            delay = await self._tick()
        finally:
            self.tried.set()
        self.task = asyncio.create_task(self._run(delay))
        return self.membership

    async def stop(self) -> None:
        """Leave the cluster (at once, not after the timeout) and close the connection."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        membership, self.membership = self.membership, None
        if membership is not None:
            try:
                async with asyncio.timeout(LEAVE_TIMEOUT):
                    await self._call(
                        "leave", membership.node, membership.epoch, membership.token
                    )
            except Exception as exc:  # Redis away: the others reap this node in time
                log.warning(
                    "could not leave the cluster (%s); node %d will be reaped after %.1f s",
                    reason_of(exc),
                    membership.node,
                    self.node_timeout,
                )
            else:
                log.info("node %d left the cluster", membership.node)
        await self.redis.aclose()
        await self.bus_redis.aclose()
        connections = list(self._direct_connections.values())
        self._direct_connections.clear()
        for connection in connections:
            await connection.disconnect(nowait=True)

    async def claim_nick(self, uid: str, folded: str, old: str | None) -> bool:
        """Whether the nick (folded) is now `uid`'s network-wide, letting `old` go in the
        same step. Raises Unavailable when this node is not a member (Redis away, or
        rejoining): the caller says so rather than guess."""
        membership = self._member()
        nick_keys = (keys.NODES, keys.NICKS, keys.node_nicks(membership.node))
        args: list[str | int] = [
            membership.node, membership.epoch, membership.token, folded, uid, old or ""
        ]
        try:
            claimed = await self.scripts["claim_nick"](keys=nick_keys, args=args)
        except Exception as exc:
            raise Unavailable(reason_of(exc)) from exc
        return bool(int(claimed))

    async def take_nick(self, uid: str, folded: str, old: str | None, node: str) -> None:
        """Give the nick to `uid` (on node `node`, "" for this one), whoever held it: a
        guest nick or REGAIN. Nothing when Redis is away (said in the log)."""
        membership = self.membership
        if membership is None:
            log.warning("nick %s given while Redis is away: not shared", folded)
            return
        owner = node or str(membership.node)
        nick_keys = (keys.NODES, keys.NICKS, f"{keys.PREFIX}node-nicks:{owner}")
        args: list[str | int] = [membership.node, membership.epoch, membership.token, folded,
                                 uid, old or "", owner]  # fmt: skip
        try:
            await self.scripts["take_nick"](keys=nick_keys, args=args)
        except Exception as exc:
            log.warning("could not give nick %s (%s)", folded, reason_of(exc))

    async def nick_holder(self, folded: str) -> str:
        """The uid that holds the folded nick network-wide, "" for no one. Raises
        Unavailable when Redis can't say."""
        try:
            owner = await self.redis.hget(keys.NICKS, folded)
        except Exception as exc:
            raise Unavailable(reason_of(exc)) from exc
        return str(owner).partition(":")[2] if owner else ""

    async def release_nick(self, uid: str, folded: str) -> None:
        """Let the nick go, if `uid` holds it; nothing when Redis is away (a node that
        cannot reach it is reaped in time, and its nicks with it)."""
        membership = self.membership
        if membership is None:
            return
        nick_keys = (keys.NODES, keys.NICKS, keys.node_nicks(membership.node))
        args: list[str | int] = [membership.node, membership.epoch, membership.token, folded, uid]
        try:
            await self.scripts["release_nick"](keys=nick_keys, args=args)
        except Exception as exc:
            log.warning("could not let nick %s go (%s)", folded, reason_of(exc))

    # ------------------------------------------------------------------- the bus

    async def append(
        self, membership: Membership, batch: int, count: int, payload: str | bytes
    ) -> int:
        """Append one batch of this node's events to the bus: its sequence number (0 if this
        batch was appended already). Raises Fenced for a node the cluster declared dead."""
        args: list[str | int | bytes] = [membership.node, membership.epoch, membership.token,
                                         batch, count, payload, BUS_LENGTH]  # fmt: skip
        from redis.exceptions import NoScriptError

        script = self.bus_scripts["append"]
        command = ("EVALSHA", script.sha, len(keys.BUS_KEYS), *keys.BUS_KEYS, *args)
        try:
            answer = await self._direct("sender", self.call_timeout, command)
        except NoScriptError:  # a Redis restarted, its scripts forgotten: load it again
            async with asyncio.timeout(self.call_timeout):
                await self.bus_redis.script_load(script.script)
            answer = await self._direct("sender", self.call_timeout, command)
        return int(answer)

    async def hello(self, membership: Membership) -> tuple[int, int | None]:
        """Say hello on the bus: its sequence number, and the node that will answer with a
        snapshot (None when this node is alone)."""
        args = [membership.node, membership.epoch, membership.token]
        seq, answering = await self._bus_call("hello", args)
        return int(seq), int(answering) if answering else None

    async def ready(self, membership: Membership) -> None:
        """This node knows the network now: it may answer the next node's hello."""
        await self._bus_call("ready", [membership.node, membership.epoch, membership.token])

    async def _bus_call(self, script: str, args: list[Any]) -> Any:
        from redis.exceptions import ResponseError

        try:
            async with asyncio.timeout(self.call_timeout):
                return await self.bus_scripts[script](keys=keys.BUS_KEYS, args=args)
        except ResponseError as exc:
            if is_fenced(str(exc)):
                raise Fenced(str(exc)) from None
            raise

    async def _direct(self, name: str, timeout: float, command: tuple[Any, ...]) -> Any:
        """`command`'s answer on the connection `name` ("reader" or "sender"), made when
        first needed, with no client layer between. A call that fails other than with an
        error reply (a timeout, a lost connection, a cancel) drops the connection, whose
        next answer might be this one's: the next call makes a new one."""
        from redis.exceptions import ResponseError

        connection: Any = self._direct_connections.get(name)
        if connection is None:
            connection = self.bus_redis.connection_pool.make_connection()
            self._direct_connections[name] = connection
        try:
            async with asyncio.timeout(timeout):
                await connection.send_command(*command)
                return await connection.read_response()
        except ResponseError as exc:
            if is_fenced(str(exc)):
                raise Fenced(str(exc)) from None
            raise
        except BaseException:
            if self._direct_connections.get(name) is connection:  # (stop may have closed it)
                del self._direct_connections[name]
            await connection.disconnect(nowait=True)
            raise

    async def read(self, after: int, count: int = 1000) -> list[tuple[int, dict[str, str]]]:
        """The bus's entries after sequence number `after`, oldest first, waiting a little
        for the first: (sequence, fields)."""
        command = ("XREAD", "COUNT", count, "BLOCK", self.read_block_ms,
                   "STREAMS", keys.BUS, f"0-{after}")  # fmt: skip
        found = await self._direct("reader", self.call_timeout + self.read_block_ms / 1000, command)
        if not found:
            return []
        # The raw reply: {stream: entries} in RESP3, [[stream, entries]] in RESP2; an
        # entry is [id, [field, value, ...]].
        (entries,) = found.values() if isinstance(found, dict) else (found[0][1],)
        return [
            (int(entry_id.partition("-")[2]), dict(zip(flat[::2], flat[1::2], strict=True)))
            for entry_id, flat in entries
        ]

    async def bus_seq(self) -> int:
        """The bus's last sequence number, as Redis has it now."""
        return int(await self.redis.get(keys.BUS_SEQ) or 0)

    async def send_snapshot(self, node: int, payload: str) -> None:
        key = keys.snapshot_for(node)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, payload)
            pipe.expire(key, 60)
            await pipe.execute()

    async def await_snapshot(self, node: int, timeout: float) -> str | None:
        """The snapshot another node answered this node's hello with; None after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        key = keys.snapshot_for(node)
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            found = await self.redis.blpop([key], timeout=min(left, self.read_block_ms / 1000))
            if found:
                return str(found[1])
        return None

    def _member(self) -> Membership:
        if self.membership is None:
            raise Unavailable("this server is not in the network right now")
        return self.membership

    async def _run(self, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            delay = await self._tick()

    async def _tick(self) -> float:
        """Join (if not a member), beat and reap; the seconds until the next tick."""
        try:
            if self.membership is None:
                await self._join()
            else:
                await self._beat(self.membership)
            if self.failures:  # Redis was away: nobody could beat; reap nobody for now
                pause = reaping_pause(self.node_timeout)
                self.reap_after = asyncio.get_running_loop().time() + pause
            await self._reap()
        except Fenced as exc:
            self._fenced(str(exc))
            return 0.0  # rejoin at once
        except Exception as exc:
            return self._unreachable(exc)
        if self.failures:
            log.warning("Redis at %s answers again", self.shown_url)
            self.failures = 0
            self.on_reachable(True)
        return self.interval

    async def _call(self, script: str, *args: Any) -> Any:
        return await self.scripts[script](keys=keys.NODE_KEYS, args=list(args))

    async def _join(self) -> None:
        token = secrets.token_hex(8)
        node, epoch = await self._call("join", socket.gethostname(), os.getpid(), token)
        self.membership = Membership(int(node), int(epoch), token)
        self.joined_at = asyncio.get_running_loop().time()
        log.info("joined the cluster at %s as node %s", self.shown_url, node)
        self.on_joined(self.membership)

    async def _beat(self, membership: Membership) -> None:
        from redis.exceptions import ResponseError

        try:
            await self._call(
                "heartbeat", membership.node, membership.epoch, self.users(), membership.token
            )
        except ResponseError as exc:
            if is_fenced(str(exc)):
                raise Fenced(str(exc)) from None
            raise

    async def _reap(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self.reap_after:
            return
        # A node that has just joined does not know the network's users yet: reaping a dead
        # node then would remove it for good with none of its users told to quit (this node
        # has none of them to tell about, and the others find nothing left to reap). The
        # nodes that know them reap it; this one starts once its snapshot is in, or after a
        # timeout (the node meant to send the snapshot may be the dead one, and alone).
        if self.knows_network() or now >= self.joined_at + self.node_timeout:
            timeout_ms = round(reap_age(self.node_timeout) * 1000)
            dead = [int(each) for each in await self._call("reap", timeout_ms)]
            mine = self.membership.node if self.membership else None
            others = [each for each in dead if each != mine]
            if others:
                log.warning(
                    "reaped node(s) %s: no heartbeat for %.1f s",
                    ", ".join(map(str, others)),
                    reap_age(self.node_timeout),
                )
                self.on_dead(others)
            if mine in dead:  # paused between its beat and its reap, long enough to be dead
                raise Fenced(f"FENCED node {mine}'s own heartbeat was too old: it was reaped")
        self.on_nodes(int(await self.redis.zcard(keys.HEARTBEATS)))

    def _fenced(self, reason: str) -> None:
        old, self.membership = self.membership, None
        if old is None:
            return
        log.warning(
            "node %d (epoch %d) was fenced: the cluster declared it dead (%s); "
            "rejoining as a new node",
            old.node,
            old.epoch,
            reason,
        )
        self.on_fenced(old, reason)

    def _unreachable(self, exc: Exception) -> float:
        """A try failed: log it (a traceback only for what is not a lost connection) and
        say how long to wait."""
        from redis.exceptions import ConnectionError, TimeoutError

        delay = retry_delay(self.failures)
        self.failures += 1
        if self.failures == 1:
            self.on_reachable(False)
        expected = isinstance(exc, ConnectionError | TimeoutError | OSError)
        log.warning(
            "cannot reach Redis at %s (%s); retrying in %.1f s",
            self.shown_url,
            reason_of(exc),
            delay,
            exc_info=not expected,
        )
        return delay


