"""Start the tcpchat server: `python server.py --help`. Works from a fresh clone, no install."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from tcpchat.cli import server_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(server_main(prog="server.py"))
