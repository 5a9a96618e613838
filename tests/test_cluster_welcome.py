"""When a cluster node welcomes people (cluster/welcome.py): only once it knows the network.
The nodes' own behaviour end to end is test_cluster_chat's (a starting node, a fenced one);
this is the decision alone, with the case those cannot time: a fence during start-up's wait."""

from __future__ import annotations

from typing import Any

from tcpchat.cluster.welcome import WelcomeGate


class Registrations:
    """People registering on a node: who has been let in, in order."""

    def __init__(self) -> None:
        self.welcomed: list[str] = []

    def arrive(self, gate: WelcomeGate, nick: str) -> None:
        gate.hold(lambda _: self.welcomed.append(nick))

    def let_in(self, welcomes: list[Any]) -> None:
        for welcome in welcomes:
            welcome(None)


def test_a_starting_node_welcomes_no_one_until_it_knows_the_network_then_all_in_order():
    gate, people = WelcomeGate(), Registrations()
    people.arrive(gate, "carol")
    people.arrive(gate, "dave")
    assert not gate.open and people.welcomed == []
    people.let_in(gate.knows_network())
    assert gate.open and people.welcomed == ["carol", "dave"]
    people.let_in(gate.start_wait_over())  # the wait ended by the answer: nothing more
    assert gate.open and people.welcomed == ["carol", "dave"]


def test_a_node_that_hears_no_answer_at_start_up_serves_anyway():
    gate, people = WelcomeGate(), Registrations()
    people.arrive(gate, "carol")
    people.let_in(gate.start_wait_over())
    assert gate.open and people.welcomed == ["carol"]


def test_a_node_fenced_during_its_start_up_wait_waits_for_its_rejoin_to_be_answered():
    gate, people = WelcomeGate(), Registrations()
    gate.fence()  # declared dead while waiting for its hello's answer; now rejoining
    people.arrive(gate, "carol")
    people.let_in(gate.start_wait_over())  # the start-up wait ends before the rejoin's answer
    assert not gate.open and people.welcomed == []
    people.let_in(gate.knows_network())
    assert gate.open and people.welcomed == ["carol"]


def test_a_fence_closes_an_open_gate_until_the_network_is_known_again():
    gate, people = WelcomeGate(), Registrations()
    people.let_in(gate.knows_network())
    gate.fence()
    people.arrive(gate, "carol")
    assert not gate.open and people.welcomed == []
    people.let_in(gate.knows_network())
    assert gate.open and people.welcomed == ["carol"]
