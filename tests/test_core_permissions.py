"""Who may do what, in the sans-IO core: every permission boundary, from both sides.

Channel operators (+o) against ordinary members, bans, keys, limits, invitations,
moderation, topics under +t; server operators (OPER, KILL, STATS); the server
password; and that nobody can speak as somebody else.
"""

import logging

import pytest

from tcpchat.config import ConfigError, Settings
from tcpchat.passwords import hash_password

from core_harness import Peer, make_core, register

# Cheap scrypt parameters: the format records them, so checks stay fast in tests.
ROOT_HASH = hash_password("hunter2", n=16)


def numerics(messages):
    return [m.command for m in messages if m.command.isdigit()]


def room(core, *nicks: str, name: str = "#room") -> list[Peer]:
    """Peers that joined `name` in order (the first is its operator), with nothing pending."""
    peers = [register(core, nick) for nick in nicks]
    for peer in peers:
        peer.send(f"JOIN {name}")
    for peer in peers:
        peer.take()
    return peers


def lines(peer: Peer) -> list[str]:
    return peer.take_raw()


# ------------------------------------------------------------ channel operator


def test_first_member_is_operator_and_others_are_not():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    bob.send("NAMES #room")
    names = [m for m in bob.take() if m.command == "353"][0].params[-1].split()
    assert sorted(names) == ["@alice", "bob"]


def test_non_operator_cannot_kick_change_modes_or_set_a_protected_topic():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    for line in (
        "KICK #room carol :bye",
        "MODE #room +m",
        "MODE #room +o bob",
        "MODE #room +b carol",
        "MODE #room +k sesame",
        "MODE #room +l 2",
        "MODE #room -t",
        "TOPIC #room :mine now",
    ):
        bob.send(line)
        assert numerics(bob.take()) == ["482"], line
    assert carol.take() == [] and alice.take() == []  # nobody saw anything happen
    channel = core.find_channel("#room")
    assert carol.user.uid in channel.members
    assert channel.modes == {"n", "t"} and channel.key is None and channel.limit is None
    assert channel.bans == {} and channel.topic == ""
    assert channel.members[bob.user.uid] == ""


def test_operator_can_kick_and_everyone_in_the_room_sees_it():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    outsider = register(core, "dave")
    alice.send("KICK #room bob :behave")
    expected = ":alice!alice@127.0.0.1 KICK #room bob :behave"
    for peer in (alice, bob, carol):
        assert lines(peer) == [expected]
    assert outsider.take() == []
    assert bob.user.uid not in core.find_channel("#room").members
    bob.send("PRIVMSG #room :still here?")
    assert numerics(bob.take()) == ["404"]  # +n: no longer a member


def test_kick_errors():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    carol = register(core, "carol")
    alice.send("KICK #room carol")
    assert numerics(alice.take()) == ["441"]
    alice.send("KICK #nowhere bob")
    assert numerics(alice.take()) == ["403"]
    carol.send("KICK #room bob")
    assert numerics(carol.take()) == ["442"]
    alice.send("KICK #room")
    assert numerics(alice.take()) == ["461"]


def test_op_and_voice_are_granted_and_taken_and_everyone_sees_it():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    alice.send("MODE #room +o bob")
    for peer in (alice, bob, carol):
        assert lines(peer) == [":alice!alice@127.0.0.1 MODE #room +o bob"]
    bob.send("MODE #room +v carol")  # bob is an operator now
    assert lines(carol) == [":bob!bob@127.0.0.1 MODE #room +v carol"]
    alice.take()
    bob.send("MODE #room -o alice")
    assert lines(alice) == [":bob!bob@127.0.0.1 MODE #room -o alice"]
    alice.send("MODE #room +o alice")  # no longer an operator: can't take it back
    assert numerics(alice.take()) == ["482"]
    bob.send("MODE #room +o nobody")
    assert numerics(bob.take()) == ["401"]
    outsider = register(core, "dave")
    bob.send("MODE #room +o dave")
    assert numerics(bob.take()) == ["441"]
    assert outsider.take() == []


def test_unknown_mode_letter_is_472():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +z")
    assert numerics(alice.take()) == ["472"]


def test_anyone_may_query_modes_but_only_members_see_the_key():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    alice.send("MODE #room +k sesame")
    outsider = register(core, "dave")
    bob.take()
    bob.send("MODE #room")
    assert [m.params[2:] for m in bob.take() if m.command == "324"] == [["+ntk", "sesame"]]
    outsider.send("MODE #room")
    assert [m.params[2:] for m in outsider.take() if m.command == "324"] == [["+ntk", "*"]]


