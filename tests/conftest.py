"""Servers the tests start as processes keep no data directory unless a test gives one:
they run in memory, so they never share (and lock) ./tcpchat-data."""

import os

os.environ.setdefault("TCPCHAT_DATA_DIR", "none")

# The cluster tests' private redis-server (started only by a test that asks for it).
# ... and nodes of a test cluster on it.
from cluster_harness import cluster  # noqa: E402, F401

# A Docker engine (the one reached, or a private dockerd) and the image built on it.
from docker_harness import docker, image  # noqa: E402, F401

from redis_harness import redis_server, redis_url  # noqa: E402, F401
