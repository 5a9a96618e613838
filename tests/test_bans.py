"""K-lines, D-lines and connection throttling over real sockets, a real SQLite file and a real
server process restarted on it.

Every client here comes from loopback; those that are to be banned come from another loopback
address (127.0.0.2 and up), so that the operator on 127.0.0.1 keeps their connection.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import signal
import socket
from pathlib import Path

from websockets.asyncio.client import connect

from cluster_harness import wait_until
from tcpchat.passwords import hash_password

from net_harness import TIMEOUT, LineClient, running_server, start_server_process

ROOT_HASH = hash_password("hunter2", n=16)  # cheap parameters, recorded in the hash
OPERATORS = {"operators": {"root": ROOT_HASH}}


class ClientFrom(LineClient):
    """A LineClient whose connection comes from another loopback address."""

    def __init__(self, port: int, source: str) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0)
        )
        self.buffer = b""
        self.seen: list[str] = []


def oper(port: int, nick: str = "admin") -> LineClient:
    admin = LineClient(port).register(nick)
    admin.send("OPER root hunter2")
    admin.expect(rf" 381 {nick} ")
    return admin


def refused_at_registration(client: LineClient, nick: str, user: str) -> list[str]:
    client.send(f"NICK {nick}", f"USER {user} 0 * :{nick}")
    return client.expect_closed()


def registers(port: int, nick: str) -> bool:
    """Whether `nick` (user name the same) is let in now, rather than refused with 465."""
    client = LineClient(port)
    client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    line = client.expect(r" (001|465) ").group(1)
    client.close()
    return line == "001"


# --------------------------------------------------------------------- K-lines


def test_a_kline_kicks_whoever_matches_and_refuses_them_again_with_the_reason():
    with running_server(**OPERATORS) as server:
        admin = oper(server.port)
        bob = LineClient(server.port).register("bob").join("#lobby")
        mallory = LineClient(server.port).register("Mallory").join("#lobby")
        bob.expect(r"^:Mallory!\S+ JOIN #lobby$")

        admin.send("KLINE MALLORY@* :spamming the lobby")
        assert mallory.expect_closed()[-2:] == [
            ":tcpchat 465 Mallory :You are banned from this server: spamming the lobby",
            "ERROR :Closing Link: 127.0.0.1 (K-lined: spamming the lobby)",
        ]
        bob.expect(r"^:Mallory!mallory@127\.0\.0\.1 QUIT :K-lined$")
        admin.expect(
            r"NOTICE admin :Added K-line on mallory@\* until lifted: spamming the lobby; "
            r"1 disconnected$"
        )

        again = refused_at_registration(LineClient(server.port), "mal2", "Mallory")
        assert " 001 " not in "".join(again)
        assert again[-2].endswith(" 465 mal2 :You are banned from this server: spamming the lobby")
        assert again[-1] == "ERROR :Closing Link: 127.0.0.1 (K-lined: spamming the lobby)"
        LineClient(server.port).register("carol")  # another user name gets in

        admin.send("STATS K")
        row = admin.expect(r" 216 admin (.*)$").group(1)
        assert re.fullmatch(
            r"K \* \* mallory :spamming the lobby \(set by admin \d{4}-\d\d-\d\d [\d:]+ UTC\)", row
        )
        admin.expect(r" 219 admin K :End of /STATS report$")

        admin.send("UNKLINE mallory@*")
        admin.expect(r"NOTICE admin :Removed the K-line on mallory@\*$")
        LineClient(server.port).register("mallory")  # lifted
        admin.send("UNKLINE mallory@*")
        admin.expect(r"NOTICE admin :There is no K-line on mallory@\*; STATS K lists them$")


def test_a_kline_on_a_nick_bans_their_host_and_a_person_on_nc_reads_why():
    with running_server(**OPERATORS) as server:
        admin = oper(server.port)
        victim = ClientFrom(server.port, "127.0.0.2").register("victim")
        admin.send("KLINE 1h30m victim :flooding")
        seen = victim.expect_closed()
        assert re.search(
            r" 465 victim :You are banned from this server: flooding; the ban ends "
            r"\d{4}-\d\d-\d\d [\d:]+ UTC \(in 1h30m\)$", seen[-2]
        )  # fmt: skip
        admin.expect(r"NOTICE admin :Added K-line on \*@127\.0\.0\.2 for 1h30m, until .*: flooding")

        person = ClientFrom(server.port, "127.0.0.2")
        person.expect_text("nickname? ")
        person.send("anyone")
        said = person.expect_closed()
        assert any(
            line.startswith("You are banned from this server: flooding; the ban ends ")
            for line in said
        ), said
        admin.send("PING :still here")  # the operator's own address is not covered
        admin.expect("PONG")


def test_bad_masks_and_durations_get_a_clear_reply_and_only_operators_may_ban():
    with running_server(**OPERATORS) as server:
        user = LineClient(server.port).register("user")
        for line in ("KLINE bob@* :x", "DLINE 192.0.2.1 :x", "UNKLINE bob@*", "UNDLINE 192.0.2.1",
                     "STATS K", "STATS D"):  # fmt: skip
            user.send(line)
            user.expect(r" 481 user :Permission Denied- You're not an IRC operator$")

        admin = oper(server.port)
        cases = {
            "KLINE 2y bob@* :x": r"NOTICE admin :KLINE: '2y' is not a duration: give minutes",
            "KLINE 60w bob@* :x": r"NOTICE admin :KLINE: 60w is longer than a year",
            "KLINE *@* :everyone": r"NOTICE admin :KLINE: \*@\* would ban everyone",
            "KLINE bob@a@b :x": r"NOTICE admin :KLINE: 'bob@a@b' is not a user@host mask",
            "KLINE nobody :x": r" 401 admin nobody :No such nick",
            "DLINE 300.1.1.1 :x": r"NOTICE admin :DLINE: '300.1.1.1' is not an address or a net",
            "DLINE 10.0.0.0/4 :x": r"NOTICE admin :DLINE: 10\.0\.0\.0/4 is too wide",
            "UNDLINE 192.0.2.1": r"NOTICE admin :There is no D-line on 192\.0\.2\.1",
            "KLINE": r" 461 admin KLINE :Not enough parameters",
        }
        for line, reply in cases.items():
            admin.send(line)
            admin.expect(reply)
        admin.send("STATS K")
        assert admin.expect(r" 2(16|19) ").group(1) == "19"  # nothing was added


def test_a_timed_kline_stops_applying_when_it_ends():
    with running_server(**OPERATORS) as server:
        admin = oper(server.port)
        admin.send("KLINE 3s eve@* :cool off")
        admin.expect(r"NOTICE admin :Added K-line on eve@\* for 3s, until ")
        seen = refused_at_registration(LineClient(server.port), "eve", "eve")
        assert " 465 eve :You are banned from this server: cool off; the ban ends " in seen[-2]
        wait_until(lambda: registers(server.port, "eve"), "the K-line to end")
        admin.send("STATS K")
        assert admin.expect(r" 2(16|19) ").group(1) == "19"


# --------------------------------------------------------------------- D-lines


def test_a_dline_refuses_at_the_door_kicks_who_is_on_and_undline_lifts_it():
    with running_server(**OPERATORS) as server:
        admin = oper(server.port)
        bob = LineClient(server.port).register("bob").join("#lobby")
        onion = ClientFrom(server.port, "127.0.0.3").register("onion").join("#lobby")
        bob.expect(r"^:onion!\S+ JOIN #lobby$")
        waiting = ClientFrom(server.port, "127.0.0.3")  # connected, not registered yet
        waiting.send("CAP LS 302")
        waiting.expect(r" CAP \* LS ")

        admin.send("DLINE 127.0.0.3 :open proxy")
        assert onion.expect_closed()[-2:] == [
            ":tcpchat 465 onion :You are banned from this server: open proxy",
            "ERROR :Closing Link: 127.0.0.3 (D-lined: open proxy)",
        ]
        bob.expect(r"^:onion!\S+ QUIT :D-lined$")
        assert waiting.expect_closed()[-2:] == [
            ":tcpchat 465 * :You are banned from this server: open proxy",
            "ERROR :Closing Link: 127.0.0.3 (D-lined: open proxy)",
        ]
        admin.expect(r"NOTICE admin :Added D-line on 127\.0\.0\.3 until lifted: open proxy; 2 disc")

        door = ClientFrom(server.port, "127.0.0.3").expect_closed()  # without a word from it
        assert door == [
            "ERROR :Closing Link: 127.0.0.3 (You are banned from this server: open proxy)"
        ]

        admin.send("DLINE 10m 127.0.0.4/31 :later", "DLINE 2001:db8::/32 :documentation")
        admin.expect(r"NOTICE admin :Added D-line on 127\.0\.0\.4/31 for 10m, until ")
        admin.expect(r"NOTICE admin :Added D-line on 2001:db8::/32 until lifted: documentation$")
        door = ClientFrom(server.port, "127.0.0.5").expect_closed()
        assert re.fullmatch(
            r"ERROR :Closing Link: 127\.0\.0\.5 \(You are banned from this server: later; the "
            r"ban ends \d{4}-\d\d-\d\d [\d:]+ UTC \(in (10m|9m\d+s)\)\)", door[-1]
        )  # fmt: skip
        admin.send("STATS d")
        rows = [admin.expect(r" 225 admin (.*)$").group(1) for _ in range(3)]
        assert rows[0].startswith("D 127.0.0.3 :open proxy (set by admin ")
        assert rows[1].startswith("d 127.0.0.4/31 :later (set by admin ") and "; ends " in rows[1]
        assert rows[2].startswith("D 2001:db8::/32 :documentation")
        admin.expect(r" 219 admin d :End of /STATS report$")

        admin.send("UNDLINE 127.0.0.3")
        admin.expect(r"NOTICE admin :Removed the D-line on 127\.0\.0\.3$")
        ClientFrom(server.port, "127.0.0.3").register("onion")


# ----------------------------------------------------------- across a restart


def test_bans_outlast_a_restart_of_the_server_process(tmp_path: Path):
    config = tmp_path / "tcpchat.toml"
    config.write_text(f'[operators]\nroot = "{ROOT_HASH}"\n')
    args = ("--host", "127.0.0.1", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    proc, port = start_server_process(*args)
    try:
        admin = oper(port)
        admin.send("KLINE mallory@* :banned for good", "DLINE 127.0.0.6 :bad network")
        admin.expect(r"NOTICE admin :Added K-line on mallory@\*")
        admin.expect(r"NOTICE admin :Added D-line on 127\.0\.0\.6")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0

    proc, port = start_server_process(*args)
    try:
        seen = refused_at_registration(LineClient(port), "mallory", "mallory")
        assert seen[-2].endswith(" 465 mallory :You are banned from this server: banned for good")
        assert seen[-1] == "ERROR :Closing Link: 127.0.0.1 (K-lined: banned for good)"
        door = ClientFrom(port, "127.0.0.6").expect_closed()
        assert door == [
            "ERROR :Closing Link: 127.0.0.6 (You are banned from this server: bad network)"
        ]
        LineClient(port).register("alice")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0


# ------------------------------------------------------------------ throttling


def refused_connections(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "tcpchat_refused_connections_total"
    }


def test_connections_past_the_limit_in_a_minute_are_refused_on_both_ports():
    with running_server(
        connections_per_minute_per_address=3, throttle_exempt=[], web_port=-1
    ) as server:
        web = server.call(lambda: server.server.web_addresses[0][1])
        for nick in ("a", "b"):
            LineClient(server.port).register(nick).close()

        async def browser(speak: bool) -> str:
            """The first line a page's WebSocket reads (after registering, if it speaks)."""
            async with connect(f"ws://127.0.0.1:{web}/") as ws:
                if speak:
                    await ws.send("NICK webby")
                    await ws.send("USER webby 0 * :webby")
                return await asyncio.wait_for(ws.recv(), TIMEOUT)

        assert " 001 webby " in asyncio.run(browser(True))  # the third, over the web port
        refusal = LineClient(server.port).expect_closed()
        assert len(refusal) == 1
        assert re.fullmatch(
            r"ERROR :Closing Link: 127\.0\.0\.1 \(Too many connections from your address in "
            r"the last minute; try again in (\d+) seconds\)", refusal[0]
        )  # fmt: skip
        wait = int(refusal[0].rsplit(" in ", 1)[1].split()[0])
        assert 50 <= wait <= 60
        assert asyncio.run(browser(False)).startswith(
            "ERROR :Closing Link: 127.0.0.1 (Too many connections from your address"
        )
        ClientFrom(server.port, "127.0.0.7").register("elsewhere")  # another address is let in
        assert refused_connections(web)["throttled"] == 2


