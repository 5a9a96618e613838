"""Random sessions of many clients against the chat core, checking its invariants each step.

Every command in the core's table is sent, in upper, lower and mixed case, so lines take both
the PRIVMSG shortcut and the general parser. After every step the state must be consistent
(membership both ways, nicks unique, counts right, the router's index matching the state),
no handler may have failed, and every recipient of one message must have got the same msgid
and the same time.
"""

import base64
import dataclasses
import functools
import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tcpchat.accounts.scram import derive_keys
from tcpchat.core.handlers.login import log_in
from tcpchat.core.handlers.messaging import can_speak
from tcpchat.core.model import snapshot
from tcpchat.passwords import hash_password
from tcpchat.protocol import irc_lower, parse
from tcpchat.store.accounts import Account, get_channel

from core_harness import Peer, make_core

NICKS = ["alice", "Alice", "bob", "BOB[1]", "bob{1}", "carol", "dave", "eve"]
CHANNELS = ["#a", "#A", "#b", "#chat", "#Chat", "#x{y}", "#X[Y]"]
CAP_SETS = [
    (),
    ("message-tags",),
    ("server-time",),
    ("message-tags", "server-time", "echo-message"),
    ("batch", "draft/multiline", "labeled-response", "message-tags", "echo-message"),
    ("extended-monitor", "away-notify", "chghost", "setname", "invite-notify"),
    ("sasl", "account-notify", "account-tag", "extended-join", "extended-monitor"),
    ("sasl", "message-tags", "echo-message", "server-time"),
    ("batch", "draft/chathistory", "draft/event-playback", "message-tags", "server-time"),
]
OPER_PASSWORD = "hunter2"
ACCOUNT, ACCOUNT_PASSWORD = "alice", "pw"  # an account every machine has


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()

KEYS = derive_keys("pw")

