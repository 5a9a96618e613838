"""ACCOUNT: server operators look after accounts (481 for anyone else).

    ACCOUNT INFO <name>               what is known of an account, and who is logged in to it
    ACCOUNT CREATE <name> <password>  make an account (even with registration turned off)
    ACCOUNT DROP <name>               delete it, with the channels it registered
    ACCOUNT SUSPEND <name> [:reason]  no one may log in to it; its nick stays reserved
    ACCOUNT UNSUSPEND <name>          lift a suspension
    ACCOUNT PENDING                   the accounts waiting for VERIFY, with their codes
    ACCOUNT APPROVE <name>            verify a waiting account without its code

Answers are server NOTICEs, and refusals `FAIL ACCOUNT <code> <name> :<why>`. Whoever is
logged in to an account that is dropped or suspended is logged out (901, and a NOTICE
saying why), wherever they are connected. Every change is logged with the operator's nick.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ...protocol import Message, irc_lower, safe_middle
from ...store.accounts import (
    Account,
    certfps_of,
    delete_account,
    get_account,
    pending_accounts,
    set_suspended,
    set_verified,
)
from .. import numerics as n
from ..base import ChatBase
from ..log_fields import about_session
from ..model import Session, User
from .accounts import name_problem, new_keys, password_problem, settle_nick
from .ownership import revoke

__all__ = ["SUBCOMMANDS", "handle_account"]

log = logging.getLogger("tcpchat.core")

Run = Callable[[ChatBase, Session, list[str]], None]


def handle_account(core: ChatBase, session: Session, msg: Message) -> None:
    sub = msg.params[0].upper()
    entry = SUBCOMMANDS.get(sub)
    if entry is None:
        core.fail(
            session, "ACCOUNT", "UNKNOWN_SUBCOMMAND", safe_middle(msg.params[0]),
            "ACCOUNT takes INFO, CREATE, DROP, SUSPEND, UNSUSPEND, PENDING or APPROVE",
        )  # fmt: skip
        return
    needed, run = entry
    args = msg.params[1:]
    if len(args) < needed or not all(args[:needed]):
        core.reply(session, n.ERR_NEEDMOREPARAMS, "ACCOUNT", "Not enough parameters")
        return
    run(core, session, args)


def _fail(core: ChatBase, session: Session, code: str, name: str, text: str) -> None:
    core.fail(session, "ACCOUNT", code, safe_middle(name), text)


def _unavailable(core: ChatBase, session: Session, name: str) -> None:
    _fail(core, session, "TEMPORARILY_UNAVAILABLE", name, "The database failed; see the log")


def _no_such(core: ChatBase, session: Session, name: str) -> None:
    _fail(core, session, "NO_SUCH_ACCOUNT", name, f"There is no account {name}")


def _folded(core: ChatBase, session: Session, name: str) -> str | None:
    """The key of account `name`, or None (told) when no account can have that name."""
    if not core.valid_nick(name):
        _no_such(core, session, name)
        return None
    return irc_lower(name)


def _store(
    core: ChatBase,
    session: Session,
    work: Callable[[sqlite3.Connection], Any],
    then: Callable[[ChatBase, Session, Any], None],
) -> None:
    """Run `work` on the database's thread; `then` gets its result (None if it failed)."""
    core.later(session, lambda done: core.accounts.update(work, done), then)


def _change(
    core: ChatBase,
    session: Session,
    name: str,
    work: Callable[[sqlite3.Connection], bool],
    done: Callable[[ChatBase, Session], None],
) -> None:
    """Change the account `name` on the database's thread; `done` runs once it has. A
    failed write, or no such account, is said instead."""

    def then(core: ChatBase, session: Session, ok: bool | None) -> None:
        if ok is None:
            _unavailable(core, session, name)
        elif not ok:
            _no_such(core, session, name)
        else:
            done(core, session)

    _store(core, session, work, then)


def logged_in_to(core: ChatBase, folded: str) -> list[User]:
    """Everyone on the network logged in to the account `folded`."""
    return [
        user
        for user in core.state.all_users()
        if user.account is not None and irc_lower(user.account) == folded
    ]


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


# ------------------------------------------------------------------ subcommands


def _info(core: ChatBase, session: Session, args: list[str]) -> None:
    name = args[0]
    folded = _folded(core, session, name)
    if folded is None:
        return

    def read(c: sqlite3.Connection) -> tuple[Account | None, list[str]]:
        return get_account(c, folded), certfps_of(c, folded)

    def answer(core: ChatBase, session: Session, found: tuple[Account | None, list[str]]) -> None:
        if found is None:
            _unavailable(core, session, name)
            return
        account, certfps = found
        if account is None:
            _no_such(core, session, name)
            return
        shown = account.name
        lines = [
            f"Account {shown}: registered {_when(account.created)}, "
            f"e-mail {account.email or 'none'}",
            f"{shown} is waiting for VERIFY (code {account.verify_code})"
            if account.verify_code is not None
            else f"{shown} is verified",
        ]
        if account.suspended is not None:
            lines.append(f"{shown} is suspended: {account.suspended}")
        if certfps:
            lines.append(f"{shown} logs in by certificate too: {', '.join(certfps)}")
        users = logged_in_to(core, folded)
        lines.append(
            f"Logged in to {shown} now: {', '.join(user.source for user in users)}"
            if users
            else f"Nobody is logged in to {shown} now"
        )
        for line in lines:
            core.notice(session, line)

    core.later(session, lambda done: core.accounts.read(read, done), answer)


