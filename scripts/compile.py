"""Compile tcpchat's hot path with mypyc into build/compiled (see src/tcpchat_boot.py).

Usage: python scripts/compile.py [--out DIR]   (scripts/compile.sh sets up mypy first)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tcpchat_boot import STAMP, source_hash  # noqa: E402

# What every line and every delivery runs through. The rest (the CLI, the console, the
# terminal client, TLS set-up) runs rarely and stays interpreted.
HOT = [
    "tcpchat/protocol.py",
    "tcpchat/config.py",
    "tcpchat/core/*.py",
    "tcpchat/core/handlers/*.py",
    "tcpchat/edge/framing.py",
    "tcpchat/edge/flood.py",
    "tcpchat/edge/connection.py",
    "tcpchat/edge/tcp.py",
    "tcpchat/edge/socket_transport.py",
    "tcpchat/edge/websocket.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "compiled")
    out = parser.parse_args().out.resolve()
    source = ROOT / "src" / "tcpchat"
    stamp = source_hash(source)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out / "tcpchat", ignore=shutil.ignore_patterns("__pycache__"))
    modules = sorted(str(p.relative_to(out)) for pattern in HOT for p in out.glob(pattern))
    print(f"compiling {len(modules)} modules with mypyc (a minute or so)...", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *modules],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        print("compile.py: mypyc failed; the pure-Python code still runs", file=sys.stderr)
        return 1
    shutil.rmtree(out / "build", ignore_errors=True)  # mypyc's C sources and objects
    (out / "tcpchat" / STAMP).write_text(stamp + "\n")
    print(f"compiled core in {out}; server.py runs it while the source is unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
