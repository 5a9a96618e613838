"""`PlainSession`: the state and the calls the edge makes, composed from the two directions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..protocol import irc_lower, parse
from .accounts import AccountsMixin
from .commands import CommandMixin
from .login import Login
from .presence import PresenceMixin
from .rendering import RenderingMixin
from .state import NICK_PROMPT, Outbound
from .text import STATUS_PREFIXES, clean_input, is_middle, sane_nick

CONNECTED_TEXT = "Connected to the server. Type 'quit' to end the chat."


class PlainSession(CommandMixin, RenderingMixin, PresenceMixin, AccountsMixin):
    """One plain-text person's side of the conversation with the IRC core.

    Feed what the person types to `from_person` and what the core writes to
    `from_server`; both return IRC lines for the core. Text for the person
    collects until `take_text` (or `take_lines`).

    The terminal client reuses it in outbound mode (`start`): it registers with a
    nick given up front, negotiates CAP, picks another nick when one is taken,
    and joins its rooms, talking to any IRC server instead of our core alone.
    `style_nick` decorates every nick shown (colour, for the client), `style_history`
    every line of earlier messages (dimmed, for the client: history.py). With
    `show_motd` false the message of the day is not shown (the server's default
    one is advice for IRC clients; a person has had their own welcome).
    """

    def __init__(
        self,
        default_channel: str = "#lobby",
        server_name: str = "tcpchat",
        *,
        nick_length: int = 30,
        style_nick: Callable[[str], str] | None = None,
        show_motd: bool = True,
        style_history: Callable[[str], str] | None = None,
    ) -> None:
        self._default_channel = default_channel
        self._show_motd = show_motd
        self._server_name = server_name
        self._nick_length = nick_length
        self._style_nick = style_nick
        self._style_history = style_history
        self._caps_enabled: set[str] = set()
        self._history_batches = {}
        self._search_batches = {}
        self._history_asked: set[str] = set()
        self._history_waiting = None
        self._history_max = 0
        self._seen = {}
        self._outbound: Outbound | None = None
        self._chantypes = "#"
        self._status_prefixes = STATUS_PREFIXES
        self._nick: str | None = None
        # Joined rooms by folded name, in joining order, so the newest is last.
        self._joined: dict[str, str] = {}
        self._current: str | None = None
        self._pending_names: dict[str, list[str]] = {}
        self._pending_rooms: list[tuple[str, str, str]] = []
        self._who_count = 0
        self._ban_count = 0
        self._out: list[str] = []
        self._notify: dict[str, str] = {}
        self._monitor_limit: int | None = None
        self._monitor_listed: list[str] = []
        self._bot_mode = ""
        self._login = None
        self._login_for_reconnect = None
        self._login_failed = False
        self._sasl_mechanisms = None
        self._sasl_enabled = False
        self._commands = (
            self._command_table()
            | self._presence_commands()
            | self._account_commands()
            | self._history_commands()
            | self._search_commands()
        )
        self._server_commands = (
            self._server_command_table()
            | self._presence_server_commands()
            | self._login_server_commands()
            | self._account_server_commands()
        )
        self._numerics = (
            self._numeric_table()
            | self._presence_numerics()
            | self._login_numerics()
            | self._account_numerics()
        )

    # -- what the edge calls ------------------------------------------------

    def greeting(self) -> bytes:
        """The first thing a person sees, so a bare `nc` session is not a mystery."""
        return (
            f"Welcome to {self._server_name}, a chat server. You are in plain-text mode.\r\n"
            "Type /help at any time to list the commands.\r\n"
            f"{NICK_PROMPT}"
        ).encode()

    def start(
        self,
        nick: str,
        channels: Sequence[str] = ("#lobby",),
        current: str | None = None,
        *,
        username: str | None = None,
        realname: str = "tcpchat client",
        welcome_text: str = CONNECTED_TEXT,
        notify: Sequence[str] = (),
        login: tuple[str, str] | None = None,
        seen: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Outbound: the lines that open registration as `nick`.

        After the welcome the session says `welcome_text` and joins `channels`;
        `current` (one of them) becomes the current room, else the first joined.
        The nicks in `notify` are monitored again once the server says it can.
        With `login` (account, password), it logs in with SASL before the welcome,
        and leaves if it can't (login.py). `seen` (`seen_msgids` of the connection before)
        says where each room's history starts when asked for on rejoining (history.py).
        """
        nick = nick if is_middle(nick) else sane_nick(nick)
        self._outbound = Outbound(
            wanted_nick=nick,
            trying=nick,
            channels=[room for room in channels if is_middle(room)],
            prefer_current=irc_lower(current) if current else None,
            welcome_text=welcome_text,
            nick_base=nick,
            tried={irc_lower(nick)},
            notify=[name for name in notify if is_middle(name)],
        )
        self._notify = {irc_lower(name): name for name in self._outbound.notify}
        self._seen = dict(seen or {})
        if login is not None:
            self._login = Login(login[0], login[1], connecting=True)
        self._login_for_reconnect = login  # for the next connection (if it fails, we leave)
        user = sane_nick(username or nick, 18)
        return ["CAP LS 302", f"NICK {nick}", f"USER {user} 0 * :{realname or nick}"]

    def from_person(self, line: str) -> list[str]:
        """One typed line (decoded, no line ending) -> IRC lines for the core."""
        line = clean_input(line)
        stripped = line.strip()
        if not stripped:
            return []
        if stripped.lower() in ("quit", "over"):
            return self._quit_lines(["QUIT :Leaving"])
        if self._nick is None and self._outbound is not None:
            return self._before_welcome(stripped)
        if self._nick is None:
            return self._registration_line(stripped)
        if line.startswith("//"):
            return self._say_in_current(line[1:])
        if line.startswith("/"):
            return self._slash_command(line)
        return self._say_in_current(line)

    def from_server(self, data: bytes) -> list[str]:
        """Complete IRC lines the core wrote to this client -> IRC lines to feed back.

        Text for the person is queued. A final line without CRLF is taken as
        complete too: the core always writes whole lines.
        """
        replies: list[str] = []
        for raw in data.split(b"\n"):
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                msg = parse(raw.decode("utf-8", "replace"))
            except ValueError:
                continue  # not IRC; a person must never see it raw
            replies.extend(self._handle(msg))
        return replies

    def take_text(self) -> bytes:
        """Everything queued for the person, with CRLF line ends for telnet."""
        text, self._out = "".join(self._out), []
        return text.encode("utf-8")

    def take_lines(self) -> list[str]:
        """Everything queued for the person, as lines without their ends (for the client)."""
        text, self._out = "".join(self._out), []
        return text.removesuffix("\r\n").split("\r\n") if text else []

    @property
    def joined_channels(self) -> list[str]:
        """The rooms we are in, oldest first: what a reconnecting client rejoins."""
        return list(self._joined.values())

    @property
    def ready(self) -> bool:
        """Welcomed and done with the rooms joined on connect: typed lines can go out."""
        pending = self._outbound is not None and self._outbound.autojoin_pending
        return self._nick is not None and not pending

    @property
    def quitting(self) -> bool:
        """Outbound: a QUIT has gone out, so the server closing is expected."""
        return self._outbound is not None and self._outbound.quitting

    @property
    def current_channel(self) -> str | None:
        """The room plain lines are said in, or None when in none."""
        return self._current

    @property
    def nick(self) -> str | None:
        """Our nick once the server has welcomed us, None before."""
        return self._nick
