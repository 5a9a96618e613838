"""Start the tcpchat server: `python server.py --help`. Works from a fresh clone, no install,
as do `python server.py gen-cert` and `python server.py hash-password`. A compiled core built
by scripts/compile.sh from this very source runs instead of the pure-Python one."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from tcpchat_boot import prefer_compiled  # noqa: E402

prefer_compiled(ROOT)

from tcpchat.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main(prog="server.py"))
