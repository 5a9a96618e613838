"""The core's message framing without sockets: labels on encoded lines, labeled commands that
finish later, CAP NEW/DEL, standard replies and multiline messages as one event."""

from tcpchat.core.labels import add_tag, has_tag, is_one_batch, labeled_response
from tcpchat.core.reconfigure import cap_del, cap_new
from tcpchat.passwords import hash_password
from tcpchat.protocol import parse

from core_harness import make_core, register

LABELED = ("batch", "labeled-response", "message-tags", "echo-message")


def refs() -> object:
    counter = iter(range(1, 100))
    return lambda: f"r{next(counter)}"


# ------------------------------------------------------------- labels.py


def test_no_reply_is_an_ack_and_one_reply_takes_the_label():
    assert labeled_response(b"", "a b;c", "srv", refs()) == b"@label=a\\sb\\:c :srv ACK\r\n"
    assert labeled_response(b":srv PONG srv :x\r\n", "L", "srv", refs()) == (
        b"@label=L :srv PONG srv :x\r\n"
    )
    tagged = b"@time=2024-01-01T00:00:00.000Z :a!b@c PRIVMSG #r :hi\r\n"
    assert labeled_response(tagged, "L", "srv", refs()).startswith(b"@label=L;time=")


def test_several_replies_are_wrapped_in_a_labeled_response_batch():
    data = b":srv 311 a b c d * :e\r\n:srv 318 a b :End\r\n"
    out = labeled_response(data, "L", "srv", refs()).decode().split("\r\n")
    assert out == [
        "@label=L :srv BATCH +r1 labeled-response",
        "@batch=r1 :srv 311 a b c d * :e",
        "@batch=r1 :srv 318 a b :End",
        ":srv BATCH -r1",
        "",
    ]


def test_a_reply_that_is_one_batch_takes_the_label_on_its_opening_line():
    data = (
        b"@msgid=1 :a BATCH +m1 draft/multiline #r\r\n"
        b"@batch=m1 :a PRIVMSG #r :x\r\n:a BATCH -m1\r\n"
    )
    lines = [line for line in data.split(b"\r\n") if line]
    assert is_one_batch(lines)
    out = labeled_response(data, "L", "srv", refs()).split(b"\r\n")
    assert out[0] == b"@label=L;msgid=1 :a BATCH +m1 draft/multiline #r"
    assert out[1:] == lines[1:] + [b""]


def test_a_batch_among_other_replies_is_nested_in_the_labeled_response_batch():
    data = (
        b":a BATCH +m1 draft/multiline #r\r\n@batch=m1 :a PRIVMSG #r :x\r\n:a BATCH -m1\r\n"
        b":srv 301 a b :away\r\n"
    )
    out = labeled_response(data, "L", "srv", refs()).decode().split("\r\n")
    assert out[1] == "@batch=r1 :a BATCH +m1 draft/multiline #r"
    assert out[2] == "@batch=m1 :a PRIVMSG #r :x"  # its own batch, kept
    assert out[3] == "@batch=r1 :a BATCH -m1"
    assert out[4] == "@batch=r1 :srv 301 a b :away"


def test_tag_helpers():
    assert add_tag(b":a B", b"x=1") == b"@x=1 :a B"
    assert add_tag(b"@y :a B", b"x=1") == b"@x=1;y :a B"
    assert has_tag(b"@a;batch=3 :x Y", b"batch") and not has_tag(b"@batchy=3 :x Y", b"batch")
    assert not has_tag(b":x Y batch=3", b"batch")


# ------------------------------------------------------- labeled commands


def test_a_labeled_command_that_finishes_later_answers_then_and_its_next_lines_wait():
    core = make_core(operators={"root": hash_password("pw", n=16)})
    waiting: list = []
    core.run_blocking = lambda work, done: waiting.append((work, done))
    alice = register(core, "alice", *LABELED)
    alice.send("@label=o1 OPER root pw", "@label=p1 PING :x")
    assert alice.take_raw() == []  # nothing yet: no ACK, no PONG
    work, done = waiting.pop()
    done(work())
    lines = alice.take_raw()
    assert lines[0].startswith("@label=o1 ") and " BATCH " in lines[0]
    assert " 381 " in lines[1]
    assert lines[-1].startswith("@label=p1 ") and " PONG " in lines[-1]


