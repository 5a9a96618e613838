"""Everything a command handler may use: the state, the output verbs, lookups and the clock.

`ChatCore` (chat.py) adds the input side on top: `receive`, the command table, `dispatch`.
Handlers import this module, never chat.py, so the layers stay acyclic.

The output verbs, and who hears each:

- `reply(session, numeric, ...)`: a numeric to the session whose command is running;
- `send(session, message)`: any other line to one session (PONG, CAP, a server NOTICE);
- `emit(event)`: something happened; the state applies it, the router tells whoever on
  this node should see it (the sender included, where IRC says so);
- `close(session, reason)`: ERROR to the session, QUIT to its peers, then hang up;
- `fail`/`warn`/`note(session, command, code, *context, description)`: IRCv3 standard replies.

While a session's command runs, everything written to that session (replies, and its own
echo of an event) goes into the command's reply buffer and leaves in one write when the
command ends. A command that came with a `label` (labeled-response) is run by `run_labeled`
instead: its buffer leaves framed for the label (labels.py), when the command has really
ended. Work that finishes later (`later`) holds the session's next lines until it has
finished, and a labeled command's replies wait for it too.
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, ValuesView
from typing import Any, Protocol

from .. import __version__
from ..config import Settings
from ..passwords import PasswordHash, parse_hash
from ..protocol import Message, irc_lower, is_channel_name, safe_middle, serialize
from ..store.accounts import AccountStore, SqliteAccounts
from ..store.database import Database
from ..store.schema import MIGRATIONS
from . import numerics as n
from .bans import BanList
from .capabilities import offered
from .events import EVENT_TYPES, Event, MessageSent, Quit
from .gate import PasswordGate
from .history import History
from .labels import labeled_response
from .model import Channel, Labeled, Reloaded, Session, User
from .registry import ChannelRegistry
from .router import LocalRouter
from .shared_nicks import SharedNicks
from .state import ChatState, LocalState


class Replicating(Protocol):
    """What the core asks of a cluster's bus (replication.py): how each kind of event is
    emitted there, and the counts /metrics shows."""

    sent: int
    received: int

    def pipeline(self) -> dict[type, Callable[[Any], None]]: ...

log = logging.getLogger("tcpchat.core")

# Runs slow work (password hashing) and hands its result to a callback on the core's
# thread. The core alone runs it at once; the server edge uses a worker thread.
RunBlocking = Callable[[Callable[[], Any], Callable[[Any], None]], None]


def run_now(work: Callable[[], Any], done: Callable[[Any], None]) -> None:
    done(work())


_NICK_RE = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")


def _memory_database() -> Database:
    """A database in memory, answered at once: for a core without an edge (tests)."""
    database = Database(None, MIGRATIONS)
    database.open()
    return database


class ChatBase:
    """The chat's state and the ways to change it and to speak; see the module docstring."""

    # What happens to each kind of event (`_use_pipeline`), and its entry for messages.
    _pipeline: dict[type, Callable[[Any], None]]
    emit_message: Callable[[MessageSent], None]

    def __init__(
        self,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        state: ChatState | None = None,
        node: str = "",
    ) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self.started = clock()
        s = self.settings
        self.state: ChatState = (
            state if state is not None else LocalState(s.whowas_entries, s.whowas_per_nick)
        )
        self.router = LocalRouter(self.state, self.settings.server_name)
        self.node = node
        self.version = f"tcpchat-{__version__}"
        self.run_blocking: RunBlocking = run_now
        self.rehash: Callable[[], Reloaded] | None = None  # REHASH: the edge's reload
        self.reserved = {irc_lower(nick) for nick in self.settings.reserved_nicks}
        # Server operators (OPER): name -> password hash, and the checks under way.
        self.operators: dict[str, PasswordHash] = {
            name: parse_hash(hashed) for name, hashed in self.settings.operators.items()
        }
        # Password checks (OPER, and SASL logins): few at once, a pause after a failure.
        self.password_gate = PasswordGate()
        self.knocks: dict[str, float] = {}  # uid -> when they last knocked (KNOCK)
        self._uids = itertools.count(1)
        # msgids are unique forever and network-wide: an origin no other run or node shares
        # (this start's time and 40 random bits), then a serial number.
        self.msgid_origin = f"{int(self.started):x}{secrets.token_hex(5)}{node}-"
        # Lines received, by command (/metrics: `lines_in`): the one path's, and the quick
        # lane's PRIVMSGs as a plain count (a dict update per message cost more).
        self.lines_by_command: dict[str, int] = {}
        self.quick_privmsgs = 0
        self.handler_failures = 0
        # Messages' serial numbers: `next(core.serials)` (a builtin call, cheaper than the
        # count's bound __next__, pure or compiled).
        self.serials = itertools.count(1)
        self.next_serial = self.serials.__next__
        # Registered channels (CS REGISTER): kept in the store, followed after each event.
        self.channel_registry = ChannelRegistry(self)
        database = _memory_database()  # until the edge attaches the data directory's
        # History: what is kept of each event, written before anyone receives it.
        self.history = History(self, database)
        # What happens to each kind of event, in order: history keeps it, the state applies
        # it, the router renders it, then the registered channels follow what concerns them
        # (looked up once per kind, since messages take this path).
        self._use_pipeline({kind: self._steps(kind) for kind in EVENT_TYPES})
        # The capabilities offered now: name -> CAP LS 302 value (see capabilities.py).
        self.capabilities: dict[str, str | None] = offered(self.settings)
        self.tls_port: int | None = None  # where TLS is served, once the edge listens there
        # In a cluster, nicks are claimed network-wide too (shared_nicks.py); None alone.
        self.shared_nicks: SharedNicks | None = None
        self.replication: Replicating | None = None  # a cluster's bus (replication.py)
        # Set while a cluster node waits for the network's snapshot, starting or fenced
        # (edge/cluster.py): registrations wait through it, or they would find the rooms new.
        self.network_gate: Callable[[Callable[[Any], None]], None] | None = None
        self.nodes = 1  # the servers of the network: this one, or a cluster's live nodes
        self._batch_refs = itertools.count(1)
        # Accounts: where they are kept, and every account's folded name (its nick is owned).
        self.accounts: AccountStore = SqliteAccounts(database)
        self.account_names: set[str] = set()
        # Nick ownership: who holds an account's nick without being logged in to it, and
        # until when they may (uid -> (deadline, folded nick)); the sweep renames them.
        self.nick_graces: dict[str, tuple[float, str]] = {}
        # REGISTER's rate limits: (when, address key) of each registration of the last hour.
        self.registrations: deque[tuple[float, str]] = deque()
        self.bans = BanList()  # K-lines and D-lines in force (handlers/bans.py)

    def attach_database(self, database: Database, names: set[str] | None = None) -> None:
        """Keep accounts and history in `database` from now on (the edge, once it is open),
        with every account's name when the caller has them already (else they are asked)."""
        self.attach_accounts(SqliteAccounts(database), names)
        self.history.attach(database)

    def attach_accounts(self, accounts: AccountStore, names: set[str] | None = None) -> None:
        """Keep accounts in `accounts` from now on, with every account's name when the caller
        has them already (else they are asked)."""
        self.accounts = accounts
        if names is None:
            accounts.names(self._names_loaded)
        else:
            self.account_names = names

    def _names_loaded(self, names: set[str] | None) -> None:
        self.account_names = names or set()

    # ---------------------------------------------------------------- ids

    def new_uid(self) -> str:
        return f"{self.node}{next(self._uids):x}"

    def new_batch_ref(self) -> str:
        """A reference tag for a batch the server opens (letters and digits only)."""
        return f"b{next(self._batch_refs):x}"

    @property
    def sessions(self) -> ValuesView[Session]:
        """This node's connections: the router's index of them by uid (one index, not two)."""
        return self.router.sessions.values()

    @property
    def messages_relayed(self) -> int:
        """Messages sent so far (PRIVMSG, NOTICE, TAGMSG): serial numbers handed out."""
        return next(copy.copy(self.serials)) - 1

    @property
    def lines_in(self) -> dict[str, int]:
        """Lines received so far, by command (/metrics)."""
        counts = dict(self.lines_by_command)
        if self.quick_privmsgs:
            counts["PRIVMSG"] = counts.get("PRIVMSG", 0) + self.quick_privmsgs
        return counts

    # ------------------------------------------------------------- lookups

    def find_user(self, nick: str) -> User | None:
        """The registered user with this nick (under casemapping), if any."""
        return self.state.user_by_nick(nick)

    def find_channel(self, name: str) -> Channel | None:
        return self.state.channel(name)

    def session_of(self, user: User) -> Session | None:
        """The user's session, if they are connected to this node."""
        return self.router.sessions.get(user.uid)

    def channel_or_reply(self, session: Session, name: str) -> Channel | None:
        """The channel called `name`; if there is none, the session is told so (403)."""
        channel = self.state.channel(name)
        if channel is None:
            self.reply(session, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        return channel

    def shares_channel(self, user: User, other: User) -> bool:
        return any(other.uid in channel.members for channel in user.channels.values())

    def nick_refusal(self, nick: str) -> str | None:
        """Why `nick` can't be taken (the text of a 432), or None when it can.

        A reserved nick is refused in words that say so, as UnrealIRCd does,
        so that a person isn't shown the nick rule for a nick that follows it."""
        if not self.valid_nick(nick):
            return "Erroneous nickname"
        if irc_lower(nick) in self.reserved:
            return "Nickname is reserved for the server's own use"
        return None

    def valid_nick(self, nick: str) -> bool:
        """Whether `nick` follows the nick rule and fits NICKLEN (reserved or not)."""
        return len(nick) <= self.settings.nick_length and _NICK_RE.match(nick) is not None

    def valid_channel_name(self, name: str) -> bool:
        return len(name) <= self.settings.channel_length and is_channel_name(name)

    # -------------------------------------------------------------- output

    def share_nicks(self, shared: SharedNicks) -> None:
        """From now on NICK claims the nick network-wide, and nicks let go are told."""
        self.shared_nicks = shared
        if isinstance(self.state, LocalState):
            self.state.released = shared.release

    def replicate(self, replication: Replicating) -> None:
        """From now on events go through a cluster's bus (replication.py)."""
        self.replication = replication
        self._use_pipeline(replication.pipeline())

    def _use_pipeline(self, pipeline: dict[type, Callable[[Any], None]]) -> None:
        """Events go through `pipeline` from now on; the quick lane takes its entry for
        messages from `emit_message`, with no lookup by kind."""
        self._pipeline = pipeline
        self.emit_message = pipeline[MessageSent]

    def emit(self, event: Event) -> None:
        """Something happened: the state applies it, then the router tells who should know."""
        self._pipeline[type(event)](event)

    def _steps(self, kind: type) -> Callable[[Any], None]:
        """What `emit` does with an event of this kind: keep it (history), apply, render,
        then follow (the registered channels); each step only for the kinds it concerns,
        and no loop for the two-step kinds (messages: the hot path)."""
        record, apply = self.history.recorder(kind), self.state.applier(kind)
        render, follow = self.router.renderer(kind), self.channel_registry.follower(kind)
        steps = [step for step in (record, apply, render, follow) if step is not None]
        if len(steps) == 1:
            return render
        if len(steps) == 2:
            first, second = steps

            def both(event: Any) -> None:
                first(event)
                second(event)

            return both

        def each(event: Any) -> None:
            for step in steps:
                step(event)

        return each

    def send(self, session: Session, msg: Message) -> None:
        """Serialise and send one message to one session; its last parameter is free text."""
        try:
            line = serialize(msg, trailing=True)
        except ValueError:
            params = [safe_middle(p) for p in msg.params[:-1]] + msg.params[-1:]
            line = serialize(Message(msg.command, params, msg.source, msg.tags), trailing=True)
        session.write(line.encode() + b"\r\n")
        self.router.count_out(msg.command.encode())

    def reply(self, session: Session, numeric: str, *params: str) -> None:
        """A numeric reply from the server, addressed to the session's nick (or '*')."""
        msg = Message(numeric, [session.user.nick, *params], self.settings.server_name)
        self.send(session, msg)

    def notice(self, session: Session, text: str) -> None:
        """A server NOTICE to one session."""
        msg = Message("NOTICE", [session.user.nick, text], self.settings.server_name)
        self.send(session, msg)

    def fail(self, session: Session, command: str, code: str, *params: str) -> None:
        """`FAIL command CODE [context...] :description` (IRCv3 standard-replies): the
        command could not be done. Any client may be sent one, whatever it negotiated."""
        self.send(session, Message("FAIL", [command, code, *params], self.settings.server_name))

    def warn(self, session: Session, command: str, code: str, *params: str) -> None:
        """`WARN command CODE [context...] :description`: done, with a caveat."""
        self.send(session, Message("WARN", [command, code, *params], self.settings.server_name))

    def note(self, session: Session, command: str, code: str, *params: str) -> None:
        """`NOTE command CODE [context...] :description`: for information."""
        self.send(session, Message("NOTE", [command, code, *params], self.settings.server_name))

    def farewell(self, host: str, reason: str) -> bytes:
        """The ERROR line that ends a connection: a session's, or one refused at the door."""
        return (serialize(Message("ERROR", [f"Closing Link: {host} ({reason})"])) + "\r\n").encode()

    # ------------------------------------------------- commands and replies

    def run_command(
        self, session: Session, handler: Callable[[Any, Session, Any], None], arg: Any
    ) -> None:
        """Run a handler (with its Message) or a continuation (with its result) for
        `session`, its replies buffered, and any failure kept to this one session."""
        outer = session.replies
        replies = session.replies = []
        session.write = replies.append
        try:
            handler(self, session, arg)
        except Exception:
            self.failed(session, arg.command if isinstance(arg, Message) else "a command")
        finally:
            if replies:
                self.flush_replies(session)
            session.replies = outer
            session.write = session.sink.write if outer is None else outer.append

    def flush_replies(self, session: Session) -> None:
        """Send what the running command wrote to its own session, in one write."""
        replies = session.replies
        if replies and not session.gone:
            data = replies[0] if len(replies) == 1 else b"".join(replies)
            replies.clear()
            session.sink.write(data)

    def run_labeled(
        self,
        session: Session,
        handler: Callable[[Any, Session, Any], None],
        arg: Any,
        labeled: Labeled,
    ) -> None:
        """`run_command` for a command that came with a label: its replies so far (from
        before a `later`) and its own go out together, framed for the label, once it has
        really ended."""
        outer, outer_label = session.replies, session.label
        session.replies, session.label = labeled.replies, labeled
        session.write = labeled.replies.append
        labeled.later = False
        try:
            handler(self, session, arg)
        except Exception:
            self.failed(session, arg.command if isinstance(arg, Message) else "a command")
        finally:
            session.replies, session.label = outer, outer_label
            session.write = session.sink.write if outer is None else outer.append
            if not labeled.later:
                self.flush_labeled(session, labeled)

    def flush_labeled(self, session: Session, labeled: Labeled) -> None:
        """Send a labeled command's replies: the one line labeled, an ACK for none, a
        labeled-response batch for several."""
        data = b"".join(labeled.replies)
        labeled.replies.clear()
        if not session.gone:
            server = self.settings.server_name
            session.sink.write(labeled_response(data, labeled.label, server, self.new_batch_ref))

    def failed(self, session: Session, command: str) -> None:
        """A handler raised: log it with context and tell this session; it goes no further."""
        self.handler_failures += 1
        log.exception(
            "error handling %s from %s (%s)", command, session.user.nick, session.user.host
        )
        self.reply(session, "400", command, "Internal error; the command was not completed")

    def later(
        self, session: Session, start: Callable[[Callable[[Any], None]], None],
        then: Callable[..., None],
    ) -> None:
        """Start an operation that finishes later (a database read, a password check, a
        cluster claim): `start(done)` begins it, and it calls `done(result)` on the loop
        when it has finished. Until then the session's later lines wait, in order; `then(
        core, session, result)` finishes the command under the same error isolation."""
        if session.held is None:
            session.held = deque()
        labeled = session.label
        if labeled is not None:
            labeled.later = True  # its replies wait for `then`
        start(lambda result: self._finish(session, then, result, labeled))

    def off_loop(
        self, session: Session, work: Callable[[], Any], then: Callable[..., None]
    ) -> None:
        """`later`, for CPU work (hashing a password): `work()` on a worker thread."""
        self.later(session, lambda done: self.run_blocking(work, done), then)

    def _finish(
        self,
        session: Session,
        then: Callable[..., None],
        result: Any,
        labeled: Labeled | None = None,
    ) -> None:
        held = session.take_held()
        if session.gone:
            return
        if labeled is None:
            self.run_command(session, then, result)
        else:
            self.run_labeled(session, then, result, labeled)
        while held:
            if session.held is not None:  # another operation started: the rest waits for it
                session.held.extend(held)
                return
            raw, truncated = held.popleft()
            self.receive(session, raw, truncated)
        if session.leaving is not None and session.held is None and not session.gone:
            self._leave(session, session.leaving)

    def receive(self, session: Session, raw: bytes, truncated: bool = False) -> None:
        raise NotImplementedError  # ChatCore

    def command_names(self) -> list[str]:
        """Every command the core understands, sorted (HELP lists them)."""
        raise NotImplementedError  # ChatCore: its command table

    # ----------------------------------------------------------- lifecycle

    def close(self, session: Session, reason: str, others: str | None = None) -> None:
        """End a session: ERROR to it, QUIT to its peers (`others`, else `reason`), hang up."""
        if session.gone:
            return
        session.write(self.farewell(session.user.host, reason))
        self.router.count_out(b"ERROR")
        if session.label is None:
            self.flush_replies(session)
        else:
            self.flush_labeled(session, session.label)
        self._leave(session, reason if others is None else others)
        session.sink.close()

    def disconnect(self, session: Session, reason: str = "Connection closed") -> None:
        """The connection is gone (closed by the peer or the edge): tell its peers. Lines it
        sent before, still waiting for an operation of its own (a database read), were
        accepted: they are carried out first (their replies go nowhere), then it leaves. (Not
        before registration: nothing it says then reaches anyone, and what it waits for, a
        password check say, is not worth finishing.)"""
        if session.gone:
            return
        if session.held is not None and session.registered:
            session.leaving = reason
            return
        self._leave(session, reason)

    def _leave(self, session: Session, reason: str) -> None:
        session.gone, session.reason = True, reason
        session.held = None
        user = session.user
        if user.registered:
            self.emit(Quit(self.clock(), user.uid, user.source, reason, tuple(user.channels)))
        else:
            self.state.forget(user)
        self.router.detach(session)
        self.password_gate.forget(session)