# ------------------------------------------------------------------------- bans


def test_banned_mask_cannot_join_and_ban_list_shows_it():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +b bob")
    assert lines(alice) == [":alice!alice@127.0.0.1 MODE #room +b bob!*@*"]
    bob = register(core, "bob")
    bob.send("JOIN #room")
    assert numerics(bob.take()) == ["474"]
    alice.send("MODE #room +b *!*@10.0.0.*")
    from_lan = Peer(core, host="10.0.0.7")
    from_lan.send("NICK erin", "USER erin 0 * :E")
    from_lan.take()
    from_lan.send("JOIN #room")
    assert numerics(from_lan.take()) == ["474"]
    carol = register(core, "carol")  # matches no ban
    carol.send("JOIN #room")
    assert "474" not in numerics(carol.take())
    carol.send("MODE #room b")
    bans = [m.params[2:4] for m in carol.take() if m.command == "367"]
    assert bans == [
        ["bob!*@*", "alice!alice@127.0.0.1"],
        ["*!*@10.0.0.*", "alice!alice@127.0.0.1"],
    ]
    alice.send("MODE #room -b bob")
    bob.send("JOIN #room")
    assert "474" not in numerics(bob.take())


def test_banned_member_cannot_speak_unless_voiced_or_operator():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    alice.send("MODE #room +b bob!*@*")
    alice.take()
    carol.take()
    bob.take()
    bob.send("PRIVMSG #room :can you hear me?")
    assert numerics(bob.take()) == ["404"]
    assert alice.take() == [] and carol.take() == []
    bob.send("NOTICE #room :quietly")  # NOTICE: silently dropped
    assert bob.take() == [] and carol.take() == []
    alice.send("MODE #room +v bob")
    carol.take()
    bob.take()
    bob.send("PRIVMSG #room :voiced")
    assert lines(carol) == [":bob!bob@127.0.0.1 PRIVMSG #room :voiced"]


def test_ban_masks_match_case_insensitively_with_wildcards():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +b B?B!*@*")
    bob = register(core, "bob")
    bob.send("JOIN #room")
    assert numerics(bob.take()) == ["474"]
    bobby = register(core, "bobby")  # 'b?b' is three letters, no more
    bobby.send("JOIN #room")
    assert "474" not in numerics(bobby.take())
    alice.send("MODE #room +b *!*@127.0.0.*")
    bibi = register(core, "bibi")
    bibi.send("JOIN #room")
    assert numerics(bibi.take()) == ["474"]


def test_malformed_ban_masks_and_keys_are_refused():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +b :bad mask")
    assert alice.take() == []
    alice.send("MODE #room +k :two words")
    assert numerics(alice.take()) == ["525"]
    alice.send("MODE #room +k a,b")
    assert numerics(alice.take()) == ["525"]
    assert core.find_channel("#room").key is None and not core.find_channel("#room").bans


# ------------------------------------------------------------ key, limit, invite


def test_wrong_key_is_475_and_the_right_one_lets_in():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +k sesame")
    bob = register(core, "bob")
    bob.send("JOIN #room")
    assert numerics(bob.take()) == ["475"]
    bob.send("JOIN #room wrong")
    assert numerics(bob.take()) == ["475"]
    bob.send("JOIN #room sesame")
    assert [m.command for m in bob.take()][0] == "JOIN"
    alice.send("MODE #room -k *")
    assert core.find_channel("#room").key is None


def test_full_channel_is_471():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    alice.send("MODE #room +l 2")
    assert lines(bob) == [":alice!alice@127.0.0.1 MODE #room +l 2"]
    carol = register(core, "carol")
    carol.send("JOIN #room")
    assert numerics(carol.take()) == ["471"]
    bob.send("PART #room")
    carol.send("JOIN #room")
    assert [m.command for m in carol.take()][0] == "JOIN"
    alice.send("MODE #room -l")
    assert core.find_channel("#room").limit is None


def test_invite_only_needs_an_invitation_which_works_once():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    alice.send("MODE #room +i")
    alice.take()
    bob.take()
    carol = register(core, "carol")
    carol.send("JOIN #room")
    assert numerics(carol.take()) == ["473"]
    bob.send("INVITE carol #room")  # a plain member can't invite to a +i room
    assert numerics(bob.take()) == ["482"]
    assert carol.take() == []
    alice.send("INVITE carol #room")
    assert [(m.command, m.params) for m in alice.take()] == [("341", ["alice", "carol", "#room"])]
    assert lines(carol) == [":alice!alice@127.0.0.1 INVITE carol #room"]
    carol.send("JOIN #room")
    assert [m.command for m in carol.take()][0] == "JOIN"
    carol.send("PART #room")
    carol.take()
    carol.send("JOIN #room")  # the invitation was used up
    assert numerics(carol.take()) == ["473"]


