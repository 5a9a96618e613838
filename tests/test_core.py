"""The chat core as a state machine: registration, rooms, messages, queries, errors."""

import re

from tcpchat.core.chat import format_server_time
from tcpchat.core.commands import Command

from core_harness import Peer, make_core, register


def numerics(messages):
    return [m.command for m in messages if m.command.isdigit()]


# ---------------------------------------------------------------- registration


def test_registration_sends_welcome_isupport_lusers_and_motd():
    core = make_core(network_name="TestNet", server_name="irc.test")
    peer = Peer(core)
    peer.send("NICK alice", "USER alice 0 * :Alice Liddell")
    msgs = peer.take()
    codes = numerics(msgs)
    assert codes[:4] == ["001", "002", "003", "004"]
    assert "005" in codes and codes[-1] == "376"
    for code in ("251", "252", "253", "254", "255", "265", "266", "375", "372"):
        assert code in codes
    assert msgs[0].source == "irc.test"
    assert msgs[0].params[-1] == "Welcome to the TestNet IRC Network, alice!alice@127.0.0.1"
    tokens = " ".join(" ".join(m.params[1:-1]) for m in msgs if m.command == "005").split()
    for token in (
        "CASEMAPPING=rfc1459",
        "CHANTYPES=#",
        "NICKLEN=30",
        "CHANNELLEN=50",
        "TOPICLEN=390",
        "PREFIX=(ov)@+",
        "CHANMODES=beI,k,l,Uimnst",
        "NETWORK=TestNet",
    ):
        assert token in tokens


def test_empty_motd_gives_422():
    core = make_core(motd="")
    peer = Peer(core)
    peer.send("NICK alice", "USER alice 0 * :A")
    assert numerics(peer.take())[-1] == "422"


def test_cap_negotiation_holds_registration_until_cap_end():
    core = make_core()
    peer = Peer(core)
    peer.send("CAP LS 302", "NICK alice", "USER alice 0 * :A")
    msgs = peer.take()
    assert msgs[0].command == "CAP" and msgs[0].params[:2] == ["*", "LS"]
    advertised = msgs[0].params[2].split()
    assert set(advertised) >= {"server-time", "message-tags", "echo-message", "multi-prefix"}
    assert not peer.session.registered
    peer.send("CAP REQ :multi-prefix server-time")
    assert peer.take()[0].params[1:] == ["ACK", "multi-prefix server-time"]
    peer.send("CAP REQ :multi-prefix bogus-cap")
    assert peer.take()[0].params[1:] == ["NAK", "multi-prefix bogus-cap"]
    peer.send("CAP END")
    assert peer.session.registered
    assert numerics(peer.take())[0] == "001"
    peer.send("CAP LIST")
    # cap-notify comes with CAP LS 302, for good
    assert peer.take()[0].params[1:] == ["LIST", "cap-notify multi-prefix server-time"]


def test_cap_unknown_subcommand_is_410():
    core = make_core()
    peer = Peer(core)
    peer.send("CAP FROB")
    assert numerics(peer.take()) == ["410"]


def test_commands_before_registration_get_451():
    core = make_core()
    peer = Peer(core)
    peer.send("JOIN #a", "PRIVMSG bob :hi", "FROBNICATE")
    assert numerics(peer.take()) == ["451", "451", "451"]


def test_ping_works_before_registration():
    core = make_core(server_name="irc.test")
    peer = Peer(core)
    peer.send("PING :abc")
    assert peer.take_raw() == [":irc.test PONG irc.test :abc"]


def test_nick_errors():
    core = make_core()
    register(core, "alice")
    peer = Peer(core)
    peer.send("NICK", "NICK 9lives", "NICK " + "x" * 31, "NICK ALICE", "NICK server")
    assert numerics(peer.take()) == ["431", "432", "432", "433", "432"]


def test_user_needs_four_params_and_only_once():
    core = make_core()
    peer = Peer(core)
    peer.send("USER alice 0 *")
    assert numerics(peer.take()) == ["461"]
    peer.send("NICK alice", "USER alice 0 * :")  # an empty realname is missing too
    assert numerics(peer.take()) == ["461"] and not peer.session.registered
    peer.send("USER alice 0 * :Alice")
    assert numerics(peer.take())[0] == "001"
    alice = register(core, "alice2")
    alice.send("USER again 0 * :x")
    assert numerics(alice.take()) == ["462"]


def test_server_password_is_checked():
    core = make_core(password="sesame")
    peer = Peer(core)
    peer.send("PASS wrong", "NICK alice", "USER alice 0 * :A")
    msgs = peer.take()
    assert [m.command for m in msgs] == ["464", "ERROR"]
    assert peer.sink.closed
    good = Peer(core)
    good.send("PASS sesame", "NICK alice", "USER alice 0 * :A")
    assert good.session.registered


