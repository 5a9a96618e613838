"""Servers the tests start as processes keep no data directory unless a test gives one:
they run in memory, so they never share (and lock) ./tcpchat-data."""

import os

os.environ.setdefault("TCPCHAT_DATA_DIR", "none")
