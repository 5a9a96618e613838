"""People on different nodes of one cluster chat as on one server: rooms, private messages,
who is where (NAMES, WHOIS, ISON, MONITOR), one order of messages on every node, a dead
node's users leaving, a Redis restart, and a client of each kind on its own node.
Every node is a real server process and Redis a real redis-server.
"""

from __future__ import annotations

import base64
import random
import re
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

from cluster_harness import NODE_TIMEOUT, Node, joined, wait_until
from tcpchat.cluster.policy import heartbeat_interval, reap_age
from tcpchat.cluster.status import read_status
from tcpchat.passwords import hash_password

from net_harness import LineClient
from redis_harness import RedisServer

pytestmark = pytest.mark.timeout(180)

TAGS = ("message-tags", "server-time")


def in_room(node: Node, nick: str, room: str = "#room", caps: tuple[str, ...] = ()) -> LineClient:
    return LineClient(node.port).register(nick, caps).join(room)


def alice_and_bob(cluster) -> tuple[Node, Node, LineClient, LineClient]:
    """Two nodes, alice in #room on the first and bob on the second, each seen by the other."""
    a, b = cluster(), cluster()
    alice = in_room(a, "alice")
    bob = in_room(b, "bob")
    alice.expect(r"^:bob!\S+ JOIN #room$")
    return a, b, alice, bob


def test_people_on_two_nodes_share_a_room_and_talk_privately(cluster):
    a, b = cluster(), cluster()
    alice = in_room(a, "alice")
    alice.send("TOPIC #room :the shared topic")
    alice.expect(r" TOPIC #room :the shared topic$")
    bob = LineClient(b.port).register("bob")

    def topic_known() -> bool:  # node b hears of it a moment after node a answered alice
        bob.send("TOPIC #room")
        return bob.expect(r" (332|331|403|442) bob #room ")[1] == "332"

    wait_until(topic_known, "the room and its topic known on node b")
    bob.send("JOIN #room")
    bob.expect(r"^:bob!\S+ JOIN #room$")
    bob.expect(r" 332 bob #room :the shared topic$")
    bob.expect(r" 353 bob = #room :(@alice bob|bob @alice)$")
    alice.expect(r"^:bob!bob@\S+ JOIN #room$")

    alice.send("PRIVMSG #room :hello from node a")
    bob.expect(r"^:alice!alice@\S+ PRIVMSG #room :hello from node a$")
    bob.send("PRIVMSG alice :just between us")
    alice.expect(r"^:bob!bob@\S+ PRIVMSG alice :just between us$")

    bob.send("LUSERS")
    bob.expect(r" 251 bob :There are 2 users and 0 invisible on 2 servers$")
    bob.expect(r" 255 bob :I have 1 clients and 1 servers$")
    bob.expect(r" 265 bob 1 \d+ :Current local users 1, max \d+$")
    bob.expect(r" 266 bob 2 2 :Current global users 2, max 2$")
    bob.send("WHOIS alice", "ISON alice nobody bob")
    bob.expect(r" 311 bob alice alice \S+ \* :alice$")
    bob.expect(r" 319 bob alice :@#room$")
    bob.expect(r" 318 bob alice ")
    bob.expect(r" 303 bob :alice bob$")
    alice.send("MODE #room +v bob")
    bob.expect(r"^:alice!\S+ MODE #room \+v bob$")
    bob.send("NAMES #room")
    bob.expect(r" 353 bob = #room :(@alice \+bob|\+bob @alice)$")

    bob.send("MONITOR + carol")
    bob.expect(r" 731 bob :carol$")
    carol = LineClient(a.port).register("carol")  # on the other node
    bob.expect(r" 730 bob :carol!carol@\S+$")
    carol.send("QUIT :gone")
    bob.expect(r" 731 bob :carol$")

    alice.send("PART #room :see you")
    bob.expect(r"^:alice!\S+ PART #room :see you$")
    bob.send("MONITOR + alicia")
    bob.expect(r" 731 bob :alicia$")
    alice.send("NICK alicia")
    alice.expect(r"^:alice!\S+ NICK :?alicia$")
    bob.expect(r" 730 bob :alicia!alice@\S+$")  # the rename reached node b
    bob.send("WHOIS alicia")
    bob.expect(r" 311 bob alicia alice ")
    bob.send("PRIVMSG alicia :found you")
    alice.expect(r"^:bob!\S+ PRIVMSG alicia :found you$")


def test_a_node_that_joins_later_knows_everyone_already_there(cluster):
    a = cluster()
    alice = in_room(a, "alice")
    alice.send("MODE #room +k secret")
    alice.expect(r" MODE #room \+k secret$")
    b = cluster()
    bob = LineClient(b.port).register("bob")
    bob.send("JOIN #room")
    bob.expect(r" 475 bob #room ")  # the key set before node b existed holds there too
    bob.send("JOIN #room secret")
    bob.expect(r" 353 bob = #room :(@alice bob|bob @alice)$")
    bob.send("NICK alice")
    bob.expect(r" 433 bob alice ")