# ------------------------------------------------------------------- channels


def test_join_creates_channel_with_creator_as_operator():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN #Room")
    msgs = alice.take()
    assert msgs[0].command == "JOIN" and msgs[0].source == "alice!alice@127.0.0.1"
    assert msgs[1].command == "353" and msgs[1].params[-1] == "@alice"
    assert msgs[2].command == "366"
    bob = register(core, "bob")
    bob.send("JOIN #room")
    joined = bob.take()
    assert joined[0].params == ["#Room"]  # the channel keeps its creator's spelling
    assert joined[1].params[-1] == "@alice bob"
    assert [m.command for m in alice.take()] == ["JOIN"]


def test_join_several_channels_and_join_zero():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN #a,#b,#c")
    assert [m.params[0] for m in alice.take() if m.command == "JOIN"] == ["#a", "#b", "#c"]
    alice.send("JOIN 0")
    assert sorted(m.params[0] for m in alice.take() if m.command == "PART") == ["#a", "#b", "#c"]
    assert core.state.channels == {}


def test_join_invalid_name_and_missing_params():
    core = make_core()
    alice = register(core, "alice")
    alice.send("JOIN", "JOIN lobby", "JOIN #" + "x" * 60)
    assert numerics(alice.take()) == ["461", "403", "403"]


def test_part_errors_and_broadcast():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    bob.send("PART #a :see you", "PART #a", "PART #nope")
    msgs = bob.take()
    assert msgs[0].command == "PART" and msgs[0].params == ["#a", "see you"]
    assert numerics(msgs[1:]) == ["442", "403"]
    assert alice.take()[0].params == ["#a", "see you"]


def test_topic_query_set_and_protection():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    bob.send("TOPIC #a")
    assert numerics(bob.take()) == ["331"]
    bob.send("TOPIC #a :mine now")
    assert numerics(bob.take()) == ["482"]  # +t by default
    alice.send("TOPIC #a :Welcome all")
    assert bob.take()[0].params == ["#a", "Welcome all"]
    bob.send("TOPIC #a")
    msgs = bob.take()
    assert [m.command for m in msgs] == ["332", "333"]
    assert msgs[1].params[2] == "alice!alice@127.0.0.1"
    carol = register(core, "carol")
    carol.send("JOIN #a")
    assert [m.command for m in carol.take()] == ["JOIN", "332", "333", "353", "366"]


def test_names_and_list():
    core = make_core()
    alice, bob = register(core, "alice", "multi-prefix"), register(core, "bob")
    alice.send("JOIN #a", "JOIN #b", "TOPIC #b :bee room", "MODE #a +v alice")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    alice.send("NAMES #a")
    names = alice.take()
    assert names[0].params[-1] == "@+alice bob" and names[1].command == "366"
    bob.send("NAMES #a")
    assert bob.take()[0].params[-1] == "@alice bob"
    bob.send("LIST")
    msgs = bob.take()
    assert [m.command for m in msgs] == ["321", "322", "322", "323"]
    assert msgs[1].params[1:] == ["#a", "2", ""]
    assert msgs[2].params[1:] == ["#b", "1", "bee room"]


def test_names_of_a_big_channel_are_split_within_the_line_limit():
    core = make_core()
    peers = [register(core, f"user{i:03d}") for i in range(120)]
    for peer in peers:
        peer.send("JOIN #big")
    peers[0].take()
    peers[0].send("NAMES #big")
    raw = peers[0].take_raw()
    assert len(raw) > 2
    assert all(len(line.encode()) + 2 <= 512 for line in raw)
    listed = " ".join(line.split(" :", 1)[1] for line in raw if " 353 " in line).split()
    assert len(listed) == 120


# ------------------------------------------------------------------- messages


def test_channel_message_reaches_members_but_not_sender_or_outsiders():
    core = make_core()
    alice, bob, carol = (register(core, n) for n in ("alice", "bob", "carol"))
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    for p in (alice, bob, carol):
        p.take()
    alice.send("PRIVMSG #a :hello, room")
    assert bob.take_raw() == [":alice!alice@127.0.0.1 PRIVMSG #a :hello, room"]
    assert alice.take() == [] and carol.take() == []


def test_private_message_and_errors():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("PRIVMSG BOB :psst")
    assert bob.take_raw() == [":alice!alice@127.0.0.1 PRIVMSG bob :psst"]
    alice.send("PRIVMSG", "PRIVMSG bob", "PRIVMSG bob :", "PRIVMSG nobody :x", "PRIVMSG #none :x")
    assert numerics(alice.take()) == ["411", "412", "412", "401", "403"]


