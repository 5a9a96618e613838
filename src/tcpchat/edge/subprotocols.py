"""The WebSocket subprotocols the web port speaks, and which one a client gets.

A module of its own so that it stays interpreted when the hot path is compiled
(scripts/compile.py compiles edge/websocket.py): the `websockets` library binds the chooser
to its protocol object as a method (`__get__`), which a function compiled by mypyc cannot be.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.exceptions import NegotiationError
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

__all__ = ["BINARY", "SUBPROTOCOLS", "TEXT", "choose_subprotocol"]

TEXT, BINARY = Subprotocol("text.ircv3.net"), Subprotocol("binary.ircv3.net")
SUBPROTOCOLS = (TEXT, BINARY)


def choose_subprotocol(
    protocol: ServerProtocol, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """The first subprotocol the client offers that we speak; text when it offers none."""
    for each in offered:
        if each in SUBPROTOCOLS:
            return each
    if offered:
        raise NegotiationError(f"none of {', '.join(offered)} is spoken here; try text.ircv3.net")
    return None
