"""CAP: capability negotiation (IRCv3 `CAP LS 302`, LIST, REQ, END; NEW and DEL are sent
by `cap_new` / `cap_del` in core/reconfigure.py).

A `CAP LS 302` client gets capability values (`draft/multiline=max-bytes=...`), replies split
over several lines when long (`CAP * LS * :...` on all but the last), and `cap-notify` for the
rest of the connection. A REQ is granted whole or refused whole.
"""

from __future__ import annotations

from ...protocol import Message
from .. import numerics as n
from ..base import ChatBase
from ..capabilities import CAP_NOTIFY, STS, enable, sts_value
from ..model import Session
from .registration import try_register
from .sasl import abort_sasl

CAP_VERSION_302 = 302
LINE_LIMIT = 512  # what every client takes, CRLF included, whatever max_line_bytes says


def handle_cap(core: ChatBase, session: Session, msg: Message) -> None:
    sub = msg.params[0].upper()
    if sub in ("LS", "REQ") and not session.registered:
        session.cap_negotiating = True
    if sub == "LS":
        version = _version(msg.param(1))
        if version >= CAP_VERSION_302 and session.cap_version < CAP_VERSION_302:
            session.cap_version = version
            enable(session, session.caps | {CAP_NOTIFY})  # implied, for good
        tokens = [
            name if value is None or version < CAP_VERSION_302 else f"{name}={value}"
            for name, value in core.capabilities.items()
        ]
        policy = sts_value(core.settings, core.tls_port, session.secure)
        if policy is not None and version >= CAP_VERSION_302:
            tokens.append(f"{STS}={policy}")
        send_cap_list(core, session, "LS", tokens, version >= CAP_VERSION_302)
    elif sub == "LIST":
        tokens = sorted(session.caps)
        send_cap_list(core, session, "LIST", tokens, session.cap_version >= CAP_VERSION_302)
    elif sub == "REQ":
        _request(core, session, msg.param(1))
    elif sub == "END":
        if not session.registered:
            if session.sasl is not None:  # registering in the middle of SASL (sasl-3.1)
                abort_sasl(core, session)
            session.cap_negotiating = False
            try_register(core, session)
    else:
        core.reply(session, n.ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def _version(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 10 else 0


def _request(core: ChatBase, session: Session, wanted: str) -> None:
    """All or nothing: every name offered, and nothing a 302 client may not give up."""
    names = wanted.split()
    caps = set(session.caps)
    granted = bool(names)
    for name in names:
        bare = name.removeprefix("-")
        if bare not in core.capabilities or (
            name == "-" + CAP_NOTIFY and session.cap_version >= CAP_VERSION_302
        ):
            granted = False
            break
        if name.startswith("-"):
            caps.discard(bare)
        else:
            caps.add(bare)
    if granted:
        enable(session, frozenset(caps))
    core.send(session, _cap(core, session, "ACK" if granted else "NAK", wanted))


def _cap(core: ChatBase, session: Session, sub: str, *params: str) -> Message:
    return Message("CAP", [session.user.nick, sub, *params], core.settings.server_name)


def send_cap_list(
    core: ChatBase, session: Session, sub: str, tokens: list[str], may_split: bool
) -> None:
    """`CAP nick SUB :tokens`; for a 302 client, over as many lines as the 512-byte limit
    needs, every line but the last marked with a `*` parameter."""
    if not may_split:
        core.send(session, _cap(core, session, sub, " ".join(tokens)))
        return
    head = f":{core.settings.server_name} CAP {session.user.nick} {sub} * :"
    room = max(LINE_LIMIT - 2 - len(head.encode()), 1)
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and len(line.encode()) + 1 + len(token.encode()) > room:
            lines.append(line)
            line = token
        else:
            line = f"{line} {token}" if line else token
    for text in lines:
        core.send(session, _cap(core, session, sub, "*", text))
    core.send(session, _cap(core, session, sub, line))
