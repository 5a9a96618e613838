"""Random sessions of many clients against the chat core, checking its invariants each step."""

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tcpchat.protocol import irc_lower

from core_harness import Peer, make_core

NICKS = st.sampled_from(["alice", "Alice", "bob", "BOB[1]", "bob{1}", "carol", "dave", "eve"])
CHANNELS = st.sampled_from(["#a", "#A", "#b", "#chat", "#Chat", "#x{y}", "#X[Y]"])
GARBAGE = st.sampled_from(
    [
        b"",
        b"\x00",
        b"PRIVMSG",
        b"JOIN ,,,",
        b"MODE #a +ooo",
        b"KICK",
        b":x",
        b"@a",
        b"\xff\xfe",
        b"NICK :",
        b"PART #a,#b,#nope :bye",
        b"TOPIC #a :t",
        b"WHO *",
        b"NAMES #a,#b",
        b"LIST",
        b"MODE #a +b",
        b"MODE #a +kl key 3",
        b"INVITE alice #a",
        b"AWAY :x",
        b"JOIN 0",
    ]
)


class ChatMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.core = make_core(targets_per_message=8)
        self.peers: list[Peer] = []
        self.tokens = itertools.count()

    def live(self) -> list[Peer]:
        return [p for p in self.peers if not p.client.gone]

    def pick(self, data, registered: bool = True) -> Peer:
        choices = [p for p in self.live() if p.client.registered or not registered]
        return data.draw(st.sampled_from(choices))

    @rule(nick=NICKS)
    def connect(self, nick):
        peer = Peer(self.core)
        self.peers.append(peer)
        peer.send(f"NICK {nick}", f"USER {nick.lower()[:5]} 0 * :real name")

    @precondition(lambda self: any(p.client.registered for p in self.live()))
    @rule(data=st.data(), channel=CHANNELS)
    def join(self, data, channel):
        self.pick(data).send(f"JOIN {channel}")

    @precondition(lambda self: any(p.client.registered for p in self.live()))
    @rule(data=st.data(), channel=CHANNELS)
    def part(self, data, channel):
        self.pick(data).send(f"PART {channel} :leaving")

    @precondition(lambda self: any(p.client.registered for p in self.live()))
    @rule(data=st.data(), nick=NICKS)
    def change_nick(self, data, nick):
        self.pick(data).send(f"NICK {nick}")

    @precondition(lambda self: any(p.client.registered for p in self.live()))
    @rule(data=st.data(), channel=CHANNELS)
    def say_in_channel(self, data, channel):
        sender = self.pick(data)
        for peer in self.peers:
            peer.take_raw()
        token = f"token{next(self.tokens)}"
        found = self.core.find_channel(channel)
        expected = set()
        if found is not None and sender.client in found.members:
            expected = {id(m) for m in found.members if m is not sender.client}
        sender.send(f"PRIVMSG {channel} :{token}")
        got = {}
        for peer in self.peers:
            hits = [line for line in peer.take_raw() if line.endswith(f":{token}")]
            if hits:
                got[id(peer.client)] = len(hits)
        assert set(got) == expected
        assert all(count == 1 for count in got.values())

    @precondition(lambda self: len([p for p in self.live() if p.client.registered]) >= 2)
    @rule(data=st.data())
    def say_privately(self, data):
        sender, target = self.pick(data), self.pick(data)
        for peer in self.peers:
            peer.take_raw()
        sender.send(f"PRIVMSG {target.client.nick.upper()} :secret")
        for peer in self.peers:
            hits = [line for line in peer.take_raw() if line.endswith(":secret")]
            assert len(hits) == (1 if peer is target else 0)

    @precondition(lambda self: any(p.client.registered for p in self.live()))
    @rule(data=st.data(), channel=CHANNELS)
    def op_or_kick(self, data, channel):
        actor, other = self.pick(data), self.pick(data)
        action = data.draw(st.sampled_from(["MODE {c} +o {n}", "MODE {c} -o {n}", "KICK {c} {n}"]))
        actor.send(action.format(c=channel, n=other.client.nick))

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), line=GARBAGE)
    def garbage(self, data, line):
        self.pick(data, registered=False).send(line)

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), polite=st.booleans())
    def leave(self, data, polite):
        peer = self.pick(data, registered=False)
        if polite:
            peer.send("QUIT :bye")
        else:
            self.core.disconnect(peer.client, "Connection reset")

    @invariant()
    def membership_is_symmetric_and_channels_are_never_empty(self):
        for folded, channel in self.core.channels.items():
            assert channel.members, f"empty channel {channel.name} kept"
            assert folded == irc_lower(channel.name)
            for member in channel.members:
                assert not member.gone
                assert member.channels.get(folded) is channel
        for peer in self.live():
            for folded, channel in peer.client.channels.items():
                assert self.core.channels.get(folded) is channel
                assert peer.client in channel.members

    @invariant()
    def nicks_are_unique_under_casemapping(self):
        holders = [p.client for p in self.live() if p.client.nick != "*"]
        folded = [irc_lower(c.nick) for c in holders]
        assert len(folded) == len(set(folded))
        assert dict(self.core.nicks) == dict(zip(folded, holders, strict=True))

    @invariant()
    def no_handler_ever_failed(self):
        for peer in self.peers:
            assert b" 400 " not in peer.sink.data, bytes(peer.sink.data)

    @invariant()
    def user_counts_match_the_clients(self):
        registered = [c for c in self.core.clients if c.registered]
        assert self.core.users == len(registered)
        for letter, count in self.core.user_modes.items():
            assert count == sum(1 for c in registered if letter in c.modes)

    @invariant()
    def gone_clients_are_closed_or_disconnected_and_forgotten(self):
        for peer in self.peers:
            if peer.client.gone:
                assert peer.client not in self.core.clients


ChatMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestChatCore = ChatMachine.TestCase
