"""Logging in with SASL, the client's side (IRCv3 sasl-3.1/3.2): the terminal client's
`--sasl NAME` while it connects, and its `/login` afterwards; and, for anyone, the login
numerics (900-908) said as sentences.

SCRAM-SHA-256 is used whenever the server may offer it (the password never travels; the
server proves it knows the account's keys too); PLAIN only when the server says it offers
no SCRAM, in its `CAP LS 302` value or in a 908 after refusing it. While connecting, the
welcome waits for the login (`CAP END` is sent once it is over), and a login that fails
ends the connection (`login_failed`): someone who asked to be logged in is told why and is
never left chatting under the nick without the account. A `/login` that fails is only told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..accounts.sasl import Assembler, SaslError, chunks
from ..accounts.scram import ScramClient, ScramError
from ..protocol import Message
from .state import SessionState

SCRAM, PLAIN = "SCRAM-SHA-256", "PLAIN"
FAILED_PREFIX = "SASL authentication failed: "
NO_SASL = "This server doesn't offer SASL, so you can't log in there."


@dataclass(slots=True, eq=False)
class Login:
    """A login under way: whose, how, and how far it got."""

    name: str
    password: str
    connecting: bool  # part of connecting (--sasl), not a /login afterwards
    mechanism: str = ""
    scram: ScramClient | None = None
    step: int = 0  # server messages answered so far
    assembler: Assembler = field(default_factory=Assembler)
    waiting_for_cap: bool = False  # /login asked for the sasl capability first
    problem: str = ""  # why we gave up (AUTHENTICATE *), told when the server agrees


def authenticate_lines(message: bytes) -> list[str]:
    return [f"AUTHENTICATE {part}" for part in chunks(message)]


class LoginMixin(SessionState):
    """SASL for the terminal client, and the login numerics for everyone."""

    _login: Login | None
    _login_failed: bool
    _sasl_mechanisms: tuple[str, ...] | None  # what the server offers, once it says
    _sasl_enabled: bool
    _login_for_reconnect: tuple[str, str] | None

    def _login_server_commands(self) -> dict[str, Callable[[Message], list[str]]]:
        return {"AUTHENTICATE": self._on_authenticate}

    def _login_numerics(self) -> dict[str, Callable[[Message], list[str]]]:
        return {
            "900": self._on_logged_in,
            "901": self._on_logged_out,
            "903": self._on_login_success,
            "904": self._on_login_failure,
            "905": self._on_login_failure,
            "906": self._on_login_aborted,
            "907": self._on_login_already,
            "908": self._on_mechanisms,
        }

    @property
    def login_for_reconnect(self) -> tuple[str, str] | None:
        """Outbound: (account, password) for the client's next connection: the login this one
        was opened with (--sasl), or the last /login that worked; None after a logout."""
        return self._login_for_reconnect

    @property
    def login_failed(self) -> bool:
        """Outbound: the login asked for while connecting failed, so we are leaving."""
        return self._login_failed

    def login(self, name: str, password: str) -> list[str]:
        """`/login name password` (the client's, and a person's on nc): SASL now, asking for
        the capability first if needed."""
        if self._nick is None:
            return self._say("Still connecting to the server; try again in a moment.")
        if self._login is not None:
            return self._say("A login is under way already.")
        if not name or not password or " " in name:
            return self._say("Usage: /login name password")
        login = Login(name, password, connecting=False)
        if self._sasl_enabled:
            self._login = login
            return self._begin(login)
        if self._outbound is not None and "sasl" not in self._outbound.caps_offered:
            return self._say(NO_SASL)
        self._login = login
        login.waiting_for_cap = True
        return ["CAP REQ :sasl"]

    # -- capability negotiation (called by RenderingMixin._on_cap) -------------

    def _note_offered(self, tokens: list[str]) -> None:
        for token in tokens:
            name, _, value = token.partition("=")
            if name == "sasl" and value:
                self._sasl_mechanisms = tuple(value.upper().split(","))

    def _sasl_wanted(self) -> list[str]:
        """CAP REQ's extra capability: sasl, when logging in while connecting."""
        outbound = self._outbound
        login = self._login
        if login is None or not login.connecting or outbound is None:
            return []
        return ["sasl"] if "sasl" in outbound.caps_offered else []

    def _sasl_unavailable(self) -> list[str] | None:
        """Connecting with a login to a server that offers no SASL: the lines that leave."""
        login, outbound = self._login, self._outbound
        if login is None or not login.connecting or outbound is None:
            return None
        if "sasl" in outbound.caps_offered:
            return None
        return self._failed("this server doesn't offer SASL")

    def _cap_answered(self, sub: str, caps: list[str]) -> list[str] | None:
        """A CAP ACK or NAK: the lines that start the login waiting for it, or None when no
        login waits for it (registration goes on as ever)."""
        if sub == "ACK" and "sasl" in caps:
            self._sasl_enabled = True
        login = self._login
        if login is None or login.mechanism or not (login.connecting or login.waiting_for_cap):
            return None
        login.waiting_for_cap = False
        if self._sasl_enabled:
            return self._begin(login)
        return self._failed("the server refused the sasl capability")

    def _welcomed_without_login(self) -> list[str] | None:
        """The welcome came while a login asked for on connecting had not happened (a
        server without CAP): the lines that leave, or None."""
        login = self._login
        if login is None or not login.connecting:
            return None
        return self._failed("the server doesn't do SASL")

    # -- the exchange --------------------------------------------------------------

    def _begin(self, login: Login) -> list[str]:
        offered = self._sasl_mechanisms
        if offered is None or SCRAM in offered:
            login.mechanism = SCRAM
        elif PLAIN in offered:
            login.mechanism = PLAIN
        else:
            return self._failed("the server offers neither SCRAM-SHA-256 nor PLAIN")
        login.scram = ScramClient(login.name, login.password) if login.mechanism == SCRAM else None
        login.step = 0
        login.assembler = Assembler()
        return [f"AUTHENTICATE {login.mechanism}"]

    def _on_authenticate(self, msg: Message) -> list[str]:
        login = self._login
        if login is None or not login.mechanism:
            return []
        try:
            message = login.assembler.add(msg.param(0))
        except SaslError:
            return self._give_up(login, "the server sent a malformed SASL message")
        if message is None:
            return []  # more of it to come
        login.step += 1
        if login.mechanism == PLAIN:
            return authenticate_lines(f"\0{login.name}\0{login.password}".encode())
        scram = login.scram
        assert scram is not None
        try:
            if login.step == 1:
                return authenticate_lines(scram.first())
            if login.step == 2:
                return authenticate_lines(scram.final(message))
            scram.verify(message)
        except ScramError as exc:
            return self._give_up(login, str(exc))
        return ["AUTHENTICATE +"]

    def _give_up(self, login: Login, problem: str) -> list[str]:
        login.problem = problem
        return ["AUTHENTICATE *"]

    # -- how it ended ---------------------------------------------------------------

    def _on_logged_in(self, msg: Message) -> list[str]:
        account = msg.param(2) if len(msg.params) >= 4 else ""
        return self._say(f"You are now logged in as {account}." if account else msg.params[-1])

    def _on_logged_out(self, _msg: Message) -> list[str]:
        self._login_for_reconnect = None
        return self._say("You are now logged out.")

    def _on_login_success(self, _msg: Message) -> list[str]:
        login, self._login = self._login, None
        if login is not None and self._outbound is not None:  # a person's on nc: not kept
            self._login_for_reconnect = (login.name, login.password)
        return self._done_connecting() if login is not None and login.connecting else []

    def _on_login_already(self, msg: Message) -> list[str]:
        login, self._login = self._login, None
        self._say("You are logged in already.")
        return self._done_connecting() if login is not None and login.connecting else []

    def _on_mechanisms(self, msg: Message) -> list[str]:
        if len(msg.params) >= 3:
            self._sasl_mechanisms = tuple(msg.param(1).upper().split(","))
        return []

    def _on_login_failure(self, msg: Message) -> list[str]:
        text = msg.params[-1] if len(msg.params) >= 2 else ""
        reason = text.removeprefix(FAILED_PREFIX) if text.startswith(FAILED_PREFIX) else text
        login = self._login
        if login is None:
            return self._say(f"Login failed: {reason or 'no reason given'}.")
        offered = self._sasl_mechanisms
        if login.mechanism == SCRAM and offered is not None and SCRAM not in offered:
            return self._begin(login)  # the server said (908) it has no SCRAM: PLAIN, then
        if msg.command == "905":
            reason = "the server found the login message too long"
        return self._failed(reason or "no reason given")

    def _on_login_aborted(self, _msg: Message) -> list[str]:
        login = self._login
        if login is None:
            return self._say("Login aborted.")
        return self._failed(login.problem or "aborted")

    def _failed(self, reason: str) -> list[str]:
        """Say why the login failed; while connecting, leave (see the module docstring)."""
        login, self._login = self._login, None
        name = login.name if login is not None else "your account"
        self._say(f"Login as {name} failed: {reason.rstrip('.')}.")
        outbound = self._outbound
        if login is None or not login.connecting or outbound is None:
            return []
        self._login_failed = True
        outbound.quitting = True
        self._say("Not chatting without it; check the name and password, then connect again.")
        return ["QUIT :Login failed"]

    def _done_connecting(self) -> list[str]:
        outbound = self._outbound
        if outbound is None or self._nick is not None or outbound.cap_done:
            return []
        outbound.cap_done = True
        return ["CAP END"]
