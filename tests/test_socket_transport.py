"""The chat ports' own transport (edge/socket_transport.py), on real TCP sockets, under both
event loops the server runs on: what a peer sees of our writes, closes and half-closes, and
what the protocol is told of the peer's."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from tcpchat.edge.socket_transport import SocketTransport

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


class Recorder(asyncio.Protocol):
    """Writes down what the transport tells it; `gone` is set once it is lost."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.eofs = 0
        self.lost: list[Exception | None] = []
        self.gone = asyncio.Event()
        self.arrived = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.arrived.set()

    def eof_received(self) -> bool:
        self.eofs += 1
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)
        self.gone.set()


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """(ours, the peer's): a real TCP connection on 127.0.0.1, small buffers so the kernel
    stops taking bytes soon."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        peer = socket.socket()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # before the handshake
        peer.connect(listening.getsockname())
        ours, _ = listening.accept()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)  # as tcpchat's setting does
    ours.setblocking(False)
    return ours, peer


def opened(protocol: asyncio.Protocol) -> tuple[SocketTransport, socket.socket, socket.socket]:
    """Our transport for a new TCP connection, on the running loop: (it, our socket, the
    peer's socket)."""
    ours, peer = tcp_pair()
    return SocketTransport(asyncio.get_running_loop(), ours, protocol), ours, peer


def run(loop_name: str, test: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(asyncio.wait_for(test(), 30))


async def received_until_eof(peer: socket.socket) -> bytes:
    """Everything the peer reads until our side's EOF, read off the loop's thread."""

    def read() -> bytes:
        got = bytearray()
        peer.settimeout(20)
        while chunk := peer.recv(65536):
            got += chunk
        return bytes(got)

    return await asyncio.get_running_loop().run_in_executor(None, read)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_bytes_in_arrive_in_order_and_the_peers_close_is_told_once(loop_name: str) -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, ours, peer = opened(protocol)
        assert transport.get_extra_info("peername") == peer.getsockname()
        sent = b"".join(b"line %d\r\n" % i for i in range(5000))
        peer.sendall(sent)
        peer.close()
        await protocol.gone.wait()
        assert bytes(protocol.data) == sent
        assert protocol.eofs == 1 and protocol.lost == [None]
        assert ours.fileno() == -1  # the socket is closed with the connection

    run(loop_name, test)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_what_the_kernel_will_not_take_yet_is_kept_and_sent_in_order(loop_name: str) -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, _, peer = opened(protocol)
        pieces = [b"%06d " % i + b"x" * 1000 + b"\r\n" for i in range(2000)]
        for piece in pieces:  # about 2 MB to a peer that reads nothing yet
            transport.write(piece)
        assert transport.get_write_buffer_size() > 0  # held, not lost, not blocking
        transport.close()  # sent first, then closed
        transport.write(b"after close\r\n")  # dropped, as the loop's transports do
        assert await received_until_eof(peer) == b"".join(pieces)
        await protocol.gone.wait()
        assert protocol.lost == [None] and transport.get_write_buffer_size() == 0
        peer.close()

    run(loop_name, test)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_abort_drops_what_is_unsent_and_closes_at_once(loop_name: str) -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, _, peer = opened(protocol)
        total = 0
        while transport.get_write_buffer_size() == 0:
            transport.write(b"y" * 65536)
            total += 65536
        transport.abort()
        await protocol.gone.wait()
        assert protocol.lost == [None]
        try:
            got = await received_until_eof(peer)
        except ConnectionResetError:
            got = b""  # closed with unread data: the kernel may reset
        assert len(got) < total
        peer.close()

    run(loop_name, test)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_write_eof_half_closes_after_the_unsent_and_reading_goes_on(loop_name: str) -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, _, peer = opened(protocol)
        last_words = b"ERROR :go away\r\n" * 20000  # more than the kernel takes at once
        transport.write(last_words)
        transport.write_eof()
        assert transport.get_write_buffer_size() > 0
        assert await received_until_eof(peer) == last_words
        peer.sendall(b"still talking\r\n")  # the peer's lines are still read
        await protocol.arrived.wait()
        assert bytes(protocol.data) == b"still talking\r\n"
        assert not protocol.lost
        transport.close()
        await protocol.gone.wait()
        peer.close()

    run(loop_name, test)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_reset_by_the_peer_ends_the_connection_with_the_error(loop_name: str) -> None:
    async def test() -> None:
        protocol = Recorder()
        _, _, peer = opened(protocol)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # linger 0: a reset, not a FIN
        await protocol.gone.wait()
        assert len(protocol.lost) == 1 and isinstance(protocol.lost[0], ConnectionResetError)
        assert protocol.eofs == 0

    run(loop_name, test)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_connection_refused_as_it_is_made_gets_its_last_words_then_eof(loop_name: str) -> None:
    class Refusing(Recorder):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.write(b"ERROR :Too many connections\r\n")
            transport.close()

    async def test() -> None:
        protocol = Refusing()
        _, _, peer = opened(protocol)
        assert await received_until_eof(peer) == b"ERROR :Too many connections\r\n"
        await protocol.gone.wait()
        assert protocol.data == b"" and protocol.lost == [None]
        peer.close()

    run(loop_name, test)
