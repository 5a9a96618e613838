"""What a log line about someone carries besides its sentence (`extra=`): the event's name,
the connection id (the user's uid, which the edge took when the connection opened, so one
id follows a connection from its connect to its disconnect), the address and the nick.
The JSON log shows them (tcpchat.logs); the text log shows the sentence alone.

Privacy: what people say is not logged, unless the operator sets `log_messages`; nor is a
password, ever. `message` logs a line said when it is set; `shown_reason` keeps a QUIT's
own words out of a disconnect's reason when it is not.
"""

from __future__ import annotations

import logging
from typing import Any

from .model import Session, User

log = logging.getLogger("tcpchat.core")

QUIT = "Quit: "  # how a QUIT's reason starts when the client gave its own words


def about(event: str, user: User, addr: str | None = None, **more: Any) -> dict[str, Any]:
    """The fields of `event` about `user`: their connection's address when known (a
    session's), else their host."""
    return {"event": event, "conn": user.uid, "addr": addr or user.host, "nick": user.nick, **more}


def about_session(event: str, session: Session, **more: Any) -> dict[str, Any]:
    """The fields of `event` about the user of a session on this server."""
    return about(event, session.user, session.addr, **more)


def message(session: Session, command: str, target: str, text: str) -> None:
    """A line said (`log_messages`; the caller checks it, so nothing is done when off)."""
    log.info(
        "%s to %s from %s: %s", command, target, session.user.nick, text,
        extra=about_session("message", session, command=command, target=target, text=text),
    )  # fmt: skip


def shown_reason(reason: str, log_messages: bool) -> str:
    """A disconnect's reason for the log: a QUIT's own words only with `log_messages`."""
    if not log_messages and reason.startswith(QUIT):
        return "Quit"
    return reason
