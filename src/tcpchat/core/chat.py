"""The chat state machine: connections, nicks, channels, and who receives what.

`ChatCore` has no sockets and no event loop. The edge hands it each line a
client sent (`receive`) and tells it when a connection is gone
(`disconnect`); the core answers by writing bytes to the clients' sinks.
Command handlers live in sibling modules, grouped by topic.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from .. import __version__
from ..config import Settings
from ..passwords import PasswordHash, parse_hash
from ..protocol import Message, ProtocolError, format_tags, irc_lower, parse, serialize
from . import numerics as n
from .messaging import send_text
from .records import WANTS_CLIENT_TAGS, WANTS_TIME, Channel, Client, Sink

log = logging.getLogger(__name__)

Handler = Callable[["ChatCore", Client, Message], None]
# Runs slow work (password hashing) and hands its result to a callback on the core's
# thread. The core alone runs it at once; the server edge uses a worker thread.
RunBlocking = Callable[[Callable[[], Any], Callable[[Any], None]], None]


def run_now(work: Callable[[], Any], done: Callable[[Any], None]) -> None:
    done(work())


# Commands a client may send before it has registered.
PRE_REGISTRATION = frozenset({"CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"})

# Relayed commands whose last parameter is a name, not free text.
_NAME_LAST = frozenset({"JOIN", "MODE", "INVITE"})

_NICK_RE = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")
_CHANNEL_RE = re.compile(r"#[^\x00\x07\r\n ,:]+\Z")


def decode_line(raw: bytes) -> str:
    """UTF-8 when it is valid, else Latin-1: every byte string decodes, nothing is lost."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def format_server_time(timestamp: float) -> str:
    """The IRCv3 server-time format: ISO 8601, UTC, milliseconds."""
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


def _safe_middle(param: str) -> str:
    """Make an echoed user word usable as a middle parameter of a reply."""
    param = param.replace(" ", "_")
    return "*" if not param or param.startswith(":") else param


