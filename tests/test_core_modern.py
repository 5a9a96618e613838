"""The core's side of the modern queries, modes and server commands: limits and corners that
are quicker to reach without sockets (tests/test_server_modern.py has the client's view)."""

from __future__ import annotations

from core_harness import Peer, make_core, register


def nick_cycle(core, nick: str, times: int) -> None:
    """Someone takes `nick` and quits, `times` times over."""
    for i in range(times):
        peer = Peer(core)
        peer.send(f"NICK {nick}", f"USER u{i} 0 * :round {i}", "QUIT")


def test_whowas_keeps_at_most_so_many_records_per_nick_and_in_all():
    core = make_core(whowas_entries=5, whowas_per_nick=2)
    nick_cycle(core, "alice", 3)
    asker = register(core, "asker")
    asker.send("WHOWAS alice")
    got = asker.take()
    assert [m.params[-1] for m in got if m.command == "314"] == ["round 2", "round 1"]
    nick_cycle(core, "bob", 4)  # 7 records made, 5 kept in all: the oldest two go
    asker.send("WHOWAS alice")
    assert [m.params[-1] for m in asker.take() if m.command == "314"] == ["round 2"]
    asker.send("WHOWAS bob")
    assert [m.params[-1] for m in asker.take() if m.command == "314"] == ["round 3", "round 2"]
    state = core.state
    assert len(state.whowas_order) <= 5
    assert sum(len(records) for records in state.whowas_records.values()) <= 5


def test_whowas_can_be_turned_off_and_counts_are_checked():
    core = make_core(whowas_entries=0)
    nick_cycle(core, "alice", 2)
    asker = register(core, "asker")
    asker.send("WHOWAS alice")
    assert [m.command for m in asker.take()] == ["406", "369"]
    core = make_core()
    nick_cycle(core, "alice", 3)
    asker = register(core, "asker")
    for count, shown in (("2", 2), ("0", 3), ("-1", 3), ("x", 3), ("²", 3)):
        asker.send(f"WHOWAS alice {count}")
        assert sum(m.command == "314" for m in asker.take()) == shown, count
    asker.send("WHOWAS :")
    assert [m.command for m in asker.take()] == ["461"]


def test_list_modes_are_shown_alone_or_inside_a_change_and_counted_together():
    core = make_core(max_list_entries=2)
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #room")
    bob.send("JOIN #room")
    alice.take(), bob.take()
    alice.send("MODE #room +e-b+I bob bob carol")
    changes = [m.params for m in alice.take() if m.command == "MODE"]
    assert changes == [["#room", "+eI", "bob!*@*", "carol!*@*"]]
    bob.take()
    alice.send("MODE #room +b dave")  # a third entry: over MAXLIST=beI:2
    assert alice.take() == []
    bob.send("MODE #room eIb")  # anyone in the room may look
    assert [m.command for m in bob.take()] == ["348", "349", "346", "347", "368"]
    alice.send("MODE #room +m-e+I bob")  # an operator's change can show a list on the way
    got = alice.take()
    assert [m.command for m in got] == ["346", "347", "MODE"]
    assert got[-1].params == ["#room", "+m-e", "bob!*@*"]
    core.find_channel("#room").modes |= {"s"}
    outsider = register(core, "carol")
    outsider.send("MODE #room e")
    assert [m.command for m in outsider.take()] == ["442"]


def test_an_exception_undoes_a_ban_and_an_invite_exception_opens_invite_only():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN #room", "MODE #room +bi *!*@127.0.0.1", "MODE #room +eI bob carol")
    bob, carol, dave = (register(core, nick) for nick in ("bob", "carol", "dave"))
    bob.send("JOIN #room")
    assert bob.commands() == ["473"]  # the exception beats the ban, not the +i
    carol.send("JOIN #room")
    assert carol.commands() == ["474"]  # an invite exception does not beat a ban
    dave.send("JOIN #room")
    assert dave.commands() == ["474"]
    alice.send("MODE #room -b+I *!*@127.0.0.1 bob")
    dave.send("JOIN #room")
    assert dave.commands() == ["473"]
    for peer in (bob, carol):
        peer.send("JOIN #room")
        assert "JOIN" in peer.commands()


