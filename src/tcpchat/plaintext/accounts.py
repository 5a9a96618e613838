"""Accounts, both directions: /register, /login, /logout, /regain and /verify for people
(and the terminal client), operators' /account, and what the server says of accounts as
sentences.

`/register password` sends `REGISTER * * :password` (IRCv3 draft/account-registration: the
account is named after the current nick). `/login name password` speaks SASL PLAIN after
registration: `CAP REQ :sasl`, `AUTHENTICATE PLAIN`, and the credentials once the server
answers `AUTHENTICATE +`; the password is kept only until then.
"""

from __future__ import annotations

from collections.abc import Callable

from ..accounts.sasl import chunks
from ..protocol import Message
from .state import SessionState
from .text import is_middle

LOGIN_FAILED = "Login failed: wrong account name or password."


class AccountsMixin(SessionState):
    """Typed account commands, and the server's account replies as sentences."""

    _login: tuple[str, str] | None  # /login's name and password, until AUTHENTICATE +

    def _account_commands(self) -> dict[str, Callable[[str], list[str]]]:
        return {
            "register": self._cmd_register,
            "login": self._cmd_login,
            "logout": lambda _args: ["LOGOUT"],
            "regain": self._cmd_regain,
            "verify": self._cmd_verify,
            "account": self._cmd_account,
        }

    def _account_server_commands(self) -> dict[str, Callable[[Message], list[str]]]:
        return {
            "AUTHENTICATE": self._on_authenticate,
            "REGISTER": self._on_account_reply,
            "VERIFY": self._on_account_reply,
        }

    def _account_numerics(self) -> dict[str, Callable[[Message], list[str]]]:
        return {
            "900": self._on_logged_in,
            "902": self._on_login_refused,
            "903": lambda _: [],  # 900 said it
            "904": self._on_login_failed,
            "905": lambda _: self._login_ended("Login failed: that is too long."),
            "906": lambda _: self._login_ended("Login aborted."),
            "907": lambda _: self._login_ended("You are already logged in."),
            "908": lambda _: [],  # the mechanisms offered: for programs
        }

    # -- typed ------------------------------------------------------------------

    def _cmd_register(self, args: str) -> list[str]:
        password = args.strip()
        if not password:
            return self._say("Usage: /register password (your nick becomes your account)")
        return [f"REGISTER * * :{password}"]

    def _cmd_login(self, args: str) -> list[str]:
        words = args.split(None, 1)
        if not words:
            return self._say("Usage: /login name password")
        if len(words) == 1:  # /login password: the account named after our nick
            if self._nick is None:
                return self._say("Usage: /login name password")
            name, password = self._nick, words[0]
        else:
            name, password = words[0], words[1].strip()
        self._login = (name, password)
        return ["CAP REQ :sasl", "AUTHENTICATE PLAIN"]

    def _cmd_regain(self, args: str) -> list[str]:
        words = args.split()
        if not words:
            return ["REGAIN"]
        if not is_middle(words[0]):
            return self._say(f"That isn't a valid name: {words[0]}")
        return [f"REGAIN {words[0]}"]

    def _cmd_verify(self, args: str) -> list[str]:
        words = args.split()
        if len(words) != 2 or not all(is_middle(word) for word in words):
            return self._say("Usage: /verify name code")
        return [f"VERIFY {words[0]} {words[1]}"]

    def _cmd_account(self, args: str) -> list[str]:
        """Server operators: /account info|create|drop|suspend|unsuspend|pending|approve."""
        words = args.split(None, 2)
        if not words or not all(is_middle(word) for word in words[:2]):
            return self._say(
                "Usage: /account info|drop|approve|unsuspend name, /account suspend name "
                "[reason], /account create name password, /account pending"
            )
        line = f"ACCOUNT {words[0].upper()}"
        if len(words) > 1:
            line += f" {words[1]}"
        if len(words) > 2:
            line += f" :{words[2].strip()}"
        return [line]

    # -- from the server ----------------------------------------------------------

    def _on_authenticate(self, msg: Message) -> list[str]:
        """`AUTHENTICATE +`: the server is ready for /login's name and password (PLAIN)."""
        login = self._login
        if login is None or msg.param(0) != "+":
            return []
        self._login = None
        name, password = login
        message = f"{name}\0{name}\0{password}".encode()
        return [f"AUTHENTICATE {part}" for part in chunks(message)]

    def _on_account_reply(self, msg: Message) -> list[str]:
        """REGISTER SUCCESS, REGISTER VERIFICATION_REQUIRED, VERIFY SUCCESS: their words."""
        return self._say(msg.params[-1]) if len(msg.params) >= 3 else []

    def _on_logged_in(self, msg: Message) -> list[str]:
        self._login = None
        account = msg.param(2)
        return self._say(f"You are now logged in as {account}." if account else msg.params[-1])

    def _on_login_failed(self, msg: Message) -> list[str]:
        """904, with the reason after the usual words when the server gives one (ours does:
        `SASL authentication failed: account bob is suspended: spamming`)."""
        _, colon, reason = msg.params[-1].partition(": ") if len(msg.params) >= 2 else ("", "", "")
        reason = reason.strip().rstrip(".")
        return self._login_ended(f"Login failed: {reason}." if colon and reason else LOGIN_FAILED)

    def _on_login_refused(self, msg: Message) -> list[str]:
        return self._login_ended(f"Login failed: {msg.params[-1]}")

    def _login_ended(self, text: str) -> list[str]:
        self._login = None
        return self._say(text)