def test_invite_errors():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    carol = register(core, "carol")
    carol.send("INVITE alice #room")
    assert numerics(carol.take()) == ["442"]
    alice.send("INVITE bob #room")
    assert numerics(alice.take()) == ["443"]
    alice.send("INVITE nobody #room")
    assert numerics(alice.take()) == ["401"]
    alice.send("INVITE carol #nowhere")
    assert numerics(alice.take()) == ["403"]


def test_an_invitation_lets_a_banned_nick_in():
    core = make_core()
    (alice,) = room(core, "alice")
    alice.send("MODE #room +b bob")
    bob = register(core, "bob")
    alice.send("INVITE bob #room")
    bob.take()
    bob.send("JOIN #room")
    assert [m.command for m in bob.take()][0] == "JOIN"


# ------------------------------------------------------------------- moderation


def test_moderated_room_silences_all_but_voiced_and_operators():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    alice.send("MODE #room +mv carol")
    assert lines(bob) == [":alice!alice@127.0.0.1 MODE #room +mv carol"]
    carol.take()
    alice.take()
    bob.send("PRIVMSG #room :let me speak")
    assert numerics(bob.take()) == ["404"]
    assert alice.take() == [] and carol.take() == []
    carol.send("PRIVMSG #room :voiced")
    assert lines(bob) == [":carol!carol@127.0.0.1 PRIVMSG #room :voiced"]
    alice.send("PRIVMSG #room :operator")
    assert lines(bob) == [":alice!alice@127.0.0.1 PRIVMSG #room :operator"]


def test_moderated_room_without_n_still_silences_outsiders():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    alice.send("MODE #room -n")
    outsider = register(core, "dave")
    outsider.send("PRIVMSG #room :from outside")
    assert lines(bob)[-1] == ":dave!dave@127.0.0.1 PRIVMSG #room :from outside"
    alice.send("MODE #room +m")
    bob.take()
    outsider.send("PRIVMSG #room :again")
    assert numerics(outsider.take()) == ["404"]
    assert bob.take() == []


def test_no_external_messages_and_topic_protection_from_both_sides():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    outsider = register(core, "dave")
    outsider.send("PRIVMSG #room :hello?")
    assert numerics(outsider.take()) == ["404"]
    bob.send("TOPIC #room :by bob")
    assert numerics(bob.take()) == ["482"]
    alice.send("TOPIC #room :by alice")
    assert lines(bob) == [":alice!alice@127.0.0.1 TOPIC #room :by alice"]
    alice.send("MODE #room -t")
    alice.take()
    bob.take()
    bob.send("TOPIC #room :now anyone may")
    assert lines(alice) == [":bob!bob@127.0.0.1 TOPIC #room :now anyone may"]
    outsider.send("TOPIC #room :even me?")
    assert numerics(outsider.take()) == ["442"]


def test_secret_room_is_hidden_from_outsiders():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    alice.send("MODE #room +s")
    outsider = register(core, "dave")
    outsider.send("LIST")
    assert "322" not in numerics(outsider.take())
    outsider.send("NAMES #room")
    assert numerics(outsider.take()) == ["366"]
    outsider.send("MODE #room b")
    assert numerics(outsider.take()) == ["442"]
    bob.take()
    bob.send("LIST")
    assert "322" in numerics(bob.take())


# -------------------------------------------------------------- server password


def test_wrong_or_missing_server_password_is_464_then_closed(caplog):
    core = make_core(password="sesame")
    with caplog.at_level(logging.WARNING):
        for opening in (["PASS wrong"], []):
            peer = Peer(core, host="192.0.2.9")
            peer.send(*opening, "NICK mallory", "USER m 0 * :M")
            msgs = peer.take()
            assert [m.command for m in msgs] == ["464", "ERROR"]
            assert peer.sink.closed and not peer.session.registered
    assert "192.0.2.9" in caplog.text
    assert core.state.users == 0 and core.find_user("mallory") is None


def test_right_server_password_registers_and_pass_after_registration_is_462():
    core = make_core(password="sesame")
    peer = Peer(core)
    peer.send("PASS sesame", "NICK alice", "USER alice 0 * :A")
    assert "001" in numerics(peer.take())
    peer.send("PASS sesame")
    assert numerics(peer.take()) == ["462"]