def test_loopback_is_exempt_by_default():
    with running_server(connections_per_minute_per_address=1) as server:
        for nick in ("a", "b", "c"):
            LineClient(server.port).register(nick)
        refusal = ClientFrom(server.port, "127.0.0.8")  # in 127.0.0.0/8: exempt too
        refusal.register("d")


# ------------------------------------------------------------------- a cluster


def test_a_kline_set_on_one_node_applies_on_every_node(cluster, tmp_path: Path):
    config = tmp_path / "operators.toml"
    config.write_text(f'[operators]\nroot = "{ROOT_HASH}"\n')
    a, b = cluster("--config", str(config)), cluster("--config", str(config))
    admin = oper(a.port)
    mallory = LineClient(b.port).register("mallory").join("#room")
    admin.send("KLINE mallory@* :spam")
    admin.expect(r"NOTICE admin :Added K-line on mallory@\* until lifted: spam$")
    assert mallory.expect_closed()[-1] == "ERROR :Closing Link: 127.0.0.1 (K-lined: spam)"
    seen = refused_at_registration(LineClient(b.port), "mal2", "mallory")
    assert seen[-2].endswith(" 465 mal2 :You are banned from this server: spam")

    admin.send("UNKLINE mallory@*")
    admin.expect(r"NOTICE admin :Removed the K-line on mallory@\*$")
    wait_until(lambda: registers(b.port, "mallory"), "the other node to lift the K-line")
