"""The chat core: IRC semantics as a plain state machine, no sockets, no event loop."""

from .chat import ChatCore
from .records import Channel, Client, Sink

__all__ = ["ChatCore", "Channel", "Client", "Sink"]
