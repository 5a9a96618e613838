"""The whole server over real sockets on 127.0.0.1: IRC clients, people with nc, bad input."""

import socket

import pytest

from net_harness import LineClient, running_server


@pytest.fixture
def server():
    with running_server() as running:
        yield running


def connect(server) -> LineClient:
    return LineClient(server.port)


def test_clients_register_join_talk_change_nick_and_quit(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    carol = connect(server).register("carol")
    for client in (alice, bob):
        client.send("JOIN #lobby")
        client.expect(r" 366 ")
    alice.expect(r":bob!bob@127\.0\.0\.1 JOIN :?#lobby")

    alice.send("PRIVMSG #lobby :hello room")
    bob.expect(r"^:alice!alice@127\.0\.0\.1 PRIVMSG #lobby :hello room$")

    carol.send("PRIVMSG alice :psst, alice")
    alice.expect(r"^:carol!carol@127\.0\.0\.1 PRIVMSG alice :psst, alice$")

    bob.send("NICK robert")
    bob.expect(r"^:bob!bob@127\.0\.0\.1 NICK :robert$")
    alice.expect(r"^:bob!bob@127\.0\.0\.1 NICK :robert$")
    alice.send("PRIVMSG robert :nice name")
    bob.expect(r"PRIVMSG robert :nice name$")

    alice.send("QUIT :bye all")
    assert any("ERROR :Closing Link" in line for line in alice.expect_closed())
    bob.expect(r"^:alice!alice@127\.0\.0\.1 QUIT :Quit: bye all$")


def test_lf_alone_ends_a_line_and_split_packets_are_joined(server):
    alice = connect(server)
    alice.send_raw(b"NICK al")
    alice.send_raw(b"ice\nUSER alice 0 * :A\n")
    alice.expect(r" 001 alice ")


def test_person_with_nc_and_irc_client_talk_in_lobby(server):
    irc = connect(server).register("ircuser")
    irc.send("JOIN #lobby")
    irc.expect(r" 366 ")

    person = connect(server)
    person.expect_text("nickname? ")  # greeted after a moment of silence
    person.send("dave")
    person.expect(r"Welcome, dave!")
    person.expect(r"You joined #lobby")
    irc.expect(r"^:dave!\S+ JOIN :?#lobby$")

    person.send("hi from nc")
    irc.expect(r"^:dave!\S+ PRIVMSG #lobby :hi from nc$")
    irc.send("PRIVMSG #lobby :hello dave")
    person.expect(r"^ircuser says: hello dave$")
    irc.send("PRIVMSG dave :just you")
    person.expect(r"^ircuser \(private\) says: just you$")

    person.send("over")
    person.expect_closed()
    irc.expect(r"^:dave!\S+ QUIT ")
    assert not any(line.startswith(":") or " PRIVMSG " in line for line in person.seen)


def test_person_who_types_first_is_greeted_and_taken_nick_is_asked_again(server):
    holder = connect(server).register("taken")
    person = connect(server)
    person.send("taken")  # before the greeting: still a person, the line is the nickname
    person.expect_text("nickname? ")
    person.expect_text("taken is taken; pick another nickname: ")
    person.send("fresh")
    person.expect(r"Welcome, fresh!")
    person.send("/join #side")
    person.expect(r"You joined #side")
    person.send("/names")
    person.expect(r"People in #side: @fresh")
    person.send("/frob")
    person.expect(r"Unknown command /frob")
    person.send("/quit see ya")
    person.expect_closed()
    holder.send("WHOIS fresh")
    holder.expect(r" 401 taken fresh ")


def test_a_person_is_known_by_the_nickname_finally_taken_not_the_first_refused(server):
    holder = connect(server).register("alice")
    person = connect(server)
    person.expect_text("nickname? ")
    person.send("alice")
    person.expect_text("pick another")
    person.send("erin")
    person.expect(r"Welcome, erin!")
    holder.send("WHOIS erin")
    holder.expect(r" 311 alice erin erin 127\.0\.0\.1 \* :erin$")


def test_nicknames_typed_ahead_of_the_refusal_still_name_the_person_right(server):
    holder = connect(server).register("alice")
    person = connect(server)
    person.send("alice", "erin")  # both before the greeting and before the refusal
    person.expect(r"Welcome, erin!")
    holder.send("WHOIS erin")
    holder.expect(r" 311 alice erin erin 127\.0\.0\.1 \* :erin$")


def test_a_person_is_told_why_a_nickname_is_refused_before_and_after_the_welcome(server):
    holder = connect(server).register("alice")
    person = connect(server)
    person.expect_text("nickname? ")
    person.send("Server")
    person.expect_text("Server is reserved; pick another nickname: ")
    person.send("José")
    person.expect_text("José isn't allowed (letters, digits and -[]\\`_^{|}, up to 30 ")
    person.expect_text("pick another nickname: ")
    person.send("erin")
    person.expect(r"Welcome, erin!")
    person.send("/nick Server")
    person.expect(r"^You can't be Server: that nickname is reserved for the server's own use\.$")
    person.send("/nick José")
    person.expect(r"^You can't be José: that nickname isn't allowed \(letters, digits and ")
    person.send("/nick alice")
    person.expect(r"^You can't be alice: that nickname is taken\.$")
    holder.close()


def test_irc_clients_hear_that_a_reserved_nick_is_reserved(server):
    client = connect(server)
    client.send("NICK Server", "NICK 9lives")
    client.expect(r"^:\S+ 432 \* Server :Nickname is reserved")
    client.expect(r"^:\S+ 432 \* 9lives :Erroneous nickname$")


def test_the_default_motd_advises_irc_clients_and_people_get_only_their_own_welcome(server):
    irc = connect(server)
    irc.send("NICK ircuser", "USER ircuser 0 * :I R C")
    irc.expect(r" 375 ")
    motd = []
    while " 376 " not in (line := irc.readline()):
        motd.append(line)
    assert motd and "/help" not in " ".join(motd)  # a plain-text command, not an IRC one
    assert "/join #lobby" in " ".join(motd)  # IRC clients don't land there by themselves
    person = connect(server)
    person.send("dave")
    person.expect(r"Welcome, dave! Type a message and press Enter to talk; /help lists")
    assert person.readline() == "You joined #lobby."


def test_a_motd_the_operator_wrote_reaches_people_too():
    with running_server(motd="Be kind.\nNo spam.") as running:
        person = connect(running)
        person.send("dave")
        person.expect(r"Welcome, dave!")
        lines = [person.readline() for _ in range(3)]
        assert lines == ["Be kind.", "No spam.", "You joined #lobby."]


def test_irc_client_that_speaks_late_still_gets_irc(server):
    late = connect(server)
    late.expect_text("nickname? ")  # it was taken for a person at first
    late.register("latecomer")
    late.send("JOIN #x")
    late.expect(r"^:latecomer!\S+ JOIN :?#x$")


# ------------------------------------------------------------------ bad input


def test_overlong_line_gets_417_and_the_connection_is_kept(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    alice.send("PRIVMSG bob :" + "x" * 1000)
    alice.expect(r" 417 alice :Input line was too long")
    alice.send("PRIVMSG bob :still here")
    bob.expect(r"PRIVMSG bob :still here$")
    assert not any("xxxx" in line for line in bob.seen)


def test_a_line_that_never_ends_is_bounded(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    chunk = b"A" * 65536
    for _ in range(32):  # 2 MiB without a newline
        alice.send_raw(chunk)
    alice.expect(r" 417 ")
    alice.send_raw(b"\r\nPRIVMSG bob :after the flood\r\n")
    bob.expect(r"PRIVMSG bob :after the flood$")
    size = server.call(lambda: max(len(c.rest) for c in server.server.connections))
    assert size <= 512 + 8191


def test_garbage_invalid_utf8_and_nul_bytes(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    alice.send_raw(b"\x00\x01\x02\xff\xfe garbage\r\n")
    alice.expect(r" 421 ")
    alice.send_raw(b"PRIVMSG bob :caf\xe9\r\n")
    bob.expect(r"PRIVMSG bob :café$")
    alice.send_raw(b"PRIVMSG bob :nul\x00here\r\n")
    bob.expect(r"PRIVMSG bob :nulhere$")
    alice.send_raw(b"PRIVMSG bob :ok \xe2\x9c\x93\r\n")
    bob.expect(r"PRIVMSG bob :ok ✓$")


def test_no_parameter_can_smuggle_a_second_line(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    bob.send("JOIN #b")
    bob.expect(r" 366 ")
    # A bare CR ends a line, so the QUIT is alice's own second command, not text for bob.
    alice.send_raw(b"PRIVMSG bob :hi\rPRIVMSG bob :second\r\n")
    bob.expect(r"^:alice!\S+ PRIVMSG bob :hi$")
    bob.expect(r"^:alice!\S+ PRIVMSG bob :second$")
    alice.send_raw(b"@+x=a\\r\\nb PRIVMSG bob :tagged\r\n")
    bob.expect(r"^:alice!\S+ PRIVMSG bob :tagged$")
    bob.send("PING :sync")
    bob.expect(r"PONG \S+ :sync$")
    assert all(line.startswith(":") for line in bob.seen[-4:])


def test_missing_parameters_unknown_commands_and_unregistered(server):
    stranger = connect(server)
    stranger.send("JOIN #a")
    stranger.expect(r" 451 \* :You have not registered")
    alice = connect(server).register("alice")
    alice.send("PRIVMSG", "JOIN", "BLAH something")
    alice.expect(r" 411 ")
    alice.expect(r" 461 alice JOIN ")
    alice.expect(r" 421 alice BLAH :Unknown command")


def test_bad_input_from_one_client_disturbs_no_one_else(server):
    alice = connect(server).register("alice")
    bob = connect(server).register("bob")
    alice.send("JOIN #calm")
    bob.send("JOIN #calm")
    bob.expect(r" 366 ")
    garbage_first = connect(server)  # taken for a person; it gets plain text back
    garbage_first.send_raw(bytes(range(256)) * 8 + b"\r\n" + b"\xff" * 9000 + b"\n")
    vandal = connect(server).register("vandal")
    vandal.send_raw(bytes(range(256)) * 8 + b"\r\n" + b"\xff" * 9000 + b"\n")
    vandal.send_raw(b"JOIN #calm\r\nMODE #calm +\xff\r\nPRIVMSG #calm :\x01\x02\r\n")
    vandal.expect(r" JOIN :?#calm")
    alice.send("PRIVMSG #calm :all fine?")
    bob.expect(r"PRIVMSG #calm :all fine\?$")
    vandal.sock.shutdown(socket.SHUT_RDWR)
    vandal.close()
    bob.expect(r"^:vandal!\S+ QUIT ")
    garbage_first.close()
    bob.send("PRIVMSG #calm :yes")
    alice.expect(r"PRIVMSG #calm :yes$")


def test_shutdown_tells_every_client_why():
    with running_server() as running:
        alice = connect(running).register("alice")
        person = connect(running)
        person.expect_text("nickname? ")
        person.send("pat")
        person.expect(r"Welcome, pat!")
        running.stop("Maintenance, back soon")
        assert any(
            "ERROR :Closing Link" in line and "Maintenance" in line
            for line in alice.expect_closed()
        )
        assert any(
            "Disconnected" in line and "Maintenance" in line for line in person.expect_closed()
        )


def test_telnet_client_negotiation_does_not_reach_the_chat(server):
    irc = connect(server).register("watcher")
    irc.send("JOIN #lobby")
    irc.expect(r" 366 ")
    person = connect(server)
    person.send_raw(b"\xff\xfb\x1f\xff\xfb\x20\xff\xfd\x03tina\r\n")
    person.expect(r"Welcome, tina!")
    person.send_raw(b"\xff\xf1hello\r\n")
    irc.expect(r"^:tina!\S+ PRIVMSG #lobby :hello$")