def test_a_handler_that_fails_still_answers_the_label():
    core = make_core()
    alice = register(core, "alice", *LABELED)

    def broken(core, session, msg):
        raise RuntimeError("boom")

    core.commands = {**core.commands, "BREAK": type(core.commands["PING"])(broken)}
    alice.send("@label=b1 BREAK")
    (line,) = alice.take_raw()
    assert line.startswith("@label=b1 ") and " 400 " in line


# --------------------------------------------------------- CAP NEW and DEL


def test_cap_del_tells_the_listeners_and_takes_the_capability_away():
    core = make_core()
    modern = register(core, "modern", "server-time")  # CAP LS 302: cap-notify implied
    assert modern.session.tag_mask
    cap_del(core, "server-time")
    msg = modern.take()[0]
    assert msg.params == ["modern", "DEL", "server-time"]
    assert "server-time" not in modern.session.caps and not modern.session.tag_mask
    modern.send("CAP LS 302")
    assert "server-time" not in modern.take()[0].params[-1].split()
    cap_new(core, "server-time")
    assert modern.take()[0].params == ["modern", "NEW", "server-time"]


# ------------------------------------------------------- standard replies


def test_fail_warn_and_note_have_the_standard_shape():
    core = make_core(server_name="irc.test")
    alice = register(core, "alice")
    core.fail(alice.session, "BOX", "BOXES_INVALID", "STACK", "Given boxes are not supported")
    core.warn(alice.session, "REHASH", "CERTS_EXPIRED", "Certificate has expired")
    core.note(alice.session, "*", "OPER_MESSAGE", "Hello")
    assert alice.take_raw() == [
        ":irc.test FAIL BOX BOXES_INVALID STACK :Given boxes are not supported",
        ":irc.test WARN REHASH CERTS_EXPIRED :Certificate has expired",
        ":irc.test NOTE * OPER_MESSAGE :Hello",
    ]


# -------------------------------------------------------------- multiline


def test_a_multiline_message_is_one_message_with_one_msgid():
    core = make_core()
    alice = register(core, "alice", "batch", "draft/multiline", "message-tags")
    bob = register(core, "bob", "message-tags")
    before = core.messages_relayed
    alice.send(
        "BATCH +a draft/multiline bob",
        "@batch=a NOTICE bob :one",
        "@batch=a;draft/multiline-concat NOTICE bob :+more",
        "@batch=a NOTICE bob :two",
        "BATCH -a",
    )
    assert core.messages_relayed == before + 1
    got = bob.take()
    assert [m.command for m in got] == ["NOTICE"] * 3
    assert "msgid" in got[0].tags and all("msgid" not in m.tags for m in got[1:])
    assert alice.take() == []  # no echo asked for, no reply


def test_the_events_text_is_the_whole_message():
    from tcpchat.core.events import MultilineSent

    event = MultilineSent(0.0, "o", 1, "PRIVMSG", "u", "s", "#r", "#r", None,
                          (("hello", False), ("", False), ("how is ", False),
                           ("everyone?", True)), None, False)  # fmt: skip
    assert event.text == "hello\n\nhow is everyone?"
    assert event.msgid == "o1"


def test_a_line_of_a_batch_that_is_not_open_is_refused_not_delivered():
    core = make_core()
    alice = register(core, "alice", "batch", "draft/multiline")
    bob = register(core, "bob")
    alice.send("@batch=zz PRIVMSG bob :stray")
    assert [m.command for m in alice.take()] == ["FAIL"]
    assert bob.take() == []
    alice.send("BATCH +a draft/multiline bob", "BATCH +b draft/multiline bob")
    assert parse(alice.take_raw()[0]).params[:2] == ["BATCH", "MULTILINE_INVALID"]


def test_a_person_reads_standard_replies_as_sentences():
    from tcpchat.plaintext import PlainSession

    session = PlainSession()
    session.from_server(b":tcpchat FAIL BATCH MULTILINE_INVALID :Invalid multiline batch\r\n")
    session.from_server(b":tcpchat NOTE * OPER_MESSAGE :Maintenance at noon\r\n")
    text = session.take_text().decode()
    assert "Invalid multiline batch" in text and "Maintenance at noon" in text
    assert "NOTE" not in text and "OPER_MESSAGE" not in text