def test_list_stops_within_half_the_send_queue_and_says_so():
    core = make_core(sendq_bytes=4096, channels_per_user=100)
    alice = register(core, "alice")
    for i in range(60):
        alice.send(f"JOIN #room{i:02}", f"TOPIC #room{i:02} :{'t' * 200}")
    alice.take()
    alice.send("LIST")
    data = bytes(alice.sink.data)
    got = alice.take()
    assert len(data) < 4096 // 2 + 600  # the 321, the NOTICE and the 323 besides
    assert got[0].command == "321" and got[-1].command == "323"
    assert got[-2].command == "NOTICE" and "LIST >10" in got[-2].params[-1]
    listed = [m.params[1] for m in got if m.command == "322"]
    assert listed == [f"#room{i:02}" for i in range(len(listed))] and 0 < len(listed) < 60
    alice.send("LIST #room5?,>5")  # narrower lists fit
    assert [m.command for m in alice.take()] == ["321", "323"]
    alice.send("LIST #room50,#room51,#room52 <2")
    assert [m.command for m in alice.take()] == ["321", "322", "322", "322", "323"]


def test_list_conditions_are_case_blind_and_malformed_ones_ignored():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a,#b")
    bob.send("JOIN #b")
    alice.take()
    for params, listed in (
        ("c<5", ["#a", "#b"]), ("t>1", []), (">x", ["#a", "#b"]), ("C<", ["#a", "#b"]),
        (">1,!#a", ["#b"]), ("#a,#b >1", ["#b"]), ("#a*,#b*", ["#a", "#b"]), ("<1", []),
    ):  # fmt: skip
        alice.send(f"LIST {params}")
        assert [m.params[1] for m in alice.take() if m.command == "322"] == listed, params


def test_knock_waits_per_user_and_is_refused_to_the_banned_and_hidden_for_secret_rooms():
    core = make_core(knock_interval=30)
    now = [1000.0]
    core.clock = lambda: now[0]
    alice, bob, carol = (register(core, nick) for nick in ("alice", "bob", "carol"))
    alice.send("JOIN #room,#hidden", "MODE #room +i", "MODE #hidden +is")
    alice.take()
    bob.send("KNOCK #hidden")
    assert bob.commands() == ["403"]  # a secret room is not there for outsiders
    bob.send("KNOCK #room :please")
    assert bob.commands() == ["711"]
    assert [m.params for m in alice.take()] == [
        ["#room", "#room", bob.user.source, "has asked for an invite: please"]
    ]
    now[0] += 29
    bob.send("KNOCK #room")
    assert bob.commands() == ["712"]
    carol.send("KNOCK #room")  # the wait is per user
    assert carol.commands() == ["711"]
    now[0] += 1
    bob.send("KNOCK #room")
    assert bob.commands() == ["711"]
    assert [m.params[-1] for m in alice.take()] == ["has asked for an invite"] * 2
    alice.send("MODE #room +b carol")
    alice.take()
    now[0] += 60
    carol.send("KNOCK #room")
    assert carol.commands() == ["404"]


def test_every_command_of_the_table_has_its_help_topic():
    from tcpchat.core.handlers.help import TOPICS

    core = make_core()
    assert set(TOPICS) == set(core.commands)
    alice = register(core, "alice")
    for command in core.commands:
        alice.send(f"HELP {command.lower()}")
        got = alice.take()
        assert [m.command for m in got[:1] + got[-1:]] == ["704", "706"], command
        assert got[2].params[-1] == TOPICS[command][0]
    alice.send("HELP :two words", "HELP ::x")
    assert [m.params[1] for m in alice.take()] == ["*", "*"]  # 524s, naming no subject


def test_user_mode_w_is_counted_and_given_up_and_wallops_reach_only_w():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("MODE alice +w")
    assert alice.take()[0].params == ["alice", "+w"]
    assert core.state.user_modes["w"] == 1
    alice.send("MODE alice")
    assert alice.take()[0].params[-1] == "+w"
    bob.user.modes = frozenset("o")  # a server operator, as OPER would make him
    bob.send("WALLOPS :hello")
    assert [m.command for m in alice.take()] == ["WALLOPS"]
    assert [m.command for m in bob.take()] == ["WALLOPS"]
    alice.send("MODE alice -w")
    alice.take()
    bob.send("WALLOPS :again", "WALLOPS :")
    assert alice.take() == [] and [m.command for m in bob.take()] == ["WALLOPS", "461"]
    assert core.state.user_modes["w"] == 0


def test_invite_alone_lists_pending_invitations_until_used():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #b,#a", "INVITE bob #b", "INVITE bob #a")
    bob.take()
    bob.send("INVITE")
    assert [m.params[1] for m in bob.take()] == ["#a", "#b", "End of /INVITE list"]
    bob.send("JOIN #a")
    bob.take()
    alice.send("PART #b")
    bob.send("INVITE")  # #a was used, #b is gone with its last member
    assert [m.command for m in bob.take()] == ["337"]
