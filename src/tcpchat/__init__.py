"""tcpchat: a chat server and terminal client over TCP, speaking IRC to programs and
plain text to people."""

__version__ = "0.1.0"
