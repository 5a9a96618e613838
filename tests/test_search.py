"""SEARCH (draft/search, backed by SQLite FTS5) over real sockets: what is found, and above
all what is not (a +s channel one has left, a channel one is not in, someone else's private
conversation), words full of FTS5 syntax, bad attributes, the rate limit, and a plain-text
person's /search and /forget."""

from __future__ import annotations

import re
import time

from net_harness import LineClient, RunningServer, running_server
from sasl_harness import add_account, negotiating, plain_login

CAPS = ("batch", "server-time", "message-tags")


def user(server: RunningServer, nick: str, *rooms: str, caps: tuple[str, ...] = CAPS) -> LineClient:
    return LineClient(server.port).register(nick, caps).join(*rooms)


def batch(client: LineClient, query: str) -> list[str]:
    """SEARCH, and the lines of the `search` batch that answers it (without its tags)."""
    client.send(f"SEARCH {query}")
    ref = client.expect(r"^:tcpchat BATCH \+(\S+) search$").group(1)
    lines = []
    while True:
        line = client.readline()
        if line == f":tcpchat BATCH -{ref}":
            return lines
        tags, _, rest = line.partition(" ")
        assert f"{tags};".startswith(f"@batch={ref};"), line
        lines.append(rest)


def texts(client: LineClient, query: str) -> list[str]:
    return [line.split(" :", 1)[1] for line in batch(client, query)]


def test_search_finds_only_the_channels_one_is_in_and_one_s_own_conversations():
    with running_server() as server:
        alice = user(server, "alice", "#open", "#secret")
        bob = user(server, "bob", "#open")
        carol = user(server, "carol", caps=())
        alice.send("MODE #secret +s", "PRIVMSG #secret :zebra in secret", "PART #secret")
        alice.expect(r"PART :?#secret")
        bob.send("PRIVMSG #open :zebra in the open")
        alice.expect(r"PRIVMSG #open :zebra in the open")
        bob.send("PRIVMSG carol :zebra between bob and carol")
        carol.expect(r"PRIVMSG carol :zebra between")
        alice.send("PRIVMSG bob :zebra from alice")
        delivered = bob.expect(r"^(@\S+) (:alice!\S+ PRIVMSG bob :zebra from alice)$")

        assert texts(alice, "text=zebra") == ["zebra in the open", "zebra from alice"]
        assert texts(alice, "text=zebra;in=bob") == ["zebra from alice"]
        assert texts(bob, "text=zebra;in=alice") == ["zebra from alice"]
        assert texts(bob, "text=zebra") == [
            "zebra in the open", "zebra between bob and carol", "zebra from alice",
        ]  # fmt: skip
        assert texts(alice, "text=zebra;in=carol") == []
        # Sent again as first delivered: the same msgid, the same time, the same line.
        bob.send("SEARCH text=zebra;in=alice")
        bob.expect(r"BATCH \+")
        tags, line = delivered.group(1), delivered.group(2)
        again = bob.readline()
        assert again.endswith(" " + line)
        wanted = {t for t in tags[1:].split(";")}
        assert wanted <= {t for t in again.partition(" ")[0][1:].split(";")}

        for where in ("#secret", "#open", "#nowhere"):
            reader = alice if where != "#open" else carol
            reader.send(f"SEARCH text=zebra;in={where}")
            reader.expect(
                r"FAIL SEARCH INVALID_PARAMS in :You can search only the channels you are in "
                "and your own conversations$"
            )
        for each in (alice, bob, carol):
            each.close()


def logged_in(server: RunningServer, nick: str, account: str) -> LineClient:
    client = negotiating(server.port, nick, "sasl batch")
    plain_login(client, account, "correct horse")
    client.expect(r" 903 ")
    client.send("CAP END")
    client.expect(r" 001 ")
    return client


def test_a_conversation_kept_by_nick_is_not_found_by_the_next_one_to_take_the_nick(tmp_path):
    add_account(tmp_path, "alice", "correct horse")
    add_account(tmp_path, "bob", "correct horse")
    with running_server(data_dir=str(tmp_path)) as server:
        bob = logged_in(server, "bob", "bob")
        carol = user(server, "carol")
        alice = logged_in(server, "alice", "alice")
        carol.send("PRIVMSG bob :giraffe from carol")  # carol has no account: kept by nick
        bob.expect(r"PRIVMSG bob :giraffe from carol")
        alice.send("PRIVMSG bob :giraffe from alice")  # both logged in: kept by account
        bob.expect(r"PRIVMSG bob :giraffe from alice")
        carol.close()
        alice.close()
        bob.send("PING sync")
        bob.expect(r"PONG")
        impostor = user(server, "carol")  # not the carol who spoke
        assert texts(impostor, "text=giraffe") == []
        again = logged_in(server, "alice2", "alice")  # alice again, under another nick
        assert texts(again, "text=giraffe") == ["giraffe from alice"]
        # bob, connected all along, has both; by nick from when his connection began.
        assert texts(bob, "text=giraffe") == ["giraffe from carol", "giraffe from alice"]
        for each in (bob, impostor, again):
            each.close()