# For every command of the core, lines that use it well and badly. {n} is a nick, {c} a
# channel, {t} some text.
TEMPLATES: dict[str, list[str]] = {
    "CAP": ["CAP LS 302", "CAP LIST", "CAP REQ :multi-prefix", "CAP REQ :bogus", "CAP END",
            "CAP FROB", "CAP"],
    "PASS": ["PASS secret", "PASS"],
    "NICK": ["NICK {n}", "NICK", "NICK 9lives", "NICK Server"],
    "USER": ["USER u 0 * :real name", "USER u 0 *", "USER"],
    "PING": ["PING x", "PING", "@label=p PING x"],
    "PONG": ["PONG x"],
    "QUIT": ["QUIT :bye", "QUIT"],
    "JOIN": ["JOIN {c}", "@label=j JOIN {c}", "JOIN {c},{c2}", "JOIN {c} key", "JOIN 0",
             "JOIN ,,,", "JOIN"],
    "PART": ["PART {c} :leaving", "PART {c},{c2},#nope", "PART"],
    "TOPIC": ["TOPIC {c}", "TOPIC {c} :{t}", "TOPIC {c} :", "TOPIC"],
    "NAMES": ["NAMES {c}", "NAMES {c},{c2}", "NAMES"],
    "LIST": ["LIST", "LIST {c}", "LIST >1", "LIST {c},{c2} C<5,T>1", "LIST !#a*,#x*", "LIST <"],
    "KICK": ["KICK {c} {n} :out", "KICK {c} {n},{n2}", "KICK {c}"],
    "INVITE": ["INVITE {n} {c}", "INVITE {n}", "INVITE"],
    "KNOCK": ["KNOCK {c} :{t}", "KNOCK {c}", "KNOCK"],
    "MODE": ["MODE {c} +o {n}", "MODE {c} -o {n}", "MODE {c} +v-v {n} {n}", "MODE {c} +imnst",
             "MODE {c} -imnst", "MODE {c} +b {n}", "MODE {c} -b {n}", "MODE {c} +kl key 3",
             "MODE {c} -kl key", "MODE {c} b", "MODE {c} +e {n}", "MODE {c} -e {n}",
             "MODE {c} +I {n}", "MODE {c} -I {n}", "MODE {c} eI", "MODE {c} +iI",
             "MODE {c} +xyz", "MODE {c}", "MODE {n} +i",
             "MODE {n} -io", "MODE {n}", "MODE", "MODE {n} +w-w+wi", "MODE {n} +B", "MODE {n} -B"],
    "PRIVMSG": ["PRIVMSG {c} :{t}", "PRIVMSG {n} :{t}", "PRIVMSG {c},{n} :{t}",
                "@+react=:) PRIVMSG {c} :{t}", "PRIVMSG {c}", "PRIVMSG", "PRIVMSG @{c} :{t}",
                "@label=m PRIVMSG {n} :{t}", "@batch=b PRIVMSG {c} :{t}",
                "@batch=b;draft/multiline-concat PRIVMSG {c} :{t}", "@batch=b PRIVMSG {n} :"],
    "NOTICE": ["NOTICE {c} :{t}", "NOTICE {n} :{t}", "NOTICE", "NOTICE +{c} :{t}",
               "NOTICE @+{c} :{t}", "NOTICE @ :{t}"],
    "BATCH": ["BATCH +b draft/multiline {c}", "@label=l BATCH +b draft/multiline {n}",
              "BATCH -b", "@label=k BATCH -b", "BATCH +b other", "BATCH x", "BATCH"],
    "TAGMSG": ["@+typing=active TAGMSG {c}", "@+typing=active TAGMSG {n}", "TAGMSG {c}",
               "@+typing=active TAGMSG @{c}"],
    "AWAY": ["AWAY :{t}", "AWAY"],
    "WHO": ["WHO {c}", "WHO {n}", "WHO *", "WHO", "WHO {c} %tcuihsnfdlaor,1", "WHO {n} %",
            "WHO * %nx,abcd"],
    "WHOIS": ["WHOIS {n}", "WHOIS"],
    "WHOWAS": ["WHOWAS {n}", "WHOWAS {n} 1", "WHOWAS"],
    "ISON": ["ISON {n} {n2}", "ISON"],
    "USERHOST": ["USERHOST {n}", "USERHOST"],
    "MOTD": ["MOTD"],
    "LUSERS": ["LUSERS"],
    "VERSION": ["VERSION"],
    "TIME": ["TIME"],
    "OPER": ["OPER root " + OPER_PASSWORD, "OPER root wrong", "OPER root"],
    "KILL": ["KILL {n} :go", "KILL"],
    "STATS": ["STATS", "STATS u", "STATS K", "STATS d"],
    "KLINE": ["KLINE {n}@* :{t}", "KLINE 1m {n} :{t}", "KLINE *@* :x", "KLINE 2y x@y", "KLINE"],
    "DLINE": ["DLINE 192.0.2.0/24 :{t}", "DLINE 1h 2001:db8::/32", "DLINE nonsense", "DLINE"],
    "UNKLINE": ["UNKLINE {n}@*", "UNKLINE x", "UNKLINE"],
    "UNDLINE": ["UNDLINE 192.0.2.0/24", "UNDLINE 2001:db8::/32", "UNDLINE x", "UNDLINE"],
    "MONITOR": ["MONITOR + {n},{n2}", "MONITOR - {n}", "MONITOR C", "MONITOR L", "MONITOR S",
                "MONITOR + 9lives", "MONITOR +", "MONITOR X", "MONITOR"],
    "SETNAME": ["SETNAME :{t}", "SETNAME :", "SETNAME"],
    "CHGHOST": ["CHGHOST {n} new host.example", "CHGHOST {n} other.example", "CHGHOST {n} u b@d",
                "CHGHOST {n}"],
    "HELP": ["HELP", "HELP {n}", "HELP privmsg", "HELP :a b"],
    "HELPOP": ["HELPOP who"],
    "INFO": ["INFO"],
    "LINKS": ["LINKS", "LINKS *"],
    "USERS": ["USERS"],
    "REHASH": ["REHASH", "REHASH extra"],
    "WALLOPS": ["WALLOPS :{t}", "WALLOPS"],
    "SQUIT": ["SQUIT x :y", "SQUIT"],
    "CONNECT": ["CONNECT x 6667", "CONNECT"],
    "AUTHENTICATE": ["AUTHENTICATE PLAIN", "AUTHENTICATE SCRAM-SHA-256", "AUTHENTICATE EXTERNAL",
                     "AUTHENTICATE " + _b64(f"\0{ACCOUNT}\0{ACCOUNT_PASSWORD}"),
                     "AUTHENTICATE " + _b64(f"\0{ACCOUNT}\0wrong"),
                     "AUTHENTICATE " + _b64("n,,n=alice,r=abc"), "AUTHENTICATE *",
                     "AUTHENTICATE +", "AUTHENTICATE FOO", "AUTHENTICATE !!", "AUTHENTICATE",
                     "AUTHENTICATE " + "A" * 400],
    "CERTFP": ["CERTFP ADD", "CERTFP ADD " + "ab" * 32, "CERTFP DEL " + "ab" * 32, "CERTFP LIST",
               "CERTFP ADD xyz", "CERTFP X", "CERTFP"],
    "REGISTER": ["REGISTER * * :correct horse", "REGISTER {n} x@example.org :correct horse",
                 "REGISTER {n} * :{n}", "REGISTER * nomail :correct horse", "REGISTER * *"],
    "VERIFY": ["VERIFY {n} 1234abcd", "VERIFY {n}"],
    "REGAIN": ["REGAIN", "REGAIN {n}"],
    "LOGOUT": ["LOGOUT"],
    "CHATHISTORY": ["CHATHISTORY LATEST {c} * 10", "CHATHISTORY LATEST {n} * 5",
                    "CHATHISTORY BEFORE {c} timestamp=2099-01-01T00:00:00.000Z 3",
                    "CHATHISTORY AFTER {n} timestamp=2000-01-01T00:00:00.000Z 3",
                    "CHATHISTORY AROUND {c} timestamp=2099-01-01T00:00:00.000Z 4",
                    "CHATHISTORY BETWEEN {n} timestamp=2099-01-01T00:00:00.000Z "
                    "timestamp=2000-01-01T00:00:00.000Z 5",
                    "@label=h CHATHISTORY LATEST {c} * 2", "CHATHISTORY LATEST {c} msgid=x 5",
                    "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                    "timestamp=2099-01-01T00:00:00.000Z 5",
                    "CHATHISTORY X {c} * 1", "CHATHISTORY LATEST {c} * 0", "CHATHISTORY"],
    "ACCOUNT": ["ACCOUNT INFO {n}", "ACCOUNT SUSPEND {n} :{t}", "ACCOUNT UNSUSPEND {n}",
                "ACCOUNT DROP {n}", "ACCOUNT CREATE {n} :correct horse", "ACCOUNT PENDING",
                "ACCOUNT APPROVE {n}", "ACCOUNT FROB", "ACCOUNT"],
    "CS": ["CS REGISTER {c}", "CS OP {c} {n}", "CS VOICE {c} {n}", "CS DEOP {c} {n}",
           "CS DEVOICE {c} {n}", "CS INFO {c}", "CS UNREGISTER {c}", "CS", "CS FROB {c}",
           "CS OP {c}"],
    "CHANSERV": ["CHANSERV :register {c}", "CHANSERV help"],
    "SEARCH": ["SEARCH text={t}", "SEARCH text={t};in={c}", "SEARCH in={n}", "SEARCH",
               "SEARCH from={n};limit=5", "SEARCH text=", "SEARCH limit=x",
               "@label=s SEARCH text={t}", "SEARCH after=2020-01-01T00:00:00.000Z"],
    "HISTORY": ["HISTORY FORGET", "@label=f HISTORY FORGET", "HISTORY", "HISTORY FROB"],
}  # fmt: skip

