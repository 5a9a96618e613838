"""Accounts, both directions: /register, /login, /logout, /regain and /verify for people
(and the terminal client), operators' /account, and what the server says of accounts as
sentences.

`/register password` sends `REGISTER * * :password` (IRCv3 draft/account-registration: the
account is named after the current nick). `/login [name] password` logs in with SASL, as the
terminal client does (login.py: SCRAM-SHA-256, the password never sent).
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import Message
from .login import LoginMixin
from .text import is_middle


class AccountsMixin(LoginMixin):
    """Typed account commands, and the server's account replies as sentences."""

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
        return {"REGISTER": self._on_account_reply, "VERIFY": self._on_account_reply}

    def _account_numerics(self) -> dict[str, Callable[[Message], list[str]]]:
        return {"902": lambda msg: self._say(f"Login failed: {msg.params[-1]}")}

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
        return self.login(name, password)

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

    def _on_account_reply(self, msg: Message) -> list[str]:
        """REGISTER SUCCESS, REGISTER VERIFICATION_REQUIRED, VERIFY SUCCESS: their words."""
        return self._say(msg.params[-1]) if len(msg.params) >= 3 else []
