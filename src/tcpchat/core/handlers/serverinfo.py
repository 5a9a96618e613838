"""What the server says about itself: INFO and LINKS; and USERS, which it refuses."""

from __future__ import annotations

import platform
import time

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..model import Session
from .operators import uptime


def handle_info(core: ChatBase, session: Session, msg: Message) -> None:
    s = core.settings
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(core.started))
    for line in (
        f"{core.version}: a chat server for IRC clients, and for people in plain text",
        f"{s.server_name} on the {s.network_name} network",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"Started {started}, up {uptime(core.clock() - core.started)}",
    ):
        core.reply(session, n.RPL_INFO, line)
    core.reply(session, n.RPL_ENDOFINFO, "End of INFO list")


def handle_links(core: ChatBase, session: Session, msg: Message) -> None:
    """The network's servers: this one, zero hops away."""
    s = core.settings
    core.reply(session, n.RPL_LINKS, "*", s.server_name, f"0 {core.version} ({s.network_name})")
    core.reply(session, n.RPL_ENDOFLINKS, "*", "End of /LINKS list")


def handle_users(core: ChatBase, session: Session, msg: Message) -> None:
    core.reply(session, n.ERR_USERSDISABLED, "USERS has been disabled; try WHO or LUSERS")
