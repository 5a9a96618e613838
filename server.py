"""Start the tcpchat server: `python server.py --help`. Works from a fresh clone, no install,
as do `python server.py gen-cert` and `python server.py hash-password`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from tcpchat.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(prog="server.py"))