def test_words_full_of_fts_syntax_are_only_words():
    with running_server() as server:
        bob = user(server, "bob", "#room")
        bob.send('PRIVMSG #room :a "quoted" NEAR(x) OR y* -z ^start col:val {a b} AND')
        bob.send("PRIVMSG #room :nothing alike")
        line = 'a "quoted" NEAR(x) OR y* -z ^start col:val {a b} AND'
        assert texts(bob, 'text="quoted"') == [line]
        assert texts(bob, "text=NEAR( OR * col: {a") == [line]
        assert texts(bob, "text=^start\\sAND\\s-z") == [line]
        assert texts(bob, 'text=" ) ( : * ^"') == []  # no word at all: nothing matches
        assert texts(bob, "text=quoted nothing") == []  # every word must be there
        bob.close()


def test_bad_attributes_are_refused_with_the_spec_s_fail():
    with running_server() as server:
        bob = user(server, "bob", "#room")
        for query, context in (
            ("text=", "text"),
            ("text=" + "word " * 17, "text"),
            ("text=" + "x" * 301, "text"),
            ("limit=0", "limit"),
            ("limit=-3", "limit"),
            ("limit=many", "limit"),
            ("after=yesterday", "after"),
            ("before=2024-01-01T00:00:00", "before"),  # no time zone
            ("colour=red", "colour"),
        ):
            bob.send(f"SEARCH {query}")
            bob.expect(rf"^:tcpchat FAIL SEARCH INVALID_PARAMS {context} :")
        bob.close()


def test_limit_after_and_before_choose_which_lines_come():
    with running_server() as server:
        bob = user(server, "bob", "#room")
        for i in range(1, 6):
            bob.send(f"PRIVMSG #room :step number{i}")
        assert texts(bob, "text=step;limit=2") == ["step number4", "step number5"]
        times = [
            re.search(r"time=([^;]+)", line).group(1)  # type: ignore[union-attr]
            for line in _raw(bob, "text=step")
        ]
        # From a time on (at or after it, to the millisecond), the oldest first.
        first = min(i for i, when in enumerate(times) if when >= times[2])
        assert texts(bob, f"text=step;after={times[2]};limit=2") == [
            f"step number{first + 1}",
            f"step number{first + 2}",
        ]
        last = max(i for i, when in enumerate(times) if when <= times[1])
        assert texts(bob, f"text=step;before={times[1]}") == [
            f"step number{i + 1}" for i in range(last + 1)
        ]
        bob = user(server, "bob2", "#room")  # five searches at most in ten seconds
        assert texts(bob, "from=nobody") == []
        assert texts(bob, "from=BOB;limit=1;text=step") == ["step number5"]
        bob.close()


def _raw(client: LineClient, query: str) -> list[str]:
    client.send(f"SEARCH {query}")
    ref = client.expect(r"BATCH \+(\S+) search$").group(1)
    lines = []
    while (line := client.readline()) != f":tcpchat BATCH -{ref}":
        lines.append(line)
    return lines


def test_a_flood_of_searches_is_refused_and_the_capability_is_offered():
    with running_server() as server:
        bob = LineClient(server.port)
        bob.send("CAP LS 302")
        assert " draft/search " in " " + bob.expect(r"CAP \* LS :(.*)$").group(1) + " "
        bob.send("CAP END")
        bob.register("bob")
        for _ in range(5):
            bob.send("SEARCH text=anything")
            bob.expect(r"NOTICE bob :No messages found\.$")
        bob.send("SEARCH text=anything")
        bob.expect(r"FAIL SEARCH RATE_LIMITED :Too many searches")
        bob.send("PING still-here")
        bob.expect(r"PONG \S+ :?still-here")
        bob.close()


def person(server: RunningServer, nick: str) -> LineClient:
    """Someone on nc: greeted, named, in #lobby."""
    client = LineClient(server.port)
    client.expect_text("nickname? ")
    client.send(nick)
    client.expect(r"^You joined #lobby\.$")
    return client


def test_a_plain_text_person_searches_and_forgets():
    with running_server() as server:
        dave = person(server, "dave")
        erin = person(server, "erin")
        dave.send("the release is on friday")
        erin.expect(r"dave says: the release is on friday")
        erin.send("/msg dave which release?")
        dave.expect(r"erin \(private\) says: which release\?")
        dave.send("/search release")
        dave.expect(r"^Found 2 messages:$")  # a person has batch: the times are local
        now = {time.strftime("%H:%M", time.localtime(time.time() + d)) for d in (-60, 0, 60)}
        first = dave.expect(r"^\[(\d\d:\d\d)\] #lobby dave says: the release is on friday$")
        assert first.group(1) in now
        dave.expect(r"^\[\d\d:\d\d\] erin says to dave: which release\?$")
        dave.send("/search #lobby RELEASE")
        dave.expect(r"^Found 1 message:$")
        dave.send("/search")
        dave.expect(r"^Usage: /search \[#room\] words$")
        dave.send("/forget")
        dave.expect(r"Type /forget yes to do it\.$")
        dave.send("/forget yes")
        dave.expect(r"^1 of your messages was forgotten \(without an account")
        erin.send("/search release")
        erin.expect(r"^Found 1 message:$")
        erin.expect(r"^\[\d\d:\d\d\] erin says to dave: which release\?$")
        dave.close()
        erin.close()
