"""The terminal client: `tcpchat client` / `python client.py`.

`connection.ChatClient` does the networking (with `plaintext.PlainSession` in
client mode doing the IRC); `terminal` puts a prompt_toolkit prompt on top, and
`piped` serves scripts when stdin is not a terminal. prompt_toolkit is only
imported by `terminal`, so the rest works without it.
"""

from .connection import ChatClient, ClientOptions, ConnectError

__all__ = ["ChatClient", "ClientOptions", "ConnectError"]
