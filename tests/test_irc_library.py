"""An IRC client library nobody here wrote (`irc` from PyPI) chats through our server."""

import time

import irc.client

from net_harness import LineClient, running_server


class Recorder:
    """Collects the `irc` library's events for one connection."""

    def __init__(self, reactor: irc.client.Reactor, port: int, nick: str) -> None:
        self.events: list[irc.client.Event] = []
        self.connection = reactor.server().connect("127.0.0.1", port, nick)
        reactor.add_global_handler("all_events", self._record, -10)

    def _record(self, connection, event) -> None:
        if connection is self.connection:
            self.events.append(event)

    def has(self, event_type: str, **checks) -> bool:
        return any(
            e.type == event_type and all(getattr(e, k) == v for k, v in checks.items())
            for e in self.events
        )


def pump_until(reactor: irc.client.Reactor, condition, timeout: float = 10.0) -> None:
    """Run the library's event loop until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the irc library"
        reactor.process_once(0.05)


def test_irc_library_registers_joins_and_exchanges_messages():
    with running_server() as server:
        reactor = irc.client.Reactor()
        lib = Recorder(reactor, server.port, "libuser")
        pump_until(reactor, lambda: lib.has("welcome"))
        assert lib.connection.get_nickname() == "libuser"
        assert lib.connection.features.network == "tcpchat"
        assert lib.connection.features.nicklen == 30

        ours = LineClient(server.port).register("ours")
        ours.send("JOIN #lobby")
        ours.expect(r" 366 ")

        lib.connection.join("#lobby")
        pump_until(reactor, lambda: lib.has("join", target="#lobby"))
        pump_until(reactor, lambda: lib.has("namreply"))
        ours.expect(r"^:libuser!\S+ JOIN :?#lobby$")

        lib.connection.privmsg("#lobby", "hello from a library")
        ours.expect(r"^:libuser!\S+ PRIVMSG #lobby :hello from a library$")

        ours.send("PRIVMSG #lobby :hello back")
        pump_until(reactor, lambda: lib.has("pubmsg", arguments=["hello back"]))
        event = next(e for e in lib.events if e.type == "pubmsg")
        assert event.source.nick == "ours" and event.target == "#lobby"

        ours.send("PRIVMSG libuser :private word")
        pump_until(reactor, lambda: lib.has("privmsg", arguments=["private word"]))

        lib.connection.nick("libuser2")
        ours.expect(r"^:libuser!\S+ NICK :libuser2$")
        pump_until(reactor, lambda: lib.connection.get_nickname() == "libuser2")

        lib.connection.quit("done here")
        ours.expect(r"^:libuser2!\S+ QUIT :Quit: done here$")
        pump_until(reactor, lambda: lib.has("disconnect"))
