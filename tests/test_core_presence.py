"""MONITOR, CHGHOST, SETNAME and bot mode in the core alone: the details a socket test
would need many clients for."""

from tcpchat.passwords import hash_password

from core_harness import make_core, register

ROOT_HASH = hash_password("hunter2", n=16)


def test_long_monitor_replies_are_split_to_fit_the_line_limit() -> None:
    core = make_core(monitor_limit=200, nick_length=30)
    alice = register(core, "alice")
    nicks = [f"someone_with_a_long_nick_{i:03d}" for i in range(60)]
    for nick in nicks[:30]:
        register(core, nick)
    alice.send(*("MONITOR + " + ",".join(nicks[i : i + 10]) for i in range(0, 60, 10)))
    alice.take()
    alice.send("MONITOR S")
    replies = alice.take_raw()
    assert all(len(line.encode()) + 2 <= 512 for line in replies)
    online = [
        part for line in replies if " 730 " in line for part in line.split(" :")[1].split(",")
    ]
    offline = [
        part for line in replies if " 731 " in line for part in line.split(" :")[1].split(",")
    ]
    assert [source.split("!")[0] for source in online] == nicks[:30]
    assert offline == nicks[30:]
    assert sum(" 730 " in line for line in replies) > 1
    alice.send("MONITOR L")
    listed = alice.take_raw()
    assert all(len(line.encode()) + 2 <= 512 for line in listed)
    assert [n for line in listed[:-1] for n in line.split(" :")[1].split(",")] == nicks
    assert listed[-1].endswith(" 733 alice :End of MONITOR list")


def test_monitor_news_is_server_timed_for_those_who_asked() -> None:
    core = make_core()
    alice = register(core, "alice", "server-time")
    alice.send("MONITOR + bob")
    alice.take()
    register(core, "bob")
    (line,) = alice.take_raw()
    assert line.startswith("@time=") and line.endswith(" 730 alice :bob!bob@127.0.0.1")


def test_a_case_change_of_a_monitored_nick_is_no_news() -> None:
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob")
    alice.send("MONITOR + bob")
    assert alice.take_raw() == [":tcpchat 730 alice :bob!bob@127.0.0.1"]
    bob.send("NICK BOB")
    assert alice.take_raw() == []
    bob.send("NICK robert")
    assert alice.take_raw() == [":tcpchat 731 alice :BOB"]


def test_chghost_fallback_quits_once_and_rejoins_each_shared_room() -> None:
    core = make_core(operators={"root": ROOT_HASH})
    bob = register(core, "bob")
    carol = register(core, "carol")
    root = register(core, "root")
    for peer in (bob, carol):
        peer.send("JOIN #a,#b")
    bob.send("AWAY :out")
    carol.send("CAP REQ away-notify")
    root.send("OPER root hunter2")
    for peer in (bob, carol, root):
        peer.take()
    root.send("CHGHOST bob new.host")
    assert carol.take_raw() == [
        ":bob!bob@127.0.0.1 QUIT :Changing hostname",
        ":bob!bob@new.host JOIN #a",
        ":tcpchat MODE #a +o bob",
        ":bob!bob@new.host AWAY :out",
        ":bob!bob@new.host JOIN #b",
        ":tcpchat MODE #b +o bob",
        ":bob!bob@new.host AWAY :out",
    ]
    assert bob.take_raw() == []  # no chghost: it hears nothing of its own simulated return
    assert bob.user.source == "bob!bob@new.host"


def test_the_bot_tag_goes_only_with_messages_of_bots_to_message_tags_clients() -> None:
    core = make_core()
    robot = register(core, "robot")
    alice = register(core, "alice", "message-tags", "echo-message")
    robot.send("MODE robot +B")
    robot.take()
    alice.send("PRIVMSG robot :are you a bot?")
    (echo,) = alice.take_raw()
    assert "bot" not in echo.split(" ")[0][1:].split(";")
    robot.send("PRIVMSG alice :yes", "@+typing=active TAGMSG alice")
    said, typing = alice.take()
    assert said.tags.get("bot") == "" and typing.tags.get("bot") == ""
    assert typing.tags["+typing"] == "active"
    assert said.source == "robot!robot@127.0.0.1"
