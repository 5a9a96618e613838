"""The chat core: IRC semantics as a plain state machine, no sockets, no event loop.

Lines come in through `ChatCore.receive`; handlers check them against the `ChatState` and
emit events; the state applies each event and the `LocalRouter` renders it for the sessions
that should see it. See chat.py (input), base.py (output), events.py, state.py, router.py.
"""

from .chat import ChatCore
from .model import Channel, Session, Sink, User

__all__ = ["ChatCore", "Channel", "Session", "Sink", "User"]
