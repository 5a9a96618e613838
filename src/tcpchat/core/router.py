"""From events to bytes: who on this node sees an event, and the line each of them gets.

The router keeps its own index of the local sessions in each channel, updated from the very
events it renders, so it never needs to ask where a uid's connection is while fanning out.
A cluster node runs the same router over events that happened anywhere, in the order the
cluster gave them.

A line is encoded once, and once more for each tag variant some recipient asked for
(server-time, message-tags, account-tag; and extended-join's JOIN); every recipient of one
event gets the same bytes, with the event's one time and msgid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from ..protocol import irc_lower
from . import numerics as n
from .capabilities import MULTILINE
from .delivery import Delivery
from .events import (
    AccountChanged,
    AwayChanged,
    ChannelModeChanged,
    ChannelRestored,
    Event,
    HostChanged,
    Invited,
    Joined,
    Kicked,
    Killed,
    Knocked,
    MessageSent,
    MultilineSent,
    NickChanged,
    Parted,
    Quit,
    RealnameChanged,
    Registered,
    ServerTold,
    StatusMessageSent,
    StoreWritten,
    TopicSet,
    UserModeChanged,
    Wallops,
    mode_text,
)
from .lines import event_line, format_server_time, multiline_lines
from .model import WANTS_ACCOUNT, WANTS_TAGS, WANTS_TIME, Session
from .monitor import Monitors
from .state import ChatState

__all__ = ["LocalRouter", "format_server_time"]

# A message's command as /metrics counts it, so a room's message need not be searched for it.
_BYTES = {"PRIVMSG": b"PRIVMSG", "NOTICE": b"NOTICE", "TAGMSG": b"TAGMSG"}


class LocalRouter(Delivery):
    """Renders each event for the local sessions that should see it."""

    def __init__(self, state: ChatState, server_name: str = "tcpchat") -> None:
        super().__init__(state, server_name)
        self.members: dict[str, dict[Session, None]] = {}  # channel key -> local members
        self.monitors = Monitors()  # MONITOR lists of local sessions
        self._batch_refs = itertools.count(1)  # for the batches it opens (multiline)
        self._render: dict[type, Callable[[Any], None]] = {
            Registered: self._registered,
            MessageSent: self._message_sent,
            MultilineSent: self._multiline_sent,
            Joined: self._joined,
            Parted: self._parted,
            Kicked: self._kicked,
            Quit: self._quit,
            NickChanged: self._nick_changed,
            TopicSet: self._topic_set,
            ChannelModeChanged: self._channel_mode_changed,
            UserModeChanged: self._user_mode_changed,
            Invited: self._invited,
            AwayChanged: self._away_changed,
            Killed: self._killed,
            HostChanged: self._host_changed,
            RealnameChanged: self._realname_changed,
            StatusMessageSent: self._status_message_sent,
            Knocked: self._knocked,
            Wallops: self._wallops,
            AccountChanged: self._account_changed,
            ServerTold: self._server_told,
            ChannelRestored: lambda event: None,  # the JOIN that follows shows it
            StoreWritten: lambda event: None,  # nobody is told: it is kept
        }

    def attach(self, session: Session) -> None:
        self.sessions[session.user.uid] = session

    def detach(self, session: Session) -> None:
        if self.sessions.get(session.user.uid) is session:
            del self.sessions[session.user.uid]
        if self.monitors.lists:
            self.monitors.forget(session)

    def clear(self) -> None:
        self.sessions.clear()
        self.members.clear()
        self.monitors.clear()

    def publish(self, event: Event) -> None:
        self._render[type(event)](event)

    def renderer(self, kind: type) -> Callable[[Any], None]:
        """What `publish` does with events of this kind (the core looks it up once)."""
        return self._render[kind]

    def peers(self, uid: str) -> set[Session]:
        """The local sessions sharing a channel with `uid`, each once, not theirs."""
        user = self.state.user(uid)
        found: set[Session] = set()
        if user is not None:
            members = self.members
            for key in user.channels:
                found.update(members.get(key, ()))
        found.discard(self.sessions.get(uid))
        return found

    def _with_actor(self, key: str, uid: str) -> Iterable[Session]:
        """A channel's local members, plus the actor when acting from outside (an operator)."""
        members = self.members.get(key, {})
        actor = self.sessions.get(uid)
        if actor is None or actor in members:
            return members
        return [*members, actor]

    def _leave(self, key: str, session: Session | None) -> None:
        members = self.members.get(key)
        if members is None or session is None:
            return
        members.pop(session, None)
        if not members:
            del self.members[key]

    # ------------------------------------------------------------- renderers

    def _message_sent(self, event: MessageSent) -> None:
        command = event.command
        if command == "TAGMSG":
            line = f":{event.source} TAGMSG {event.target}\r\n".encode()
        else:
            line = f":{event.source} {command} {event.target} :{event.text}\r\n".encode()
        if event.channel is not None:
            recipients: Iterable[Session] = self.members.get(event.channel, ())
            if command == "TAGMSG":
                recipients = [s for s in recipients if s.tag_mask & WANTS_TAGS]
            sender = None if event.echo else self.sessions.get(event.sender)
            self.deliver(recipients, line, event.time, event, sender, command=_BYTES.get(command))
            return
        recipient = self.sessions.get(event.recipient)  # type: ignore[arg-type]
        if recipient is not None and command == "TAGMSG" and not recipient.tag_mask & WANTS_TAGS:
            recipient = None
        if event.echo and event.recipient != event.sender:
            sender = self.sessions.get(event.sender)
            targets = [s for s in (recipient, sender) if s is not None]
            self.deliver(targets, line, event.time, event)
        elif recipient is None:
            return
        elif recipient.tag_mask:
            self.deliver((recipient,), line, event.time, event)
        else:
            recipient.write(line)
            if command == "PRIVMSG":
                self.private_privmsgs_out += 1
            else:
                self.count_out(_BYTES[command])

    def _multiline_sent(self, event: MultilineSent) -> None:
        """One message of several lines: a draft/multiline batch for those who negotiated
        it, the lines one by one (blank ones left out) for the rest, plain-text people
        included; rendered once per kind of recipient."""
        sender = self.sessions.get(event.sender)
        recipients: list[Session]
        if event.channel is not None:
            members = self.members.get(event.channel, ())
            recipients = [s for s in members if event.echo or s is not sender]
        else:
            recipient = self.sessions.get(event.recipient)  # type: ignore[arg-type]
            recipients = [] if recipient is None else [recipient]
            if event.echo and sender is not None and sender is not recipient:
                recipients.append(sender)
        rendered: dict[tuple[bool, int], bytes] = {}
        for session in recipients:
            key = (MULTILINE in session.caps, session.tag_mask)
            data = rendered.get(key)
            if data is None:
                batched, mask = key
                when = self.server_time(event.time) if mask & WANTS_TIME else None
                ref = f"m{next(self._batch_refs):x}" if batched else ""
                account = self._account_of(event.sender) if mask & WANTS_ACCOUNT else None
                data = rendered[key] = multiline_lines(event, ref, mask, when, account)
            if data:
                session.write(data)
        self.count_out(event.command.encode(), len(recipients))

    def _status_message_sent(self, event: StatusMessageSent) -> None:
        """STATUSMSG: the channel's local members with one of the statuses (and the sender,
        with echo-message)."""
        message = event.message
        key = message.channel
        channel = self.state.channel(key) if key is not None else None
        if key is None or channel is None:
            return
        if message.command == "TAGMSG":
            text = f":{message.source} TAGMSG {message.target}\r\n"
        else:
            text = f":{message.source} {message.command} {message.target} :{message.text}\r\n"
        line = text.encode()
        status = channel.members
        statuses = event.statuses
        recipients = [
            s for s in self.members.get(key, ())
            if any(letter in status.get(s.user.uid, "") for letter in statuses)
            and (message.command != "TAGMSG" or s.tag_mask & WANTS_TAGS)
        ]  # fmt: skip
        sender = self.sessions.get(message.sender)
        if message.echo and sender is not None and sender not in recipients:
            recipients.append(sender)
        self.deliver(recipients, line, message.time, message, None if message.echo else sender)

    def _joined(self, event: Joined) -> None:
        members = self.members.get(event.key)
        if members is None:
            members = self.members[event.key] = {}
        session = self.sessions.get(event.uid)
        if session is not None:
            members[session] = None
        user = self.state.user(event.uid)
        line = event_line(event.source, "JOIN", [event.channel], False)
        self.deliver(members, line, event.time, uid=event.uid, joined=self._extended_join(
            event.source, event.channel, event.uid))  # fmt: skip
        if user is not None and user.away is not None:  # away-notify: and they are away
            watchers = [s for s in members if s is not session and "away-notify" in s.caps]
            if watchers:
                self.deliver(watchers, event_line(event.source, "AWAY", [user.away]), event.time,
                             uid=event.uid)  # fmt: skip

    def _extended_join(self, source: str, channel: str, uid: str) -> bytes:
        """JOIN as extended-join has it: `JOIN #room account :real name` (`*`: none)."""
        user = self.state.user(uid)
        account = user.account if user is not None else None
        realname = user.realname if user is not None else ""
        return event_line(source, "JOIN", [channel, account or "*", realname])

    def _account_changed(self, event: AccountChanged) -> None:
        """account-notify: `ACCOUNT name` (`ACCOUNT *`: logged out) to the user and the
        peers who negotiated it, and to extended-monitor watchers; only once registered."""
        user = self.state.user(event.uid)
        if user is None or not user.registered:
            return
        peers = self.peers(event.uid)
        told = [s for s in peers if "account-notify" in s.caps]
        own = self.sessions.get(event.uid)
        if own is not None and "account-notify" in own.caps:
            told.append(own)
        told += self._extended(event.uid, event.source, "account-notify", peers)
        line = event_line(event.source, "ACCOUNT", [event.account or "*"], False)
        self.deliver(told, line, event.time)

    def _parted(self, event: Parted) -> None:
        params = [event.channel, event.reason] if event.reason else [event.channel]
        self.deliver(self.members.get(event.key, ()), event_line(event.source, "PART", params),
                     event.time, uid=event.uid)  # fmt: skip
        self._leave(event.key, self.sessions.get(event.uid))

    def _kicked(self, event: Kicked) -> None:
        line = event_line(event.source, "KICK", [event.channel, event.target_nick, event.reason])
        self.deliver(self._with_actor(event.key, event.uid), line, event.time, uid=event.uid)
        self._leave(event.key, self.sessions.get(event.target))

    def _quit(self, event: Quit) -> None:
        session = self.sessions.get(event.uid)
        peers: set[Session] = set()
        for key in event.channels:
            peers.update(self.members.get(key, ()))
        peers.discard(session)
        self.deliver(peers, event_line(event.source, "QUIT", [event.reason]), event.time,
                     uid=event.uid)  # fmt: skip
        for key in event.channels:
            self._leave(key, session)
        if self.monitors.watchers:
            nick = event.source.partition("!")[0]
            self._monitor_news(nick, n.RPL_MONOFFLINE, nick, event.time)

    def _nick_changed(self, event: NickChanged) -> None:
        recipients = self.peers(event.uid)
        session = self.sessions.get(event.uid)
        if session is not None:
            recipients.add(session)
        self.deliver(recipients, event_line(event.old_source, "NICK", [event.nick]), event.time,
                     uid=event.uid)  # fmt: skip
        if self.monitors.watchers:
            old = event.old_source.partition("!")[0]
            user = self.state.user(event.uid)
            if user is not None and irc_lower(old) != irc_lower(event.nick):
                # To MONITOR, a new nick is someone gone and someone come.
                self._monitor_news(old, n.RPL_MONOFFLINE, old, event.time)
                self._monitor_news(event.nick, n.RPL_MONONLINE, user.source, event.time)

    def _topic_set(self, event: TopicSet) -> None:
        line = event_line(event.source, "TOPIC", [event.channel, event.topic])
        self.deliver(self.members.get(event.key, ()), line, event.time, uid=event.uid)

    def _channel_mode_changed(self, event: ChannelModeChanged) -> None:
        line = event_line(event.source, "MODE", [event.channel, *mode_text(event.changes)], False)
        self.deliver(self._with_actor(event.key, event.uid), line, event.time, uid=event.uid)

    def _user_mode_changed(self, event: UserModeChanged) -> None:
        session = self.sessions.get(event.uid)
        if session is not None:
            line = event_line(event.source, "MODE", [event.nick, *mode_text(event.changes)], False)
            self.deliver((session,), line, event.time, uid=event.uid)

    def _invited(self, event: Invited) -> None:
        """The invited user is told; so are the room's members with invite-notify (only
        its operators when it is invite-only, as InspIRCd does), the inviter aside."""
        line = event_line(event.source, "INVITE", [event.target_nick, event.channel], False)
        session = self.sessions.get(event.target)
        if session is not None:
            self.deliver((session,), line, event.time, uid=event.uid)
        channel = self.state.channel(event.key)
        members = self.members.get(event.key)
        if channel is None or not members:
            return
        ops_only = "i" in channel.modes
        statuses = channel.members
        told = [
            s
            for s in members
            if "invite-notify" in s.caps
            and s.user.uid != event.uid
            and s is not session
            and (not ops_only or "o" in statuses.get(s.user.uid, ""))
        ]
        self.deliver(told, line, event.time, uid=event.uid)

    def _away_changed(self, event: AwayChanged) -> None:
        peers = self.peers(event.uid)
        watchers = [s for s in peers if "away-notify" in s.caps]
        watchers += self._extended(event.uid, event.source, "away-notify", peers)
        params = [event.text] if event.text is not None else []
        self.deliver(watchers, event_line(event.source, "AWAY", params), event.time, uid=event.uid)

    def _realname_changed(self, event: RealnameChanged) -> None:
        """SETNAME to its user and the peers who negotiated setname; never to others."""
        peers = self.peers(event.uid)
        told = [s for s in peers if "setname" in s.caps]
        own = self.sessions.get(event.uid)
        if own is not None and "setname" in own.caps:
            told.append(own)
        told += self._extended(event.uid, event.source, "setname", peers)
        self.deliver(told, event_line(event.source, "SETNAME", [event.realname]), event.time,
                     uid=event.uid)  # fmt: skip

    def _host_changed(self, event: HostChanged) -> None:
        """CHGHOST for those who negotiated chghost; for the other peers, the reconnect
        the spec's fallback simulates: QUIT, then in each shared room JOIN and the MODE
        that gives back the user's status (and AWAY, for away-notify)."""
        user = self.state.user(event.uid)
        if user is None:
            return
        own = self.sessions.get(event.uid)
        told: list[Session] = [own] if own is not None and "chghost" in own.caps else []
        rejoin: dict[str, list[Session]] = {}  # room key -> peers without chghost there
        seen: set[Session] = set()
        for key in user.channels:
            for session in self.members.get(key, ()):
                if session is own:
                    continue
                if "chghost" not in session.caps:
                    rejoin.setdefault(key, []).append(session)
                elif session not in seen:
                    told.append(session)
                seen.add(session)
        told += self._extended(event.uid, event.old_source, "chghost", seen)
        line = event_line(event.old_source, "CHGHOST", [event.user, event.host], False)
        self.deliver(told, line, event.time, uid=event.uid)
        if not rejoin:
            return
        quitters = {session for sessions in rejoin.values() for session in sessions}
        quit_line = event_line(event.old_source, "QUIT", ["Changing hostname"])
        self.deliver(quitters, quit_line, event.time, uid=event.uid)
        for key, sessions in rejoin.items():
            channel = user.channels[key]
            line = event_line(user.source, "JOIN", [channel.name], False)
            joined = self._extended_join(user.source, channel.name, event.uid)
            self.deliver(sessions, line, event.time, uid=event.uid, joined=joined)
            status = channel.members.get(event.uid, "")
            if status:
                params = [channel.name, "+" + status, *[user.nick] * len(status)]
                self.deliver(
                    sessions, event_line(self.server_name, "MODE", params, False), event.time
                )
            if user.away is not None:
                away = [s for s in sessions if "away-notify" in s.caps]
                line = event_line(user.source, "AWAY", [user.away])
                self.deliver(away, line, event.time, uid=event.uid)

    def _server_told(self, event: ServerTold) -> None:
        session = self.sessions.get(event.uid)
        if session is not None:
            line = event_line(self.server_name, event.command, [session.user.nick, *event.params])
            self.deliver((session,), line, event.time)

    def _killed(self, event: Killed) -> None:
        session = self.sessions.get(event.target)
        if session is not None:
            line = event_line(event.source, "KILL", [event.target_nick, event.reason])
            self.deliver((session,), line, event.time, uid=event.uid)

    # ------------------------------------------------------------- MONITOR

    def _registered(self, event: Registered) -> None:
        if self.monitors.watchers:
            user = event.user
            self._monitor_news(user.nick, n.RPL_MONONLINE, user.source, event.time)

    def _monitor_news(self, nick: str, numeric: str, shown: str, when: float) -> None:
        """Tell the sessions monitoring `nick` that it came (730) or went (731)."""
        watchers = self.monitors.of(nick)
        if not watchers:
            return
        server = self.server_name
        for session in list(watchers):
            if not session.gone:
                line = f":{server} {numeric} {session.user.nick} :{shown}\r\n".encode()
                self.deliver((session,), line, when)

    def _extended(self, uid: str, source: str, cap: str, already: set[Session]) -> list[Session]:
        """extended-monitor: the sessions monitoring this user that negotiated it and
        `cap`, so they hear of the change as if they shared a room (but only once)."""
        watchers = self.monitors.of(source.partition("!")[0])
        if not watchers:
            return []
        return [
            s
            for s in watchers
            if "extended-monitor" in s.caps
            and cap in s.caps
            and s not in already
            and s.user.uid != uid
        ]

    def _knocked(self, event: Knocked) -> None:
        """710 RPL_KNOCK to the channel's local operators, in the form of ratbox and its
        descendants: addressed to the channel itself, so one line serves them all."""
        channel = self.state.channel(event.key)
        if channel is None:
            return
        status = channel.members
        operators = [
            s for s in self.members.get(event.key, ()) if "o" in status.get(s.user.uid, "")
        ]
        asks = "has asked for an invite"
        text = f"{asks}: {event.text}" if event.text else asks
        params = [event.channel, event.channel, event.source, text]
        self.deliver(operators, event_line(self.server_name, "710", params), event.time)

    def _wallops(self, event: Wallops) -> None:
        """To this node's users with mode +w, and to the operator who sent it."""
        recipients = [
            s for s in self.sessions.values() if "w" in s.user.modes or s.user.uid == event.uid
        ]
        self.deliver(recipients, event_line(event.source, "WALLOPS", [event.text]), event.time,
                     uid=event.uid)  # fmt: skip
