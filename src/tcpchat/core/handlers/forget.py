"""HISTORY FORGET: a person has the messages they sent deleted from history.

    HISTORY FORGET

Logged in, every message their account sent is forgotten, from any connection, however
long ago (it is what an account proves). Besides, and without an account only, the messages
this connection sent while not logged in: a nick proves nothing (someone else may have had
it before, or have it later), so messages are never forgotten by nick. Joins, parts and
the like stay until they expire. The answer says how many messages went:

    NOTE HISTORY FORGOTTEN <count> :<count> of your messages were forgotten

The deleting runs in short steps on the database's thread (core/retention.py), so the chat
goes on meanwhile; the person's next commands wait for it.
"""

from __future__ import annotations

from ...protocol import Message
from ..base import ChatBase, safe_middle
from ..model import Session

__all__ = ["handle_history"]

USAGE = "Usage: HISTORY FORGET (deletes the messages you sent from the history)"


def handle_history(core: ChatBase, session: Session, msg: Message) -> None:
    sub = msg.param(0).upper()
    if sub != "FORGET":
        core.fail(session, "HISTORY", "INVALID_PARAMS", safe_middle(msg.param(0)[:32]), USAGE)
        return
    user = session.user
    history = core.history
    account = user.account
    msgids = history.unlogged_msgids(user.uid)

    def then(core: ChatBase, session: Session, forgotten: int | None) -> None:
        if forgotten is None:
            core.fail(session, "HISTORY", "INTERNAL_ERROR",
                      "Your messages could not all be forgotten; try again")  # fmt: skip
            return
        history.unlogged.pop(user.uid, None)
        text = f"{forgotten} of your messages {'was' if forgotten == 1 else 'were'} forgotten"
        if account is None:
            text += (
                " (without an account, only those this connection sent; log in to forget "
                "those of your account)"
            )
        core.note(session, "HISTORY", "FORGOTTEN", str(forgotten), text)

    core.later(session, lambda done: history.retention.forget(account, msgids, done), then)