def _create(core: ChatBase, session: Session, args: list[str]) -> None:
    name, password = args[0], args[1]
    problem = name_problem(core, name)
    if problem is not None:
        _fail(core, session, "BAD_ACCOUNT_NAME", name, problem)
        return
    refused = password_problem(core, name, password)
    if refused is not None:
        _fail(core, session, refused[0], name, refused[1])
        return
    folded = irc_lower(name)
    if folded in core.account_names:
        _fail(core, session, "ACCOUNT_EXISTS", name, f"{name} is already registered")
        return
    iterations = core.settings.password_iterations

    def hashed(core: ChatBase, session: Session, keys: Any) -> None:
        if keys is None:
            _unavailable(core, session, name)
            return
        account = Account(folded, name, None, keys, core.clock())

        def created(core: ChatBase, session: Session, ok: bool | None) -> None:
            if ok is None:
                _unavailable(core, session, name)
            elif not ok:
                _fail(core, session, "ACCOUNT_EXISTS", name, f"{name} is already registered")
            else:
                log.warning("%s created the account %s", session.user.nick, name,
                            extra=about_session("account_created", session, account=name))
                core.account_names.add(folded)
                core.notice(session, f"Account {name} created")
                settle_nick(core, name)

        core.later(session, lambda done: core.accounts.create(account, done), created)

    core.off_loop(session, lambda: new_keys(password, iterations), hashed)


def _drop(core: ChatBase, session: Session, args: list[str]) -> None:
    name = args[0]
    folded = _folded(core, session, name)
    if folded is None:
        return

    def dropped(core: ChatBase, session: Session) -> None:
        log.warning("%s dropped the account %s", session.user.nick, name,
                    extra=about_session("account_dropped", session, account=name))
        core.account_names.discard(folded)
        rooms = core.channel_registry.forget_account(folded)
        for user in logged_in_to(core, folded):
            revoke(core, user, f"the account {name} was dropped by an operator")
        kept = f", and the channels it registered: {', '.join(rooms)}" if rooms else ""
        core.notice(session, f"Account {name} dropped{kept}")

    _change(core, session, name, lambda c: delete_account(c, folded), dropped)


def _suspend(core: ChatBase, session: Session, args: list[str]) -> None:
    name = args[0]
    reason = " ".join(args[1:]).strip() or "no reason given"
    folded = _folded(core, session, name)
    if folded is None:
        return

    def suspended(core: ChatBase, session: Session) -> None:
        log.warning("%s suspended the account %s: %s", session.user.nick, name, reason,
                    extra=about_session("account_suspended", session, account=name,
                                        reason=reason))  # fmt: skip
        for user in logged_in_to(core, folded):
            revoke(core, user, f"the account {name} was suspended by an operator ({reason})")
        core.notice(session, f"Account {name} suspended: {reason}")

    _change(core, session, name, lambda c: set_suspended(c, folded, reason), suspended)


def _unsuspend(core: ChatBase, session: Session, args: list[str]) -> None:
    name = args[0]
    folded = _folded(core, session, name)
    if folded is None:
        return

    def lifted(core: ChatBase, session: Session) -> None:
        log.warning("%s lifted the suspension of the account %s", session.user.nick, name,
                    extra=about_session("account_unsuspended", session, account=name))
        core.notice(session, f"Account {name} is not suspended; it may log in")

    _change(core, session, name, lambda c: set_suspended(c, folded, None), lifted)


def _pending(core: ChatBase, session: Session, args: list[str]) -> None:
    def listed(core: ChatBase, session: Session, accounts: list[Account] | None) -> None:
        if accounts is None:
            _unavailable(core, session, "*")
            return
        if not accounts:
            core.notice(session, "No account is waiting for VERIFY")
            return
        for account in accounts:
            email = f", e-mail {account.email}" if account.email else ""
            core.notice(
                session,
                f"{account.name} waits for VERIFY {account.name} {account.verify_code} "
                f"(since {_when(account.created)}{email})",
            )
        core.notice(session, f"{len(accounts)} waiting; ACCOUNT APPROVE name approves one")

    core.later(session, lambda done: core.accounts.read(pending_accounts, done), listed)


def _approve(core: ChatBase, session: Session, args: list[str]) -> None:
    name = args[0]
    folded = _folded(core, session, name)
    if folded is None:
        return

    def approve(c: sqlite3.Connection) -> bool | str:
        account = get_account(c, folded)
        if account is None:
            return False
        if account.verify_code is None:
            return "verified"
        return set_verified(c, folded)

    def approved(core: ChatBase, session: Session, result: bool | str | None) -> None:
        if result is None:
            _unavailable(core, session, name)
        elif result is False:
            _no_such(core, session, name)
        elif result == "verified":
            core.notice(session, f"Account {name} is verified already")
        else:
            log.warning("%s approved the account %s", session.user.nick, name,
                        extra=about_session("account_approved", session, account=name))
            core.account_names.add(folded)
            core.notice(session, f"Account {name} approved; its owner may log in")
            settle_nick(core, name)

    core.later(session, lambda done: core.accounts.read(approve, done), approved)


SUBCOMMANDS: dict[str, tuple[int, Run]] = {
    "INFO": (1, _info),
    "CREATE": (2, _create),
    "DROP": (1, _drop),
    "SUSPEND": (1, _suspend),
    "UNSUSPEND": (1, _unsuspend),
    "PENDING": (0, _pending),
    "APPROVE": (1, _approve),
}
