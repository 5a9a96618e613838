"""InspIRCd, a second server to compare tcpchat with (beside ngIRCd), in the same run.

Debian's package (3.x), installed if missing, run in the foreground with a config of its own
in a temporary directory: one bind on 127.0.0.1 and a free port, and a connect class whose
flood, queue and clone limits are lifted as bench/unlimited.toml lifts tcpchat's.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from servers import ServerProcess, ensure_package, free_port, pinned, wait_listening

# threshold is kept below 2**32 / 1000: InspIRCd multiplies it by 1000 in an unsigned int.
# commandrate is in thousandths of a command per second; softsendq is how much a client's own
# unsent output may hold before InspIRCd stops reading its commands (a throttle, so large).
INSPIRCD_CONF = """\
<server name="bench.inspircd" description="benchmark" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<path configdir="{dir}" datadir="{dir}" logdir="{dir}">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="main" allow="*" maxchans="100000" timeout="3600" pingfreq="3600"
         recvq="16M" softsendq="256M" hardsendq="1G" threshold="4000000"
         commandrate="4000000000" fakelag="no" localmax="1000000" globalmax="1000000"
         limit="1000000" maxconnwarn="no" resolvehostnames="no" useident="no">
<cidr ipv4clone="32" ipv6clone="128">
<files motd="{dir}/motd.txt">
<performance netbuffersize="65536" somaxconn="65535" softlimit="1000000"
             clonesonconnect="no" quietbursts="yes">
<limits maxaway="200" maxchan="64" maxhost="64" maxident="30" maxkick="300" maxmodes="20"
        maxnick="30" maxquit="300" maxreal="130" maxtopic="330">
<whowas groupsize="0" maxgroups="0" maxkeep="1">
"""


def start_inspircd() -> ServerProcess:
    """InspIRCd in the foreground, pinned to CPU 0; as root only when the bench is (CI)."""
    binary = ensure_package("inspircd", "inspircd")
    workdir = tempfile.TemporaryDirectory(prefix="bench-inspircd-")
    folder = Path(workdir.name)
    port = free_port()
    conf = folder / "inspircd.conf"
    conf.write_text(INSPIRCD_CONF.format(port=port, dir=folder))
    (folder / "motd.txt").write_text("")
    log = folder / "output.txt"
    with log.open("w") as errors:
        proc = subprocess.Popen(
            pinned([binary, "--config", str(conf), "--nofork", "--nopid", "--runasroot"], 0),
            stdout=errors,  # where it says what is wrong with its config
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            wait_listening(port, timeout=0.5)
            return ServerProcess("inspircd", "127.0.0.1", port, proc, workdir)
        except SystemExit:
            continue
    proc.kill()
    proc.wait()
    reason = log.read_text().strip()[-2000:]
    workdir.cleanup()
    raise SystemExit(f"inspircd did not start on port {port}: {reason or 'no output'}")
