"""Mode letters and what the server tells clients about itself (ISUPPORT, MYINFO).

Every letter the core understands is written here once; the MODE handler, the state and the
replies advertising them all read these, so what is advertised is what is enforced.
"""

from __future__ import annotations

from ..config import Settings

# Channel modes by kind, as ISUPPORT's CHANMODES=A,B,C,D groups them.
# A: lists of nick!user@host masks; a parameter to add or remove, none to show the list.
BAN_MODE = "b"  # banned: may not join, nor speak
EXCEPT_MODE = "e"  # ban exceptions (EXCEPTS): a ban does not apply to them
INVEX_MODE = "I"  # invite exceptions (INVEX): join an invite-only (+i) channel uninvited
LIST_MODES = BAN_MODE + EXCEPT_MODE + INVEX_MODE
KEY_MODES = "k"  # B: a parameter to set and to unset
LIMIT_MODES = "l"  # C: a parameter to set only
# D: no parameter. U (unrecorded): the channel's messages and events are not kept in history.
UNRECORDED_MODE = "U"
FLAG_MODES = frozenset("imnst" + UNRECORDED_MODE)
# Member statuses, highest first, with the prefix shown before a nick.
STATUS_MODES = "ov"
STATUS_PREFIXES = "@+"
PARAM_MODES = LIST_MODES + KEY_MODES + LIMIT_MODES + STATUS_MODES
CHANNEL_MODES = "".join(sorted(set(PARAM_MODES) | FLAG_MODES))

DEFAULT_CHANNEL_MODES = frozenset("nt")

# User modes: i (invisible: hidden from WHO of strangers), o (server operator; set by OPER),
# B (a bot, IRCv3 bot-mode: marked in WHO and WHOIS, and its messages tagged `bot`),
# w (receives WALLOPS).
BOT_MODE = "B"
USER_MODES = "Biow"
USER_SETTABLE_MODES = frozenset("Biw")  # by MODE nick +x; o only by OPER, given up with -o

# LIST's filters (listing.py): creation time, masks, masks not matching, topic time, users.
ELIST = "CMNTU"

CASEMAPPING = "rfc1459"
CHANNEL_TYPES = "#"


def chanmodes() -> str:
    return f"{LIST_MODES},{KEY_MODES},{LIMIT_MODES},{''.join(sorted(FLAG_MODES))}"


def myinfo(settings: Settings, version: str) -> list[str]:
    """RPL_MYINFO's parameters: server, version, user modes, channel modes, those with a
    parameter."""
    return [
        settings.server_name,
        version,
        USER_MODES,
        CHANNEL_MODES,
        "".join(sorted(PARAM_MODES)),
    ]


def isupport_tokens(settings: Settings) -> list[str]:
    """The ISUPPORT (005) tokens; every one reflects a limit the core enforces."""
    s = settings
    targets = s.targets_per_message
    tokens = [
        f"AWAYLEN={s.away_length}",
        f"BOT={BOT_MODE}",
        f"CASEMAPPING={CASEMAPPING}",
        f"CHANLIMIT={CHANNEL_TYPES}:{s.channels_per_user}",
        f"CHANMODES={chanmodes()}",
        f"CHANNELLEN={s.channel_length}",
        f"CHANTYPES={CHANNEL_TYPES}",
        *([f"CHATHISTORY={s.chathistory_max}"] if s.history else []),
        f"HOSTLEN={s.host_length}",
        f"ELIST={ELIST}",
        f"EXCEPTS={EXCEPT_MODE}",
        f"INVEX={INVEX_MODE}",
        f"KEYLEN={s.key_length}",
        f"KICKLEN={s.kick_length}",
        "KNOCK",
        f"MAXLIST={LIST_MODES}:{s.max_list_entries}",
        f"MODES={s.modes_per_command}",
        f"MONITOR={s.monitor_limit}",
        # CHATHISTORY's message references, most preferred first
        *(["MSGREFTYPES=msgid,timestamp"] if s.history else []),
        f"NAMELEN={s.realname_length}",
        f"NETWORK={s.network_name}",
        f"NICKLEN={s.nick_length}",
        f"PREFIX=({STATUS_MODES}){STATUS_PREFIXES}",
        "SAFELIST",
        f"STATUSMSG={STATUS_PREFIXES}",
        # Commands that take several targets, and how many: PRIVMSG and NOTICE up to the
        # setting; TAGMSG, WHOIS and WHOWAS one; the others, as many as fit in a line.
        f"TARGMAX=PRIVMSG:{targets},NOTICE:{targets},TAGMSG:1,JOIN:,PART:,KICK:,NAMES:,LIST:,"
        "WHOIS:1,WHOWAS:1",
        f"TOPICLEN={s.topic_length}",
        f"USERLEN={s.user_length}",
        "WHOX",
    ]
    if s.utf8_only:
        tokens.append("UTF8ONLY")
    return tokens