def test_every_node_sees_one_order_with_one_msgid_and_time_per_message(cluster):
    """Three nodes, a sender on each sending bursts of random length at once: an observer
    on each node sees the same messages in the same order, each with the same msgid and
    time everywhere."""
    nodes = [cluster(), cluster(), cluster()]
    observers = [in_room(node, f"watch{i}", caps=TAGS) for i, node in enumerate(nodes)]
    senders = [in_room(node, f"talk{i}") for i, node in enumerate(nodes)]
    rng = random.Random(15)
    total = 0
    for round_ in range(3):
        bursts = [rng.randint(1, 40) for _ in senders]
        for i, (sender, count) in enumerate(zip(senders, bursts, strict=True)):
            sender.send(*[f"PRIVMSG #room :r{round_} s{i} m{k}" for k in range(count)])
        total += sum(bursts)
    pattern = r"^@(\S+) :talk\d!\S+ PRIVMSG #room :(r\d s\d m\d+)$"
    seen = []
    for observer in observers:
        lines = [observer.expect(pattern) for _ in range(total)]
        seen.append([(dict(t.split("=", 1) for t in m.group(1).split(";")), m.group(2))
                     for m in lines])  # fmt: skip
    first = [(tags["msgid"], tags["time"], text) for tags, text in seen[0]]
    assert len({msgid for msgid, _, _ in first}) == total
    for other in seen[1:]:
        assert [(tags["msgid"], tags["time"], text) for tags, text in other] == first
    # And each sender's own messages keep the order they were sent in.
    for i in range(len(senders)):
        mine = [text for _, _, text in first if f" s{i} " in text]
        assert mine == sorted(mine, key=lambda t: (t.split()[0], int(t.split()[2][1:])))


def test_a_killed_nodes_users_leave_everyone_once_with_a_split_reason(cluster):
    a, b, alice, bob = alice_and_bob(cluster)
    b.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    alice.expect(r"^:bob!bob@\S+ QUIT :\*\.net \*\.split$", timeout=NODE_TIMEOUT * 2 + 10)
    assert time.monotonic() - killed < NODE_TIMEOUT * 1.25 + 5.0
    alice.send("NAMES #room", "PING :after")
    alice.expect(r" 353 alice = #room :@alice$")
    alice.expect(r"PONG \S+ :?after")
    assert sum(" QUIT " in line for line in alice.seen) == 1
    carol = LineClient(a.port)
    carol.send("NICK bob", "USER carol 0 * :carol")
    carol.expect(r" 001 bob ")  # the dead node's nick is free again
    bob.close()


def heartbeats(url: str) -> tuple[int, dict[int, int | None]]:
    """Redis's time, and each node's last heartbeat by that clock, by the node's pid (ms)."""
    now, nodes = read_status(url)
    return now, {node.pid: node.heartbeat_ms for node in nodes}


def beat_after(url: str, node: Node, after: int) -> int | None:
    """The node's last heartbeat if it is later than `after` (ms, Redis's clock)."""
    beat = heartbeats(url)[1].get(node.pid)
    return beat if beat is not None and beat > after else None


