"""Which tcpchat to run: the compiled core when one was built from this very source.

`scripts/compile.sh` compiles the hot path (the protocol, the core, the edge's per-line parts)
with mypyc into `build/compiled/`, a full copy of the package plus the compiled modules, and
stamps it with a hash of the source it was built from. The entry points (`server.py`,
`client.py`) call `prefer_compiled` first: a build whose stamp matches runs; a stale one is
passed over, with one line saying so, never run against newer source. Nothing compiled is
ever needed: without a build, the pure-Python package in `src/` runs.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

STAMP = "COMPILED"  # in the compiled package: the hash of the source it was built from


def source_hash(package: Path) -> str:
    """A hash of every Python file of the package, by relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def compiled_build(root: Path) -> Path | None:
    """The directory holding a fresh compiled `tcpchat` for the source under `root/src`,
    or None (no build, or a stale one: then a line on stderr says so)."""
    build = root / "build" / "compiled"
    stamp = build / "tcpchat" / STAMP
    if not stamp.is_file():
        return None
    if stamp.read_text().strip() != source_hash(root / "src" / "tcpchat"):
        print(
            "tcpchat: the compiled core in build/compiled is older than the source; running "
            "the pure-Python code (scripts/compile.sh rebuilds it)",
            file=sys.stderr,
        )
        return None
    return build


def prefer_compiled(root: Path) -> bool:
    """Put a fresh compiled build ahead of `src` on sys.path; whether there was one."""
    build = compiled_build(root)
    if build is not None:
        sys.path.insert(0, str(build))
    return build is not None