def test_outsider_cannot_send_to_no_external_messages_channel():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a")
    alice.take()
    bob.send("PRIVMSG #a :let me in")
    assert numerics(bob.take()) == ["404"]
    assert alice.take() == []


def test_notice_never_draws_an_error():
    core = make_core()
    alice = register(core, "alice")
    alice.send("NOTICE nobody :x", "NOTICE", "NOTICE #none :x")
    assert alice.take() == []


def test_too_many_targets():
    core = make_core(targets_per_message=2)
    alice = register(core, "alice")
    register(core, "b1"), register(core, "b2"), register(core, "b3")
    alice.send("PRIVMSG b1,b2,b3 :hi")
    assert numerics(alice.take()) == ["407"]


def test_echo_message_and_server_time():
    now = 1_700_000_000.25
    core = make_core()
    core.clock = lambda: now
    alice = register(core, "alice", "echo-message", "server-time")
    bob = register(core, "bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    alice.send("PRIVMSG #a :hi")
    echoed = alice.take_raw()
    assert echoed == [f"@time={format_server_time(now)} :alice!alice@127.0.0.1 PRIVMSG #a :hi"]
    assert format_server_time(now) == "2023-11-14T22:13:20.250Z"
    assert bob.take_raw() == [":alice!alice@127.0.0.1 PRIVMSG #a :hi"]
    alice.send("PRIVMSG bob :direct")
    assert len(alice.take()) == 1 and len(bob.take()) == 1


def test_client_tags_reach_only_message_tags_clients():
    core = make_core()
    alice = register(core, "alice", "message-tags")
    bob = register(core, "bob", "message-tags")
    carol = register(core, "carol")
    for p in (alice, bob, carol):
        p.send("JOIN #a")
        p.take()
    alice.take(), bob.take()
    alice.send("@+draft/react=\\:) PRIVMSG #a :tagged", "@+typing=active TAGMSG #a")
    bob_msgs = bob.take()
    client_tags = [{k: v for k, v in m.tags.items() if k != "msgid"} for m in bob_msgs]
    assert client_tags[0] == {"+draft/react": ";)"} and bob_msgs[0].params[1] == "tagged"
    assert bob_msgs[1].command == "TAGMSG" and client_tags[1] == {"+typing": "active"}
    assert all(m.tags["msgid"] for m in bob_msgs)  # and each message has its id
    assert carol.take_raw() == [":alice!alice@127.0.0.1 PRIVMSG #a :tagged"]


def test_quit_reaches_each_peer_once_however_many_channels_shared():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    for room in ("#a", "#b", "#c"):
        alice.send(f"JOIN {room}")
        bob.send(f"JOIN {room}")
    alice.take(), bob.take()
    alice.send("QUIT :gone fishing")
    assert bob.take_raw() == [":alice!alice@127.0.0.1 QUIT :Quit: gone fishing"]
    assert [m.command for m in alice.take()] == ["ERROR"]
    assert alice.sink.closed
    assert core.find_user("alice") is None
    assert all(alice.user.uid not in c.members for c in core.state.channels.values())


def test_disconnect_without_quit_tells_peers():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    core.disconnect(alice.session, "Connection closed")
    assert bob.take()[0].params == ["Connection closed"]
    bob.send("NICK alice")  # the nick is free again
    assert bob.take()[0].command == "NICK"


def test_nick_change_is_seen_once_by_each_peer_and_by_self():
    core = make_core()
    alice, bob, carol = (register(core, n) for n in ("alice", "bob", "carol"))
    for room in ("#a", "#b"):
        alice.send(f"JOIN {room}")
        bob.send(f"JOIN {room}")
    alice.take(), bob.take()
    alice.send("NICK Alicia")
    assert alice.take_raw() == [":alice!alice@127.0.0.1 NICK :Alicia"]
    assert bob.take_raw() == [":alice!alice@127.0.0.1 NICK :Alicia"]
    assert carol.take() == []
    carol.send("PRIVMSG alicia :found you")
    assert alice.take()[0].params == ["Alicia", "found you"]
    alice.send("NICK ALICIA")  # a case change of one's own nick is allowed
    assert alice.take()[0].params == ["ALICIA"]


# -------------------------------------------------------------------- queries


def test_whois_who_ison_userhost():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a", "AWAY :lunch")
    alice.take()
    bob.send("WHOIS alice")
    msgs = bob.take()
    assert [m.command for m in msgs] == ["311", "319", "312", "301", "317", "318"]
    assert msgs[0].params[1:] == ["alice", "alice", "127.0.0.1", "*", "alice Example"]
    assert msgs[1].params[-1] == "@#a"
    bob.send("WHOIS ghost")
    assert numerics(bob.take()) == ["401", "318"]
    bob.send("WHO #a")
    who = bob.take()
    assert who[0].command == "352" and who[0].params[5:7] == ["alice", "G@"]
    assert who[-1].command == "315"
    bob.send("ISON alice ghost BOB")
    assert bob.take()[0].params[-1] == "alice bob"
    bob.send("USERHOST alice bob")
    assert bob.take()[0].params[-1] == "alice=-alice@127.0.0.1 bob=+bob@127.0.0.1"


def test_away_replies_and_rpl_away_on_private_message():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob", "away-notify")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()
    alice.send("AWAY :brb")
    assert numerics(alice.take()) == ["306"]
    assert bob.take_raw() == [":alice!alice@127.0.0.1 AWAY :brb"]
    bob.send("PRIVMSG alice :hey")
    assert [m.command for m in bob.take()] == ["301"]
    alice.send("AWAY")
    assert numerics(alice.take()) == ["305"]


def test_server_queries():
    core = make_core()
    alice = register(core, "alice")
    alice.send("MOTD", "LUSERS", "VERSION", "TIME", "PING", "MODE alice", "MODE alice +i")
    codes = numerics(alice.take())
    assert codes[:3] == ["375", "372", "372"] and "376" in codes
    assert "251" in codes and "351" in codes and "391" in codes and "409" in codes
    assert "221" in codes
    assert "i" in alice.user.modes


def test_unknown_command_and_missing_parameters():
    core = make_core()
    alice = register(core, "alice")
    alice.send("FROB x", "TOPIC", "KICK #a", "MODE", "WHOIS", "INVITE bob")
    assert numerics(alice.take()) == ["421", "461", "461", "461", "431", "461"]


# ------------------------------------------------------------------ bad input


def test_overlong_line_gets_417_and_connection_stays():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("PRIVMSG bob :" + "x" * 600)
    assert numerics(alice.take()) == ["417"]
    assert bob.take() == []
    alice.send("PRIVMSG bob :short")
    assert bob.take()[0].params[-1] == "short"


def test_tags_do_not_count_towards_the_512_byte_limit():
    core = make_core()
    alice, bob = register(core, "alice", "message-tags"), register(core, "bob")
    text = "y" * 490
    alice.send("@+big=" + "t" * 3000 + f" PRIVMSG bob :{text}")
    assert bob.take()[0].params[-1] == text


def test_invalid_utf8_is_read_as_latin1_and_nul_is_dropped():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send(b"PRIVMSG bob :caf\xe9 \xff", b"PRIVMSG bob :a\x00b")
    msgs = bob.take()
    assert msgs[0].params[-1] == "café ÿ"
    assert msgs[1].params[-1] == "ab"


def test_garbage_lines_get_421_and_harm_no_one():
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send(b"\x01\x02\x03", b":", b"@", b"   ", b"&&&&", b"::: :::")
    codes = numerics(alice.take())
    assert codes and set(codes) == {"421"}
    assert bob.take() == []
    assert alice.session.registered and not alice.sink.closed


def test_errors_echo_user_input_without_breaking_the_reply_line():
    core = make_core()
    alice = register(core, "alice")
    alice.send("NICK :two words", "PRIVMSG :a b :text")
    raw = alice.take_raw()
    assert raw[0].split(" ")[1] == "432"
    assert all(re.fullmatch(r"[^\r\n\0]+", line) for line in raw)


def test_a_failing_handler_is_logged_and_answered_and_no_one_else_notices(caplog):
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a")
    bob.send("JOIN #a")
    alice.take(), bob.take()

    def broken(core, client, msg):
        raise RuntimeError("a bug in a handler")

    core.commands = {**core.commands, "WHO": Command(broken)}
    alice.send("WHO #a")
    reply = alice.take_raw()
    assert len(reply) == 1 and " 400 alice WHO :" in reply[0]
    assert "error handling WHO from alice (127.0.0.1)" in caplog.text
    assert "a bug in a handler" in caplog.text
    assert bob.take() == []
    alice.send("PRIVMSG #a :still fine")
    assert bob.take()[0].params == ["#a", "still fine"]


def test_limits_are_enforced_with_the_right_numerics():
    core = make_core(topic_length=10, away_length=5, channels_per_user=2, kick_length=4)
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.send("JOIN #a,#b,#c")
    assert numerics(alice.take()).count("405") == 1
    bob.send("JOIN #a")
    alice.take(), bob.take()
    alice.send("TOPIC #a :" + "t" * 50)
    assert alice.take()[0].params == ["#a", "t" * 10]
    alice.send("AWAY :" + "a" * 50)
    alice.take()
    assert alice.user.away == "aaaaa"
    bob.take()
    alice.send("KICK #a bob :" + "k" * 50)
    assert bob.take()[0].params == ["#a", "bob", "kkkk"]
