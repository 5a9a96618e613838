"""Tab completion's memory of who is around, and nick colours: no I/O, driven directly."""

from __future__ import annotations

import pytest

from tcpchat.client.roster import COMMANDS, Roster, completions
from tcpchat.client.style import colour_wanted, nick_colour, style_nick
from tcpchat.protocol import parse


def roster_after(*lines: str, me: str = "alice") -> Roster:
    roster = Roster()
    for line in (f":srv 001 {me} :Welcome", *lines):
        roster.observe(parse(line), me)
    return roster


def test_names_and_joins_add_nicks_without_prefixes_or_ourselves() -> None:
    roster = roster_after(
        ":srv 005 alice PREFIX=(qov)~@+ :are supported",
        ":alice!a@h JOIN #lobby",
        ":srv 353 alice = #lobby :~@carol +bob alice dave!d@host",
        ":erin!e@h JOIN #lobby",
    )
    assert roster.nicks() == ["bob", "carol", "dave", "erin"]
    assert roster.rooms() == ["#lobby"]


def test_parts_kicks_and_quits_drop_nicks_only_where_they_left() -> None:
    roster = roster_after(
        ":alice!a@h JOIN #lobby",
        ":alice!a@h JOIN #dev",
        ":srv 353 alice = #lobby :bob carol dave",
        ":srv 353 alice = #dev :bob",
        ":bob!b@h PART #lobby",
        ":carol!c@h QUIT :bye",
        ":alice!a@h KICK #lobby dave :out",
    )
    assert roster.nicks() == ["bob"]  # still in #dev with us
    roster.observe(parse(":alice!a@h PART #dev"), "alice")
    assert roster.nicks() == []


def test_nick_changes_rename_and_messages_add_senders() -> None:
    roster = roster_after(
        ":alice!a@h JOIN #lobby",
        ":bob!b@h PRIVMSG #lobby :hi",
        ":bob!b@h NICK robert",
        ":zed!z@h PRIVMSG alice :psst",
        ":srv NOTICE alice :server notices name no one",
    )
    assert roster.nicks() == ["robert", "zed"]


def test_our_own_nick_change_is_followed() -> None:
    roster = roster_after(":alice!a@h JOIN #lobby", ":srv 353 alice = #lobby :alice bob")
    roster.observe(parse(":alice!a@h NICK alicia"), "alice")
    assert roster.nicks() == ["bob"]


def test_list_replies_add_rooms_to_complete() -> None:
    roster = roster_after(":srv 322 alice #dev 3 :code", ":srv 322 alice #Music 1 :")
    assert roster.rooms() == ["#dev", "#Music"]


@pytest.mark.parametrize(
    ("typed", "word", "choices"),
    [
        ("/j", "/j", ["/join "]),
        ("/w", "/w", ["/who ", "/whois "]),
        ("/join #l", "#l", ["#lobby "]),
        ("/join l", "l", ["#lobby "]),
        ("/switch ", "", ["#dev ", "#lobby "]),
        ("b", "b", ["bob: "]),
        ("hello B", "B", ["bob "]),
        ("/msg b", "b", ["bob "]),
        ("/whois ", "", ["bob ", "carol "]),
        ("see #d", "#d", ["#dev "]),
        ("/msg bob /j", "/j", []),
    ],
)
def test_completions(typed: str, word: str, choices: list[str]) -> None:
    roster = roster_after(
        ":alice!a@h JOIN #lobby",
        ":alice!a@h JOIN #dev",
        ":srv 353 alice = #lobby :bob carol",
    )
    assert completions(roster, typed) == (word, choices)


def test_every_command_completes() -> None:
    assert completions(Roster(), "/")[1] == [command + " " for command in COMMANDS]


def test_nick_colours_are_stable_basic_ansi_and_case_blind() -> None:
    assert nick_colour("Alice") == nick_colour("alice")
    assert nick_colour("bob[") == nick_colour("BOB{")  # rfc1459 case mapping
    colours = {nick_colour(f"user{n}") for n in range(200)}
    assert colours <= {31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96}
    assert len(colours) > 6
    assert style_nick("bob") == f"\x1b[{nick_colour('bob')}mbob\x1b[39m"


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [({}, True), ({"NO_COLOR": ""}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": "no"}, False)],
)
def test_no_color_turns_colour_off(environ: dict[str, str], wanted: bool) -> None:
    assert colour_wanted(environ) is wanted