def test_a_node_that_has_just_joined_leaves_a_dead_node_to_those_who_know_its_users(
    cluster, redis_url, tmp_path: Path
):
    """Node c joins while node b is dead and node a, the only one that can tell c the
    network's users, is stalled. c must not reap b before it knows them: reaping it there
    (fixed in a7e0d89), c removed b for good with none of its users told to quit (c knew
    none), and a, awake again, found nothing left to reap: bob stayed in #room on a and
    c for ever. Each step waits for a heartbeat, as Redis shows it."""
    # Beats of 1 s: a is paused with half a beat to spare, and c (about 2 s to start on a
    # loaded machine) joins before a's heartbeat is dead_after old.
    timeout = 4.0
    config = tmp_path / "slower.toml"
    config.write_text(f"cluster_node_timeout = {timeout}\n")
    beat, dead_after = (round(f(timeout) * 1000) for f in (heartbeat_interval, reap_age))
    a, b = cluster("--config", str(config)), cluster("--config", str(config))
    alice = in_room(a, "alice")
    bob = in_room(b, "bob")  # held open: bob is on node b until it dies
    alice.expect(r"^:bob!\S+ JOIN #room$")

    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    b_beat = heartbeats(redis_url)[1][b.pid]
    # a would reap b at its first tick once b's heartbeat is dead_after (three beats) old.
    # Pause it half a beat after one of its beats a beat or more after b's last: asleep
    # (not between a beat and its reap), before the tick that would reap b, and dead only
    # after b (c, reaping as it joins, would find b alone dead).
    a_beat = wait_until(lambda: beat_after(redis_url, a, b_beat + beat), "a beat of node a")
    wait_until(lambda: heartbeats(redis_url)[0] >= a_beat + beat // 2, "half a beat more")
    a.proc.send_signal(signal.SIGSTOP)
    assert b.pid in heartbeats(redis_url)[1], "node a reaped node b before it was paused"

    c = cluster("--config", str(config), wait=False)  # its hello names a, which can't answer

    def c_beat_once_b_is_dead() -> int | None:  # in c's first tick that may reap b
        return beat_after(redis_url, c, b_beat + dead_after)

    c_beat = wait_until(c_beat_once_b_is_dead, "node c beating once node b is dead")

    def c_had_its_chance() -> bool:  # it reaped b, or began its next tick having left b
        return b.pid not in heartbeats(redis_url)[1] or bool(beat_after(redis_url, c, c_beat))

    wait_until(c_had_its_chance, "node c's chance to reap node b")
    a.proc.send_signal(signal.SIGCONT)  # well before c reaps anyway, a timeout after joining

    alice.expect(r"^:bob!bob@\S+ QUIT :\*\.net \*\.split$")
    alice.send("NAMES #room", "PING :after")
    alice.expect(r" 353 alice = #room :@alice$")
    alice.expect(r"PONG \S+ :?after")
    assert sum(" QUIT " in line for line in alice.seen) == 1
    c.wait_ready()  # a answered its hello
    carol = in_room(c, "carol")
    alice.send("PRIVMSG #room :after the split")  # on the bus after bob's QUIT
    carol.expect(r"^:alice!\S+ PRIVMSG #room :after the split$")
    carol.send("NAMES #room")
    carol.expect(r" 353 carol = #room :(@alice carol|carol @alice)$")
    bob.close()


def slower_config(tmp_path: Path) -> str:
    """A config whose node timeout outlasts the pauses below (a node paused for well under
    its reaping age)."""
    config = tmp_path / "slower.toml"
    config.write_text("cluster_node_timeout = 4\n")
    return str(config)


def carol_registering(port: int, redis_server) -> LineClient:
    """carol, having sent NICK, USER and JOIN #room to `port`: once Redis has her nick (her
    node has her NICK; USER and JOIN come next)."""
    carol = LineClient(port)
    carol.send("NICK carol", "USER carol 0 * :carol", "JOIN #room")
    with redis_server.client() as store:
        wait_until(lambda: store.hget("tcpchat:nicks", "carol"), "carol's nick claimed")
    return carol


def expect_welcomed_to_alices_room(carol: LineClient, alice: LineClient) -> None:
    carol.expect(r" 001 carol ")
    carol.expect(r" 353 carol = #room :(@alice carol|carol @alice)$")
    alice.expect(r"^:carol!\S+ JOIN #room$")


def test_a_fenced_node_welcomes_no_one_until_it_knows_the_network_again(
    cluster, tmp_path, redis_server
):
    """Node b was fenced and rejoins; node a, which would send it the network, is paused.
    Someone connecting to b meanwhile is welcomed only once a has answered: joining #room
    then finds alice its operator, not a new room of their own."""
    config = slower_config(tmp_path)
    a, b = cluster("--config", config), cluster("--config", config)
    alice = in_room(a, "alice")
    bob = in_room(b, "bob")
    alice.expect(r"^:bob!\S+ JOIN #room$")
    b.proc.send_signal(signal.SIGSTOP)
    alice.expect(r"^:bob!\S+ QUIT :\*\.net \*\.split$", timeout=30)
    a.proc.send_signal(signal.SIGSTOP)
    try:
        b.proc.send_signal(signal.SIGCONT)
        bob.expect(r"^ERROR :Closing Link: \S+ \(This server was cut off from the network")
        b.wait_printed(r"^Cluster: node \d+ \(epoch \d+\) was fenced")
        wait_until(lambda: len([m for m in map(re.compile(r"^Cluster: node").match, b.out)
                                if m]) >= 2, "node b rejoined")  # fmt: skip
        carol = carol_registering(b.port, redis_server)
    finally:
        a.proc.send_signal(signal.SIGCONT)
    expect_welcomed_to_alices_room(carol, alice)


def test_a_starting_node_welcomes_no_one_until_it_knows_the_network(
    cluster, tmp_path, redis_server
):
    """A node listens before the node that will tell it the network has answered its
    hello (node a, paused here). Someone connecting then (a client reconnecting to a
    restarted node) is welcomed once a has answered: #room then has alice as operator."""
    config = slower_config(tmp_path)
    a = cluster("--config", config)
    alice = in_room(a, "alice")
    a.proc.send_signal(signal.SIGSTOP)
    try:
        b = cluster("--config", config, wait=False)
        port = int(b.wait_printed(r"^Listening on \S+:(\d+)$").group(1))
        b.wait_printed(r"^Cluster: node \d+")  # joined; its hello waits for a's answer
        carol = carol_registering(port, redis_server)
    finally:
        a.proc.send_signal(signal.SIGCONT)
    expect_welcomed_to_alices_room(carol, alice)
    b.wait_printed(r"^Server is waiting for connections")


def test_a_fenced_node_learns_the_network_again_when_it_rejoins(cluster, redis_url):
    a, b, alice, bob = alice_and_bob(cluster)
    b.proc.send_signal(signal.SIGSTOP)
    alice.expect(r"^:bob!\S+ QUIT :\*\.net \*\.split$", timeout=NODE_TIMEOUT * 2 + 10)
    b.proc.send_signal(signal.SIGCONT)
    bob.expect(r"^ERROR :Closing Link: \S+ \(This server was cut off from the network")
    b.wait_printed(r"^Cluster: node \d+ \(epoch \d+\) was fenced")
    wait_until(lambda: len([m for m in map(re.compile(r"^Cluster: node").match, b.out) if m]) >= 2,
               "node b rejoined")  # fmt: skip
    again = LineClient(b.port).register("bob2")
    # Node b takes the network in from a snapshot after it has rejoined: wait for it.
    wait_until(lambda: whois_user(again, "bob2", "alice") == "alice", "node b knowing alice")
    again.send("JOIN #room")
    again.expect(r" 353 bob2 = #room :(@alice bob2|bob2 @alice)$")
    alice.expect(r"^:bob2!\S+ JOIN #room$")
    assert sum(" QUIT " in line for line in alice.seen) == 1  # bob left once, not twice


def test_a_redis_restart_loses_nothing_and_repeats_nothing(tmp_path: Path, cluster):
    redis = RedisServer(tmp_path / "redis", persistent=True).start()
    try:
        a, b = cluster(url=redis.url()), cluster(url=redis.url())
        alice = in_room(a, "alice", caps=("echo-message",))
        bob = in_room(b, "bob")
        alice.expect(r"^:bob!\S+ JOIN #room$")
        alice.send(*[f"PRIVMSG #room :before {k}" for k in range(5)])
        bob.expect(r"PRIVMSG #room :before 4$")
        redis.stop()
        alice.expect(r"NOTICE alice :The network's shared store can't be reached")
        alice.send(*[f"PRIVMSG #room :while away {k}" for k in range(5)])
        alice.send("PING :still here")
        alice.expect(r"PONG \S+ :?still here")  # served all the while, echo or not
        asking = LineClient(b.port)  # a nick needs the network, but b knows alice's is taken
        asking.send("NICK alice", "USER alice 0 * :alice", "NICK nobody")
        asking.expect(r" 433 \* alice :Nickname is already in use")
        asking.expect(r" 437 \* nobody :The network can't check that nick right now")
        # Away for longer than the node timeout: four tries (0.1 + 0.2 + 0.4 + 0.8 s).
        wait_until(lambda: len([x for x in a.err if "cannot reach Redis" in x]) >= 4,
                   "Redis away for longer than the node timeout")  # fmt: skip
        redis.start()
        alice.expect(r"NOTICE alice :The network's shared store is back", timeout=20)
        alice.send(*[f"PRIVMSG #room :after {k}" for k in range(5)])
        bob.expect(r"PRIVMSG #room :after 4$", timeout=20)
        # Nobody was taken for dead because Redis was: no split, nobody let go.
        assert not [x for x in alice.seen + bob.seen if " QUIT " in x or "ERROR" in x]
        said = [line.rsplit(":", 1)[1] for line in bob.seen if " PRIVMSG #room :" in line]
        assert said == (
            [f"before {k}" for k in range(5)] + [f"while away {k}" for k in range(5)]
            + [f"after {k}" for k in range(5)]
        )  # fmt: skip
    finally:
        redis.stop()


def test_an_irc_client_a_person_on_nc_and_a_browser_each_on_their_own_node(cluster):
    a, b, c = cluster(), cluster(), cluster("--web-port", "-1")
    web_port = int(re.search(r":(\d+)$", next(x for x in c.startup if "(web: http)" in x))[1])
    irc = in_room(a, "ircuser", "#lobby")
    person = LineClient(b.port)
    person.expect_text("nickname? ")
    person.send("dave")
    person.expect(r"You joined #lobby")
    irc.expect(r"^:dave!\S+ JOIN :?#lobby$")
    with ws_connect(f"ws://127.0.0.1:{web_port}/", subprotocols=["text.ircv3.net"]) as ws:
        ws.send("NICK webby")
        ws.send("USER webby 0 * :webby")
        ws.send("JOIN #lobby")

        def until(text: str) -> str:
            while True:
                line = str(ws.recv(timeout=15))
                if text in line:
                    return line

        until(" 366 webby #lobby ")
        irc.expect(r"^:webby!\S+ JOIN :?#lobby$")
        irc.send("PRIVMSG #lobby :hello both")
        person.expect(r"^ircuser says: hello both$")
        assert until("hello both") == ":ircuser!ircuser@127.0.0.1 PRIVMSG #lobby :hello both"
        person.send("hi from nc")
        assert until("hi from nc").startswith(":dave!")
        irc.expect(r"^:dave!\S+ PRIVMSG #lobby :hi from nc$")
        ws.send("PRIVMSG #lobby :and from the browser")
        irc.expect(r"^:webby!\S+ PRIVMSG #lobby :and from the browser$")
        person.expect(r"^webby says: and from the browser$")
        # /metrics on node c: its own user, the network's three, and the bus's traffic.
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as got:
            families = {f.name: f for f in text_string_to_metric_families(got.read().decode())}
        value = {name: families[name].samples[0].value
                 for name in ("tcpchat_users", "tcpchat_local_users", "tcpchat_nodes")}
        assert value == {"tcpchat_users": 3, "tcpchat_local_users": 1, "tcpchat_nodes": 3}
        bus = {s.labels["direction"]: s.value for s in families["tcpchat_bus_events"].samples}
        assert bus["out"] >= 3 and bus["in"] >= 6  # its own JOIN/message/...; the others'



def test_echo_and_labels_keep_a_clients_replies_in_the_order_of_its_commands(cluster):
    """A sender's own copy (echo-message) comes back through the bus, in the room's order,
    before the reply to its next command, and under the label it was sent with."""
    a, b = cluster(), cluster()
    caps = ("echo-message", "labeled-response", "batch", "message-tags")
    alice = in_room(a, "alice", caps=caps)
    bob = in_room(b, "bob")
    alice.expect(r"^:bob!\S+ JOIN #room$")
    alice.send("PRIVMSG #room :one", "PING :two", "@label=L3 PRIVMSG #room :three", "PING :four")
    got = [alice.expect(r"PRIVMSG #room :one$|PONG .*two$|PRIVMSG #room :three$|PONG .*four$")
           for _ in range(4)]  # fmt: skip
    assert [m.string.rsplit(" ", 1)[-1].lstrip(":") for m in got] == ["one", "two", "three", "four"]
    assert re.match(r"^@label=L3;msgid=\S+ :alice!\S+ PRIVMSG #room :three$", got[2].string)
    bob.expect(r"PRIVMSG #room :three$")


def test_history_said_on_one_node_is_read_on_another_with_the_same_msgids(cluster):
    a, b = cluster(), cluster()
    caps = ("batch", "server-time", "message-tags", "draft/chathistory")
    alice = in_room(a, "alice", caps=caps)
    bob = in_room(b, "bob", caps=caps)
    alice.send(*[f"PRIVMSG #room :line {k}" for k in range(3)])
    heard = [bob.expect(rf"msgid=([^; ]+)\S* :alice!\S+ PRIVMSG #room :line {k}$")[1]
             for k in range(3)]  # fmt: skip
    for client, nick in ((bob, "bob"), (alice, "alice")):
        client.send("CHATHISTORY LATEST #room * 10")
        ref = client.expect(r" BATCH \+(\S+) chathistory #room$")[1]
        lines = []
        while not re.match(rf"^:\S+ BATCH -{ref}$", line := client.readline()):
            lines.append(line)
        said = [re.search(r"msgid=([^; ]+)\S* :alice!\S+ PRIVMSG #room :(line \d)$", x)
                for x in lines]  # fmt: skip
        expected = [(msgid, f"line {k}") for k, msgid in enumerate(heard)]
        assert [(m[1], m[2]) for m in said if m] == expected, nick


def test_a_node_shut_down_says_its_users_leave_at_once_not_after_the_timeout(cluster):
    a, b, alice, bob = alice_and_bob(cluster)
    b.proc.send_signal(signal.SIGTERM)
    # SIGTERM is a restart (systemd, docker): the others see bob go with that reason too.
    restart = r"Server restarting, reconnect in a few seconds"
    bob.expect(rf"^ERROR :Closing Link: \S+ \({restart}\)$")
    alice.expect(rf"^:bob!bob@\S+ QUIT :{restart}$")
    assert b.proc.wait(10) == 0
    alice.send("PING :after")
    alice.expect(r"PONG \S+ :?after")
    assert sum(" QUIT " in line for line in alice.seen) == 1


def test_a_node_shut_down_lets_its_users_nicks_go_for_when_they_come_back(cluster):
    """SIGTERM is a restart: the people on that node come back (to it, or to another
    node) and get their own nicks again, not "already in use" for a nick nobody has."""
    a, b, alice, bob = alice_and_bob(cluster)
    b.proc.send_signal(signal.SIGTERM)
    alice.expect(r"^:bob!bob@\S+ QUIT ")
    assert b.proc.wait(10) == 0
    back = LineClient(cluster().port).register("bob")  # the node restarted, bob back on it
    back.join("#room")
    alice.expect(r"^:bob!bob@\S+ JOIN #room$")


def sasl_plain(node: Node, nick: str, account: str, password: str) -> LineClient:
    client = LineClient(node.port)
    client.send("CAP LS 302", "CAP REQ :sasl", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    client.expect(r" CAP \* ACK :sasl")
    client.send("AUTHENTICATE PLAIN")
    client.expect(r"^AUTHENTICATE \+$")
    client.send("AUTHENTICATE " + base64.b64encode(f"\0{account}\0{password}".encode()).decode())
    return client


def logged_in(node: Node, nick: str, account: str, password: str) -> LineClient:
    """Log in with SASL, trying again while the node has not heard of the account yet (it
    reaches other nodes a moment after REGISTER answered)."""
    found: list[LineClient] = []

    def attempt() -> bool:
        client = sasl_plain(node, nick, account, password)
        if client.expect(r" (903|904) ")[1] == "903":
            found.append(client)
            return True
        client.close()
        return False

    wait_until(attempt, f"account {account} known to the node")
    return found[0]


def test_an_account_registered_on_one_node_logs_in_on_every_node(cluster):
    a, b = cluster(), cluster()
    alice = LineClient(a.port).register("alice")
    alice.send("REGISTER * * :correct horse")
    alice.expect(r"^:tcpchat REGISTER SUCCESS alice :")
    alice.send("CERTFP ADD " + "ab" * 32)
    alice.expect(r" NOTE CERTFP ")
    alice.send("QUIT")
    alice.expect_closed()
    on_b = logged_in(b, "alice2", "alice", "correct horse")  # her nick may be let go later
    assert any(" 900 alice2 " in line and "You are now logged in as alice" in line
               for line in on_b.seen)  # fmt: skip
    on_b.send("CAP END")

    def certificate_known() -> bool:
        on_b.send("CERTFP LIST")
        return "ab" * 32 in on_b.expect(r" NOTE CERTFP (FINGERPRINT|END) ").string

    wait_until(certificate_known, "the fingerprint added on node a known on node b")
    c = cluster()  # a node that starts later gets the accounts with its snapshot
    wrong = sasl_plain(c, "alice3", "alice", "wrong horse")
    wrong.expect(r" 904 alice3 :")
    on_c = sasl_plain(c, "alice4", "alice", "correct horse")
    on_c.expect(r" 903 alice4 :")


def test_regain_takes_a_nick_back_from_someone_on_another_node(cluster, redis_server):
    """The server gives nicks too (REGAIN, and the guest nick of whoever loses one): those
    are the network's, as NICK's are."""
    a, b = cluster(), cluster()
    alice = LineClient(a.port).register("alice")
    alice.send("REGISTER * * :correct horse", "QUIT")
    alice.expect(r"^:tcpchat REGISTER SUCCESS alice :")
    alice.expect_closed()
    mallory = LineClient(b.port)  # on node b, with no account; once alice's QUIT let it go
    mallory.send("USER mallory 0 * :m")

    def took_it() -> bool:
        mallory.send("NICK alice")
        return mallory.expect(r" (001|433) ")[1] == "001"

    wait_until(took_it, "nick alice let go")
    mallory.expect(r"NOTICE alice :The nick alice belongs to an account")
    logged_in(b, "probe", "alice", "correct horse").close()  # node b knows the account now
    owner = logged_in(a, "alice2", "alice", "correct horse")
    owner.send("CAP END")
    owner.expect(r" 001 alice2 ")
    # Node a has heard mallory took it, so it renames her itself (see the test with a pause
    # for the other way round).
    wait_until(lambda: whois_user(owner, "alice2", "alice") == "mallory", "node a hearing it")
    owner.send("REGAIN")
    owner.expect(r"^:alice2!\S+ NICK :?alice$")
    guest = mallory.expect(r"^:alice!\S+ NICK :?(Guest\d+)$")[1]
    mallory.expect(rf"NOTICE {guest} :You were renamed to {guest}: alice2 \(alice\) took back")
    for nick in ("alice", guest):  # both are held network-wide, by their new holders
        other = LineClient(b.port)
        other.send(f"NICK {nick}", "USER x 0 * :x")
        other.expect(rf" 433 \* {nick} ")
    # In the shared store, alice is now held on node a and the guest nick on node b.
    with redis_server.client() as store:
        for nick, node in (("alice", joined(a)[0]), (guest, joined(b)[0])):

            def held(nick: str = nick, node: int = node) -> bool:
                return (store.hget("tcpchat:nicks", nick.lower()) or "").startswith(f"{node}:")

            wait_until(held, f"{nick} held on node {node}")
    # Given up again, the nick is free on every node: the store knew who had it.
    owner.send("NICK alice9")
    owner.expect(r"^:alice!\S+ NICK :?alice9$")
    late = LineClient(b.port)
    late.send("USER late 0 * :late")

    def free_again() -> bool:
        late.send("NICK alice")
        return late.expect(r" (001|433) ")[1] == "001"

    wait_until(free_again, "nick alice free again")


def test_a_redis_that_lost_its_last_writes_is_heard_again(cluster, redis_server):
    """Redis crashed with a second of the bus unwritten (appendfsync everysec): it numbers
    new entries from where it got back to, and the nodes read on from there."""
    a, b, alice, bob = alice_and_bob(cluster)
    alice.send(*[f"PRIVMSG #room :before {k}" for k in range(3)])
    bob.expect(r"PRIVMSG #room :before 2$")
    with redis_server.client() as store:  # the bus back to where it was at the JOINs
        kept = store.xrange("tcpchat:bus")[:2]
        store.delete("tcpchat:bus")
        for entry_id, fields in kept:
            store.xadd("tcpchat:bus", fields, id=entry_id)
        store.set("tcpchat:bus-seq", kept[-1][0].partition("-")[2])
    b.wait_printed(r"the bus went back from \d+ to \d+", stream="err")
    a.wait_printed(r"the bus went back from \d+ to \d+", stream="err")
    alice.send("PRIVMSG #room :after the loss")
    bob.expect(r"PRIVMSG #room :after the loss$")


def test_a_redis_that_forgot_its_scripts_still_carries_every_message(cluster, redis_server):
    """Nodes append to the bus by the script's digest: a Redis that has forgotten its
    scripts (SCRIPT FLUSH; a restart does the same) is given the script again, and the
    message that found it gone is delivered, once, in its place."""
    a, b, alice, bob = alice_and_bob(cluster)
    alice.send("PRIVMSG #room :before")
    bob.expect(r"PRIVMSG #room :before$")
    with redis_server.client() as store:
        store.script_flush()
    alice.send("PRIVMSG #room :after the flush", "PRIVMSG #room :and one more")
    bob.expect(r"PRIVMSG #room :and one more$")
    bob.send("PRIVMSG #room :heard you")
    alice.expect(r"PRIVMSG #room :heard you$")
    said = [line.rsplit(":", 1)[1] for line in bob.seen if " PRIVMSG #room :" in line]
    assert said == ["before", "after the flush", "and one more"]


def operator_and_other(
    cluster, tmp_path: Path, operator: str, other: str, settings: str = ""
) -> tuple[LineClient, LineClient]:
    """Two nodes sharing a config with an operator (and `settings`): `operator` on the first,
    opered, and `other` on the second, each in #room and seen by the first."""
    config = tmp_path / "operators.toml"
    config.write_text(f"cluster_node_timeout = {NODE_TIMEOUT}\n{settings}"
                      f'[operators]\nroot = "{hash_password("hunter2", n=16)}"\n')  # fmt: skip
    a, b = cluster("--config", str(config)), cluster("--config", str(config))
    oper = in_room(a, operator)
    them = in_room(b, other)
    oper.expect(rf"^:{other}!\S+ JOIN #room$")
    oper.send("OPER root hunter2")
    oper.expect(rf" 381 {operator} ")
    return oper, them


def test_an_operator_on_one_node_kills_someone_on_another(cluster, tmp_path: Path):
    alice, bob = operator_and_other(cluster, tmp_path, "alice", "bob")
    alice.send("KILL bob :spamming")
    bob.expect(r"^ERROR :Closing Link: \S+ \(Killed \(alice \(spamming\)\)\)$")
    alice.expect(r"^:bob!\S+ QUIT :Killed \(alice \(spamming\)\)$")
    assert sum(" QUIT " in line for line in alice.seen) == 1


def test_a_nick_that_becomes_an_account_on_another_node_is_its_holders_nodes_to_enforce(
    cluster, tmp_path: Path
):
    """mallory, on node b, holds the nick an operator on node a makes an account of: b tells
    her, once, and renames her when her grace is over. (The same as when node b gives out
    a nick whose account it has not heard of yet: it tells the holder when it does.)"""
    root, mallory = operator_and_other(cluster, tmp_path, "root", "mallory", "nick_grace = 1\n")
    root.send("ACCOUNT CREATE mallory :correct horse")
    root.expect(r"Account mallory created")
    mallory.expect(r"NOTICE mallory :The nick mallory belongs to an account")
    guest = mallory.expect(r"^:mallory!\S+ NICK :?(Guest\d+)$")[1]
    root.expect(rf"^:mallory!\S+ NICK :?{guest}$")
    mallory.send(f"PING :{guest}")  # all she was sent before the answer is in
    mallory.expect(rf"PONG .*:{guest}$")
    told = [line for line in mallory.seen if "The nick mallory belongs to an account" in line]
    assert len(told) == 1, told
    assert sum(" NICK " in line for line in mallory.seen) == 1, mallory.seen


def test_a_regained_nick_is_never_free_in_the_shared_store_on_its_way(cluster, redis_server):
    """REGAIN moves the nick from its holder on node b to its owner on node a. At no moment
    may the shared store show it free, or a third person's NICK on any node could get it:
    it goes to the owner first, and only then does the holder's rename let go of theirs.
    A thread reads the store as fast as it can the whole time."""
    a, b, owner, mallory = owner_and_mallory(cluster)
    mallory.send("NICK owner")
    mallory.expect(r"^:mallory!\S+ NICK :?owner$")
    # Node a has heard it, so it renames mallory itself.
    wait_until(lambda: whois_user(owner, "zed", "owner") == "mallory", "node a hearing it")
    with redis_server.client() as store:
        seen: list[str | None] = []
        watching = threading.Event()
        watching.set()

        def watch() -> None:
            while watching.is_set():
                seen.append(store.hget("tcpchat:nicks", "owner"))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            wait_until(lambda: seen, "the watcher's first read")
            owner.send("REGAIN")
            owner.expect(r"^:zed!\S+ NICK :?owner$")
            mallory.expect(r"^:owner!\S+ NICK :?Guest\d+$")
            node = joined(a)[0]
            wait_until(lambda: (seen[-1] or "").startswith(f"{node}:"), "owner held on node a")
        finally:
            watching.clear()
            watcher.join()
    assert seen[0] is not None and not seen[0].startswith(f"{node}:"), seen[0]
    assert None not in seen, f"free {seen.count(None)} times in {len(seen)} reads"


def test_a_regain_before_its_node_hears_who_holds_the_nick_still_renames_them(cluster):
    """mallory takes the nick on node b while node a is paused, and owner's REGAIN waits in
    a's socket: a takes the nick in the shared store before it has heard of mallory's. The
    store says who came last, so mallory's node renames her, and both nodes end up agreeing:
    the nick is owner's, and mallory is a guest."""
    a, b, owner, mallory = owner_and_mallory(cluster)
    a.proc.send_signal(signal.SIGSTOP)
    try:
        mallory.send("NICK owner")
        mallory.expect(r"^:mallory!\S+ NICK :?owner$")
        owner.send("REGAIN")
    finally:
        a.proc.send_signal(signal.SIGCONT)
    owner.expect(r"^:zed!\S+ NICK :?owner$")
    guest = mallory.expect(r"^:owner!\S+ NICK :?(Guest\d+)$").group(1)
    mallory.expect(rf"^:tcpchat NOTICE {guest} :You were renamed to {guest}: zed \(owner\) "
                   "took back their nick owner\\.$")  # fmt: skip
    mallory.send("PRIVMSG owner :was it yours?")
    owner.expect(rf"^:{guest}!\S+ PRIVMSG owner :was it yours\?$")
    for node, nick in ((a, "onlooker"), (b, "witness")):
        peer = LineClient(node.port).register(nick)
        assert whois_user(peer, nick, "owner") == "owner"
        assert whois_user(peer, nick, guest) == "mallory"
        assert whois_user(peer, nick, "mallory") is None


def owner_and_mallory(cluster) -> tuple[Node, Node, LineClient, LineClient]:
    """Two nodes; on a, owner, who registered the account owner and is now zed; on b,
    mallory."""
    a, b = cluster(), cluster()
    owner = LineClient(a.port).register("owner")
    owner.send("REGISTER * * :correct horse", "NICK zed")
    owner.expect(r"^:tcpchat REGISTER SUCCESS owner :")
    owner.expect(r"^:owner!\S+ NICK :?zed$")
    mallory = LineClient(b.port).register("mallory")
    return a, b, owner, mallory


def whois_user(client: LineClient, me: str, nick: str) -> str | None:
    """The username WHOIS shows for `nick`, None for no such nick."""
    client.send(f"WHOIS {nick}")
    found = client.expect(rf" (?:311 {me} {nick} (\S+) |401 {me} {nick} )")
    client.expect(rf" 318 {me} {nick} ")
    return found.group(1)