MESSAGE_COMMANDS = {"PRIVMSG", "NOTICE", "TAGMSG"}


def recase(line: str, how: str) -> str:
    """The command word of `line` in upper, lower or mixed case (tags left alone)."""
    tags, space, rest = line.partition(" ") if line.startswith("@") else ("", "", line)
    word, gap, params = rest.partition(" ")
    word = {"upper": word.upper(), "lower": word.lower(), "mixed": word.capitalize()}[how]
    return f"{tags}{space}{word}{gap}{params}"


@functools.cache
def operator_hash() -> str:
    return hash_password(OPER_PASSWORD, n=16)  # cheap parameters, recorded in the hash


def test_every_command_of_the_core_is_driven():
    assert set(TEMPLATES) == set(make_core().commands)


class ChatMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.core = make_core(
            targets_per_message=8,
            monitor_limit=3,
            realname_length=10,
            operators={"root": operator_hash()},
        )
        account = Account(ACCOUNT, ACCOUNT, None, derive_keys(ACCOUNT_PASSWORD), 0.0)
        self.core.accounts.create(account, lambda created: None)
        self.peers: list[Peer] = []
        self.tokens = itertools.count()
        self.messages: dict[str, tuple[str, str, str, str]] = {}  # msgid -> what it carried
        self.times: dict[str, str] = {}  # msgid -> its time tag

    def live(self) -> list[Peer]:
        return [p for p in self.peers if not p.session.gone]

    def registered(self) -> list[Peer]:
        return [p for p in self.live() if p.session.registered]

    def pick(self, data, registered: bool = True) -> Peer:
        return data.draw(st.sampled_from(self.registered() if registered else self.live()))

    def drain(self) -> None:
        """Read what every peer was sent since the last step and check it (see below)."""
        for peer in self.peers:
            self.check_lines(peer.take_raw())

    @rule(nick=st.sampled_from(NICKS), caps=st.sampled_from(CAP_SETS))
    def connect(self, nick, caps):
        peer = Peer(self.core)
        self.peers.append(peer)
        if caps:
            peer.send("CAP LS 302", "CAP REQ :" + " ".join(caps))
        peer.send(f"NICK {nick}", f"USER {nick.lower()[:5]} 0 * :real name")
        if caps:
            peer.send("CAP END")

    @precondition(lambda self: bool(self.live()))
    @rule(
        data=st.data(),
        command=st.sampled_from(sorted(TEMPLATES)),
        case=st.sampled_from(["upper", "lower", "mixed"]),
    )
    def any_command(self, data, command, case):
        template = data.draw(st.sampled_from(TEMPLATES[command]))
        line = template.format(
            n=data.draw(st.sampled_from(NICKS)),
            n2=data.draw(st.sampled_from(NICKS)),
            c=data.draw(st.sampled_from(CHANNELS)),
            c2=data.draw(st.sampled_from(CHANNELS)),
            t=data.draw(st.sampled_from(["hi", "a b c", ":-)", "x" * 300])),
        )
        self.pick(data, registered=False).send(recase(line, case))

    @precondition(lambda self: bool(self.registered()))
    @rule(data=st.data())
    def log_in(self, data):
        """A login, as SASL ends one, to an account named as the nick (made if new): the
        access lists of registered channels apply."""
        self.log_in_as_nick(self.pick(data))

    @precondition(lambda self: any(p.user.channels for p in self.registered()))
    @rule(data=st.data())
    def register_a_channel(self, data):
        """Someone logs in and registers one of their channels (CS REGISTER)."""
        peer = data.draw(st.sampled_from([p for p in self.registered() if p.user.channels]))
        self.log_in_as_nick(peer)
        peer.send(f"CS REGISTER {data.draw(st.sampled_from(sorted(peer.user.channels)))}")

    @precondition(
        lambda self: any(k in self.core.state.channels for k in self.core.channel_registry.records)
    )
    @rule(data=st.data())
    def a_registered_channel_empties_and_comes_back(self, data):
        """Everyone leaves a registered channel; whoever joins first gets what its access
        list says, and nothing more."""
        state, registry = self.core.state, self.core.channel_registry
        key = data.draw(st.sampled_from(sorted(k for k in registry.records if k in state.channels)))
        for peer in self.registered():
            if key in peer.user.channels:
                peer.send(f"PART {key}")
        assert key not in state.channels
        joiner = self.pick(data)
        joiner.send(f"JOIN {key} key")
        channel = state.channels.get(key)
        if channel is not None:
            kept = registry.records[key]
            assert channel.members == {
                joiner.user.uid: registry.status_of(kept, joiner.user.account)
            }
            assert channel.created == kept.registered

    def log_in_as_nick(self, peer: Peer) -> None:
        user = peer.user
        name = irc_lower(user.nick)
        account = Account(name, user.nick, None, KEYS, 0.0)
        if name not in self.core.account_names:
            self.core.accounts.create(account, lambda ok: None)
            self.core.account_names.add(name)
        log_in(self.core, peer.session, account)

    @precondition(lambda self: bool(self.registered()))
    @rule(
        data=st.data(),
        channel=st.sampled_from(CHANNELS),
        command=st.sampled_from(["PRIVMSG", "privmsg", "Notice"]),
    )
    def say_in_channel(self, data, channel, command):
        """Exactly the channel's members get the message, once; the sender only by echo."""
        sender = self.pick(data)
        self.drain()
        token = f"token{next(self.tokens)}"
        found = self.core.find_channel(channel)
        expected = set()
        if found is not None and can_speak(found, sender.user):
            echo = "echo-message" in sender.session.caps
            expected = {uid for uid in found.members if echo or uid != sender.user.uid}
        sender.send(f"{command} {channel} :{token}")
        got: dict[str, int] = {}
        for peer in self.peers:
            lines = peer.take_raw()
            self.check_lines(lines)
            hits = [line for line in lines if line.endswith(f":{token}")]
            if hits:
                got[peer.user.uid] = len(hits)
        assert set(got) == expected
        assert all(count == 1 for count in got.values())

    @precondition(lambda self: bool(self.registered()))
    @rule(data=st.data(), channel=st.sampled_from(CHANNELS), prefix=st.sampled_from(["@", "+"]))
    def say_to_status(self, data, channel, prefix):
        """STATUSMSG: exactly the members with the status (or above) get it, once; the
        sender only by echo."""
        sender = self.pick(data)
        self.drain()
        token = f"status{next(self.tokens)}"
        found = self.core.find_channel(channel)
        expected = set()
        if found is not None and can_speak(found, sender.user):
            statuses = "o" if prefix == "@" else "ov"
            echo = "echo-message" in sender.session.caps
            expected = {
                uid for uid, status in found.members.items()
                if any(letter in status for letter in statuses) and uid != sender.user.uid
            } | ({sender.user.uid} if echo else set())  # fmt: skip
        sender.send(f"PRIVMSG {prefix}{channel} :{token}")
        got: dict[str, int] = {}
        for peer in self.peers:
            lines = peer.take_raw()
            self.check_lines(lines)
            hits = [line for line in lines if line.endswith(f":{token}")]
            if hits:
                got[peer.user.uid] = len(hits)
        assert set(got) == expected
        assert all(count == 1 for count in got.values())

    @precondition(lambda self: len(self.registered()) >= 2)
    @rule(data=st.data(), command=st.sampled_from(["PRIVMSG", "privmsg"]))
    def say_privately(self, data, command):
        sender, target = self.pick(data), self.pick(data)
        self.drain()
        token = f"secret{next(self.tokens)}"
        sender.send(f"{command} {target.user.nick.upper()} :{token}")
        echo = "echo-message" in sender.session.caps
        for peer in self.peers:
            lines = peer.take_raw()
            self.check_lines(lines)
            hits = [line for line in lines if line.endswith(f":{token}")]
            wanted = peer is target or (peer is sender and echo)
            assert len(hits) == (1 if wanted else 0), (peer.user.nick, hits)

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data())
    def disconnect(self, data):
        self.core.disconnect(self.pick(data, registered=False).session, "Connection reset")

    # ---------------------------------------------------------- what was sent

    def check_lines(self, lines: list[str]) -> None:
        """No handler failed, and each message keeps one msgid and one time for everyone."""
        times: dict[str, str] = {}
        for line in lines:
            assert " 400 " not in line, line
            msg = parse(line)
            if msg.command not in MESSAGE_COMMANDS or msg.source is None:
                continue
            if "msgid" not in msg.tags:
                continue
            msgid = msg.tags["msgid"]
            assert not msgid.startswith(":")
            carried = (msg.source, msg.command, msg.params[0], msg.param(1))
            assert self.messages.setdefault(msgid, carried) == carried, (msgid, carried)
            if "time" in msg.tags:
                assert times.setdefault(msgid, msg.tags["time"]) == msg.tags["time"]
        for msgid, time in times.items():
            assert self.times.setdefault(msgid, time) == time, msgid

    @invariant()
    def output_is_consistent(self):
        self.drain()

    # ---------------------------------------------------------------- state

    @invariant()
    def membership_is_symmetric_and_channels_are_never_empty(self):
        state = self.core.state
        for folded, channel in state.channels.items():
            assert channel.members, f"empty channel {channel.name} kept"
            assert folded == channel.folded == irc_lower(channel.name)
            for uid in channel.members:
                member = state.user(uid)
                assert member is not None and member.registered
                assert member.channels.get(folded) is channel
        for peer in self.live():
            for folded, channel in peer.user.channels.items():
                assert state.channels.get(folded) is channel
                assert peer.user.uid in channel.members

    @invariant()
    def registered_channels_are_kept_as_they_are(self):
        """A registered channel's record (memory and database) is the live channel's."""

        def same(kept):
            return dataclasses.replace(kept, lists=tuple(sorted(kept.lists)))

        state, accounts = self.core.state, self.core.accounts
        for folded, kept in self.core.channel_registry.records.items():
            channel = state.channels.get(folded)
            if channel is not None:
                assert same(snapshot(channel, kept)) == same(kept)
            stored: list = []
            accounts.read(lambda c, key=folded: get_channel(c, key), stored.append)
            assert stored and same(stored[0]) == same(kept)

    @invariant()
    def the_router_sees_what_the_state_holds(self):
        state, router = self.core.state, self.core.router
        assert router.sessions == {p.user.uid: p.session for p in self.live()}
        assert set(router.members) == set(state.channels)
        for folded, channel in state.channels.items():
            assert set(router.members[folded]) == {router.sessions[uid] for uid in channel.members}

    @invariant()
    def monitor_lists_are_bounded_indexed_both_ways_and_only_of_live_sessions(self):
        monitors = self.core.router.monitors
        live = {p.session for p in self.live()}
        for session, listed in monitors.lists.items():
            assert session in live and listed
            assert len(listed) <= self.core.settings.monitor_limit
            for folded in listed:
                assert session in monitors.watchers[folded]
        for folded, sessions in monitors.watchers.items():
            assert sessions
            for session in sessions:
                assert folded in monitors.lists[session]

    @invariant()
    def invites_are_indexed_both_ways(self):
        state = self.core.state
        for folded, channel in state.channels.items():
            for uid in channel.invited:
                assert folded in state.invites[uid]
        for uid, keys in state.invites.items():
            assert uid in state.by_uid
            for folded in keys:
                assert uid in state.channels[folded].invited

    @invariant()
    def nicks_are_unique_under_casemapping(self):
        holders = [p.user for p in self.live() if p.user.nick != "*"]
        folded = [irc_lower(user.nick) for user in holders]
        assert len(folded) == len(set(folded))
        assert dict(self.core.state.nicks) == dict(zip(folded, holders, strict=True))

    @invariant()
    def only_accounts_log_in_and_no_exchange_outlives_a_login(self):
        for peer in self.live():
            account = peer.user.account
            assert account is None or irc_lower(account) in self.core.account_names
            assert account is None or peer.session.sasl is None

    @invariant()
    def user_counts_match_the_sessions(self):
        state = self.core.state
        registered = [p.user for p in self.registered()]
        assert state.users == len(registered)
        for letter, count in state.user_modes.items():
            assert count == sum(1 for user in registered if letter in user.modes)

    @invariant()
    def gone_sessions_are_closed_or_disconnected_and_forgotten(self):
        for peer in self.peers:
            if peer.session.gone:
                assert peer.session not in self.core.sessions
                assert peer.user.uid not in self.core.state.by_uid


ChatMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestChatCore = ChatMachine.TestCase