def test_without_a_server_password_pass_is_ignored():
    core = make_core()
    peer = Peer(core)
    peer.send("PASS anything", "NICK alice", "USER alice 0 * :A")
    assert "001" in numerics(peer.take())
    assert not peer.sink.closed


# ------------------------------------------------------------- server operators


def opers_core(**settings):
    return make_core(operators={"root": ROOT_HASH}, **settings)


def test_oper_with_the_right_password_gets_381_and_mode_o():
    core = opers_core()
    alice = register(core, "alice")
    alice.send("OPER root hunter2")
    assert lines(alice) == [
        ":tcpchat 381 alice :You are now an IRC operator",
        ":alice!alice@127.0.0.1 MODE alice +o",
    ]
    assert "o" in alice.user.modes and core.state.user_modes["o"] == 1
    bob = register(core, "bob")
    bob.send("WHOIS alice")
    assert "313" in numerics(bob.take())
    alice.send("MODE alice -o")  # giving it up is allowed; taking it with MODE is not
    alice.send("MODE alice +o")
    assert "o" not in alice.user.modes and core.state.user_modes["o"] == 0


def test_wrong_oper_name_or_password_is_464_and_logged_with_the_address(caplog):
    core = opers_core()
    mallory = Peer(core, host="198.51.100.7")
    mallory.send("NICK mallory", "USER m 0 * :M")
    mallory.take()
    with caplog.at_level(logging.WARNING, logger="tcpchat"):
        mallory.send("OPER root wrong")
    assert numerics(mallory.take()) == ["464"]
    assert "o" not in mallory.user.modes
    failures = [r.getMessage() for r in caplog.records if "failed OPER" in r.getMessage()]
    assert failures and "198.51.100.7" in failures[0] and "'root'" in failures[0]
    caplog.clear()
    core.clock = lambda: core.started + 1000  # past the pause after a failure
    with caplog.at_level(logging.WARNING, logger="tcpchat"):
        mallory.send("OPER admin hunter2")  # no such operator name
    assert numerics(mallory.take()) == ["464"]
    assert "198.51.100.7" in caplog.text


def test_retrying_oper_at_once_after_a_failure_is_refused_without_checking():
    now = [1000.0]
    core = opers_core()
    core.clock = lambda: now[0]
    alice = register(core, "alice")
    alice.send("OPER root wrong")
    alice.take()
    alice.send("OPER root hunter2")
    refusal = alice.take()
    assert numerics(refusal) == ["464"] and "wait" in refusal[0].params[-1]
    assert "o" not in alice.user.modes
    now[0] += 5
    alice.send("OPER root hunter2")
    assert "381" in numerics(alice.take())


def test_oper_without_configured_operators_is_491_and_needs_two_parameters(caplog):
    core = make_core()
    alice = register(core, "alice")
    with caplog.at_level(logging.WARNING, logger="tcpchat"):
        alice.send("OPER root hunter2")
    assert numerics(alice.take()) == ["491"]
    assert "127.0.0.1" in caplog.text
    alice.send("OPER root")
    assert numerics(alice.take()) == ["461"]


def test_oper_before_registration_is_451():
    core = opers_core()
    peer = Peer(core)
    peer.send("OPER root hunter2")
    assert numerics(peer.take()) == ["451"]


def test_operators_config_is_checked():
    with pytest.raises(ConfigError, match="scrypt"):
        Settings().updated({"operators": {"root": "plaintext-password"}})
    with pytest.raises(ConfigError, match="power of 2"):
        Settings().updated({"operators": {"root": ROOT_HASH.replace("$16$", "$15$")}})
    with pytest.raises(ConfigError, match="name"):
        Settings().updated({"operators": {"two words": ROOT_HASH}})
    with pytest.raises(ConfigError, match="table"):
        Settings().updated({"operators": ["root"]})


def oper(core, nick: str) -> Peer:
    peer = register(core, nick)
    peer.send("OPER root hunter2")
    peer.take()
    return peer


def test_kill_needs_an_operator():
    core = opers_core()
    alice, bob = room(core, "alice", "bob")
    bob.send("KILL alice :you're gone")
    assert numerics(bob.take()) == ["481"]
    assert alice.session.registered and not alice.sink.closed