class ChatCore:
    """Users, channels and routing for one server, driven by `receive`."""

    def __init__(self, settings: Settings | None = None, clock: Callable[[], float] = time.time):
        from .handlers import HANDLERS

        self.settings = settings or Settings()
        self.clock = clock
        self.started = clock()
        self.clients: set[Client] = set()
        self.nicks: dict[str, Client] = {}  # folded nick -> client
        self.channels: dict[str, Channel] = {}  # folded name -> channel
        self.users = 0  # registered clients, kept as a count so LUSERS costs nothing
        self.user_modes: dict[str, int] = {"i": 0, "o": 0}  # registered clients per user mode
        self.max_registered = 0
        self.messages_relayed = 0
        self.handlers: dict[str, Handler] = HANDLERS
        self.reserved = {irc_lower(nick) for nick in self.settings.reserved_nicks}
        self.version = f"tcpchat-{__version__}"
        self.server_prefix = f":{self.settings.server_name} ".encode()
        # Server operators (OPER): name -> password hash, and the checks under way.
        self.operators: dict[str, PasswordHash] = {
            name: parse_hash(hashed) for name, hashed in self.settings.operators.items()
        }
        self.oper_checks: set[Client] = set()
        self.oper_failures: dict[Client, float] = {}  # when each last failed, for a pause
        self.run_blocking: RunBlocking = run_now

    # ----------------------------------------------------------- lifecycle

    def connect(self, sink: Sink, host: str) -> Client:
        """A new connection; nothing is sent until the client speaks."""
        client = Client(sink=sink, host=host, connected_at=self.clock())
        client.last_spoke = client.last_heard = client.connected_at
        self.clients.add(client)
        return client

    def connect_operator(self, sink: Sink, nick: str) -> Client:
        """The server's own participant (the operator console): registered, a server
        operator, and allowed a reserved nick such as "Server"."""
        if self.nicks.get(irc_lower(nick)) is not None:
            raise ValueError(f"nick {nick!r} is already taken")
        client = self.connect(sink, self.settings.server_name)
        client.nick, client.user, client.realname = nick, "operator", "Server operator console"
        client.registered = client.console = True
        self.users += 1
        self.set_user_mode(client, "o", True)
        client.refresh_source()
        self.nicks[irc_lower(nick)] = client
        return client

    def receive(self, client: Client, raw: bytes, truncated: bool = False) -> None:
        """Handle one line from `client` (its line ending already removed).

        `truncated` says the edge cut the line because it had no end in sight.
        """
        if client.gone:
            return
        client.last_heard = self.clock()
        client.ping_sent = False
        settings = self.settings
        body_start = 0
        if raw.startswith(b"@"):
            body_start = raw.find(b" ") + 1 or len(raw)
            if body_start > settings.max_tags_bytes:
                self.reply(client, n.ERR_INPUTTOOLONG, "Input line was too long")
                return
        if truncated or len(raw) - body_start + 2 > settings.max_line_bytes:
            self.reply(client, n.ERR_INPUTTOOLONG, "Input line was too long")
            return
        if raw[:8] == b"PRIVMSG " and client.registered:
            target, sep, body = raw[8:].partition(b" :")
            if sep and body and target and b" " not in target and b"," not in target:
                if b"\0" in body:
                    body = body.replace(b"\0", b"")
                if body:  # the common case, without the general parser
                    try:
                        send_text(self, client, "PRIVMSG", decode_line(target), decode_line(body))
                    except Exception:
                        self.failed(client, "PRIVMSG")
                    return
        text = decode_line(raw)
        if "\0" in text:
            text = text.replace("\0", "")
        try:
            msg = parse(text)
        except ProtocolError:
            if not text.strip(" "):
                return  # an empty line is no command at all
            word = text.lstrip(" ").split(" ", 1)[0][:32]
            self.reply(client, n.ERR_UNKNOWNCOMMAND, _safe_middle(word), "Unknown command")
            return
        self.dispatch(client, msg)

    def dispatch(self, client: Client, msg: Message) -> None:
        """Run the handler for `msg`, keeping any failure to this one client."""
        handler = self.handlers.get(msg.command)
        if handler is None:
            if client.registered:
                self.reply(client, n.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")
            else:
                self.reply(client, n.ERR_NOTREGISTERED, "You have not registered")
            return
        if not client.registered and msg.command not in PRE_REGISTRATION:
            self.reply(client, n.ERR_NOTREGISTERED, "You have not registered")
            return
        try:
            handler(self, client, msg)
        except Exception:
            self.failed(client, msg.command)

    def failed(self, client: Client, command: str) -> None:
        """A handler raised: log it with context and tell this client; it goes no further."""
        log.exception("error handling %s from %s (%s)", command, client.nick, client.host)
        self.reply(client, "400", command, "Internal error; the command was not completed")

    def sweep(self) -> None:
        """Drop clients that never registered or stopped answering; PING the quiet ones.

        The edge calls this now and then; how often decides how late a timeout may fire.
        """
        now = self.clock()
        s = self.settings
        for client in list(self.clients):
            if client.console:
                continue
            if not client.registered:
                if now - client.connected_at > s.registration_timeout:
                    self.close(client, "Registration timed out")
                continue
            silence = now - client.last_heard
            if client.ping_sent:
                if silence > s.ping_interval + s.ping_timeout:
                    self.close(client, f"Ping timeout: {int(silence)} seconds")
            elif silence > s.ping_interval:
                client.ping_sent = True
                self.send_line(client, Message("PING", [s.server_name]))

    def farewell(self, host: str, reason: str) -> bytes:
        """The ERROR line that ends a connection: a client's, or one refused at the door."""
        return (serialize(Message("ERROR", [f"Closing Link: {host} ({reason})"])) + "\r\n").encode()

    def disconnect(self, client: Client, reason: str = "Connection closed") -> None:
        """The connection is gone (closed by the peer or the edge): tell its peers."""
        if not client.gone:
            self._forget(client, reason)

    def close(self, client: Client, reason: str) -> None:
        """End a client's session: ERROR to it, QUIT to its peers, then hang up."""
        if client.gone:
            return
        client.sink.write(self.farewell(client.host, reason))
        self._forget(client, reason)
        client.sink.close()

    def shutdown(self, reason: str) -> None:
        """Close every connection, telling each client why (and no one of the others' QUITs)."""
        for client in self.clients:
            client.gone = True
            if not client.console:
                client.sink.write(self.farewell(client.host, reason))
                client.sink.close()
        self.clients.clear()
        self.nicks.clear()
        self.channels.clear()
        self.users = 0
        self.user_modes = dict.fromkeys(self.user_modes, 0)

    def _forget(self, client: Client, reason: str) -> None:
        client.gone = True
        if client.registered:
            self.relay(self.peers_of(client), client.source, "QUIT", [reason])
            self.users -= 1
            for letter in client.modes:
                self.user_modes[letter] -= 1
        for channel in list(client.channels.values()):
            self.remove_member(channel, client)
        for channel in self.channels.values():
            channel.invited.discard(client)
        self.oper_failures.pop(client, None)
        folded = irc_lower(client.nick)
        if self.nicks.get(folded) is client:
            del self.nicks[folded]
        self.clients.discard(client)

    # -------------------------------------------------------------- output

    def send_line(self, client: Client, msg: Message) -> None:
        """Serialise and send one message to one client; its last parameter is free text."""
        try:
            line = serialize(msg, trailing=True)
        except ValueError:
            params = [_safe_middle(p) for p in msg.params[:-1]] + msg.params[-1:]
            line = serialize(Message(msg.command, params, msg.source, msg.tags), trailing=True)
        client.write(line.encode() + b"\r\n")

    def reply(self, client: Client, numeric: str, *params: str) -> None:
        """A numeric reply from the server, addressed to the client's nick (or '*')."""
        self.send_line(client, Message(numeric, [client.nick, *params], self.settings.server_name))

    def notice(self, client: Client, text: str) -> None:
        """A server NOTICE to one client."""
        self.send_line(client, Message("NOTICE", [client.nick, text], self.settings.server_name))

    def relay(
        self,
        recipients: Iterable[Client],
        source: str,
        command: str,
        params: list[str],
        client_tags: dict[str, str] | None = None,
        exclude: Client | None = None,
    ) -> None:
        """Send one message to many clients, encoding it once per tag variant."""
        text_last = command not in _NAME_LAST
        line = (serialize(Message(command, params, source), text_last) + "\r\n").encode()
        self.deliver(recipients, line, client_tags, exclude)

    def deliver(
        self,
        recipients: Iterable[Client],
        line: bytes,
        client_tags: dict[str, str] | None = None,
        exclude: Client | None = None,
    ) -> None:
        """Hand the same encoded line to every recipient (but `exclude`). Only clients that
        asked for tags get a tagged copy, made once per variant. This loop is the hot path
        of every broadcast: keep it lean."""
        variants: list[bytes | None] | None = None
        for recipient in recipients:
            if recipient is exclude:
                continue
            mask = recipient.tag_mask
            if not mask:
                recipient.write(line)
                continue
            if variants is None:
                variants = [line, None, None, None]
            data = variants[mask]
            if data is None:
                data = variants[mask] = self._tagged(line, mask, client_tags)
            recipient.write(data)

    def _tagged(self, plain: bytes, mask: int, client_tags: dict[str, str] | None) -> bytes:
        tags: dict[str, str] = {}
        if mask & WANTS_TIME:
            tags["time"] = format_server_time(self.clock())
        if mask & WANTS_CLIENT_TAGS and client_tags:
            tags.update(client_tags)
        if not tags:
            return plain
        return b"@" + format_tags(tags).encode() + b" " + plain

    # ------------------------------------------------------------- queries

    def peers_of(self, client: Client) -> set[Client]:
        """Everyone who shares a channel with `client`, each once, not the client."""
        peers: set[Client] = set()
        for channel in client.channels.values():
            peers.update(channel.members)
        peers.discard(client)
        return peers

    def find_user(self, nick: str) -> Client | None:
        """The registered user with this nick (under casemapping), if any."""
        # Keys are folded, and a folded string folds to itself: try the name as typed first.
        client = self.nicks.get(nick) or self.nicks.get(irc_lower(nick))
        return client if client is not None and client.registered else None

    def channel_or_reply(self, client: Client, name: str) -> Channel | None:
        """The channel called `name`; if there is none, `client` is told so (403)."""
        channel = self.find_channel(name)
        if channel is None:
            self.reply(client, n.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
        return channel

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(name) or self.channels.get(irc_lower(name))

    def nick_refusal(self, nick: str) -> str | None:
        """Why `nick` can't be taken (the text of a 432), or None when it can.

        A reserved nick is refused in words that say so, as UnrealIRCd does,
        so that a person isn't shown the nick rule for a nick that follows it."""
        if len(nick) > self.settings.nick_length or _NICK_RE.match(nick) is None:
            return "Erroneous nickname"
        if irc_lower(nick) in self.reserved:
            return "Nickname is reserved for the server's own use"
        return None

    def valid_channel_name(self, name: str) -> bool:
        return len(name) <= self.settings.channel_length and _CHANNEL_RE.match(name) is not None

    def remove_member(self, channel: Channel, client: Client) -> None:
        """Take `client` out of `channel`, dropping the channel once it is empty."""
        channel.members.pop(client, None)
        folded = irc_lower(channel.name)
        client.channels.pop(folded, None)
        if not channel.members:
            self.channels.pop(folded, None)

    def set_user_mode(self, client: Client, letter: str, on: bool) -> bool:
        """Set or clear a user mode ('i' or 'o'); whether anything changed."""
        if on == (letter in client.modes):
            return False
        (client.modes.add if on else client.modes.discard)(letter)
        if client.registered:
            self.user_modes[letter] += 1 if on else -1
        return True

    def isupport_tokens(self) -> list[str]:
        """The ISUPPORT (005) tokens; every one reflects a limit the core enforces."""
        s = self.settings
        return [
            f"AWAYLEN={s.away_length}",
            "CASEMAPPING=rfc1459",
            f"CHANLIMIT=#:{s.channels_per_user}",
            "CHANMODES=b,k,l,imnst",
            f"CHANNELLEN={s.channel_length}",
            "CHANTYPES=#",
            f"KICKLEN={s.kick_length}",
            "MAXLIST=b:100",
            "MODES=4",
            f"NETWORK={s.network_name}",
            f"NICKLEN={s.nick_length}",
            "PREFIX=(ov)@+",
            f"TARGMAX=PRIVMSG:{s.targets_per_message},NOTICE:{s.targets_per_message},"
            "JOIN:,PART:,KICK:1,NAMES:,LIST:,WHOIS:1",
            f"TOPICLEN={s.topic_length}",
            f"USERLEN={s.user_length}",
        ]
