"""Start the tcpchat client: `python client.py --help`. Works from a fresh clone, no install."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from tcpchat.client.cli import client_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(client_main(prog="client.py"))