def test_kill_disconnects_and_everyone_sharing_a_room_sees_the_quit():
    core = opers_core()
    bob, carol = room(core, "bob", "carol")
    dave = register(core, "dave")
    root = oper(core, "root")
    root.send("KILL bob :spamming")
    assert lines(bob) == [
        ":root!root@127.0.0.1 KILL bob :spamming",
        "ERROR :Closing Link: 127.0.0.1 (Killed (root (spamming)))",
    ]
    assert bob.sink.closed and core.find_user("bob") is None
    assert lines(carol) == [":bob!bob@127.0.0.1 QUIT :Killed (root (spamming))"]
    assert dave.take() == []
    assert lines(root) == [":tcpchat NOTICE root :bob was killed: spamming"]
    assert bob.user.uid not in core.find_channel("#room").members


def test_kill_errors():
    core = opers_core()
    root = oper(core, "root")
    root.send("KILL nobody :x")
    assert numerics(root.take()) == ["401"]
    root.send("KILL")
    assert numerics(root.take()) == ["461"]


def test_server_operator_can_kick_and_set_modes_in_any_room():
    core = opers_core()
    alice, bob = room(core, "alice", "bob")
    root = oper(core, "root")
    root.send("KICK #room bob :enough")
    expected = ":root!root@127.0.0.1 KICK #room bob :enough"
    assert lines(alice) == [expected] and lines(bob) == [expected]
    assert lines(root) == [expected]  # sees it, though not in the room
    root.send("MODE #room +m")
    assert lines(alice) == [":root!root@127.0.0.1 MODE #room +m"]
    assert lines(root) == [":root!root@127.0.0.1 MODE #room +m"]


def test_stats_uptime_for_anyone_summary_for_operators_only():
    now = [5000.0]
    core = opers_core()
    core.clock = lambda: now[0]
    core.started = now[0] - (2 * 86400 + 3 * 3600 + 4 * 60 + 5)
    alice = register(core, "alice")
    alice.send("STATS u")
    assert lines(alice) == [
        ":tcpchat 242 alice :Server Up 2 days 3:04:05",
        ":tcpchat 219 alice u :End of /STATS report",
    ]
    for query in ("STATS", "STATS m"):
        alice.send(query)
        assert numerics(alice.take()) == ["481"]
    alice.send("JOIN #a", "PRIVMSG #a :one", "PRIVMSG alice :two")
    alice.take()
    root = oper(core, "root")
    root.send("STATS")
    summary = root.take()
    assert numerics(summary) == ["249", "249", "249", "249", "219"]
    text = " ".join(m.params[-1] for m in summary)
    assert "Users: 2" in text and "operators: 1" in text
    assert "Channels: 1" in text and "messages relayed: 2" in text
    # The JOIN and both messages (a note to oneself is a conversation too).
    assert "History: 3 lines stored, 0 being written, 0 lost to failed writes" in text


# ------------------------------------------------------------------ no spoofing


def test_the_source_of_a_message_is_set_by_the_server():
    core = make_core()
    alice, bob = room(core, "alice", "bob")
    for line in (
        ":fake!x@y PRIVMSG #room :hi",
        ":bob!bob@127.0.0.1 PRIVMSG #room :as bob",
        ":tcpchat NOTICE #room :as the server",
        ":fake!x@y TOPIC #room :new topic",
    ):
        alice.send(line)
    got = lines(bob)
    assert got == [
        ":alice!alice@127.0.0.1 PRIVMSG #room :hi",
        ":alice!alice@127.0.0.1 PRIVMSG #room :as bob",
        ":alice!alice@127.0.0.1 NOTICE #room :as the server",
        ":alice!alice@127.0.0.1 TOPIC #room :new topic",
    ]
    alice.send(":bob!bob@127.0.0.1 PRIVMSG bob :private")
    assert lines(bob) == [":alice!alice@127.0.0.1 PRIVMSG bob :private"]


def test_private_messages_reach_only_their_target_and_an_echoing_sender():
    core = make_core()
    alice, bob, carol = room(core, "alice", "bob", "carol")
    echoer = register(core, "eve", "echo-message")
    echoer.send("JOIN #room")
    for peer in (alice, bob, carol, echoer):
        peer.take()
    alice.send("PRIVMSG bob :for bob only")
    assert lines(bob) == [":alice!alice@127.0.0.1 PRIVMSG bob :for bob only"]
    assert alice.take() == [] and carol.take() == [] and echoer.take() == []
    echoer.send("PRIVMSG carol :for carol only")
    assert lines(carol) == [":eve!eve@127.0.0.1 PRIVMSG carol :for carol only"]
    assert lines(echoer) == [":eve!eve@127.0.0.1 PRIVMSG carol :for carol only"]
    assert alice.take() == [] and bob.take() == []
