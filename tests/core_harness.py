"""Drive the sans-IO chat core directly: each fake connection records what the core wrote."""

from __future__ import annotations

from tcpchat.config import Settings
from tcpchat.core import ChatCore, Session, User
from tcpchat.protocol import Message, parse


class RecordingSink:
    """The core's view of a connection: bytes written, and whether it was closed."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "wrote to a closed connection"
        assert data.endswith(b"\r\n")
        self.data += data

    def close(self) -> None:
        self.closed = True


class Peer:
    """One simulated connection to a core."""

    def __init__(self, core: ChatCore, host: str = "127.0.0.1") -> None:
        self.core = core
        self.sink = RecordingSink()
        self.session: Session = core.connect(self.sink, host)
        self.user: User = self.session.user

    def send(self, *lines: str | bytes) -> None:
        for line in lines:
            self.core.receive(self.session, line.encode() if isinstance(line, str) else line)

    def take(self) -> list[Message]:
        """Messages written since the last call."""
        lines = bytes(self.sink.data).decode().split("\r\n")
        self.sink.data.clear()
        return [parse(line) for line in lines if line]

    def take_raw(self) -> list[str]:
        lines = bytes(self.sink.data).decode().split("\r\n")
        self.sink.data.clear()
        return [line for line in lines if line]

    def commands(self) -> list[str]:
        return [m.command for m in self.take()]


def make_core(**settings: object) -> ChatCore:
    return ChatCore(Settings().updated(settings))


def register(core: ChatCore, nick: str, *caps: str) -> Peer:
    peer = Peer(core)
    if caps:
        peer.send("CAP LS 302", "CAP REQ :" + " ".join(caps))
    peer.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Example")
    if caps:
        peer.send("CAP END")
    assert peer.session.registered, peer.take_raw()
    peer.take()
    return peer
