"""How long a reload takes, and whether chat stalls meanwhile: prints figures, not a test.

    python bench/reload.py --reloads 20 --clients 200

A server runs with a config file (a TLS certificate, an operator, a MOTD) and `clients`
connected clients in one room, one of them sending a PING every 5 ms. SIGHUP is sent
`reloads` times; each reload is timed from the server's RELOADING=1 (its MONOTONIC_USEC) to
its READY=1 on a notify socket, as systemd sees it, and the longest PING round trip while
reloads run is printed beside the longest without.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from servers import ROOT

sys.path.insert(0, str(ROOT / "src"))


def register(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #room\r\n".encode())
    seen = b""
    while b" 366 " not in seen:
        seen += sock.recv(65536)
    return sock


def pinger(sock: socket.socket, stop: threading.Event, worst: list[float]) -> None:
    """PING every 5 ms; the longest round trip goes in worst[0]."""
    serial = 0
    while not stop.is_set():
        serial += 1
        start = time.perf_counter()
        sock.sendall(f"PING :p{serial}\r\n".encode())
        seen = b""
        while f"p{serial}".encode() not in seen:
            seen += sock.recv(65536)
        worst[0] = max(worst[0], time.perf_counter() - start)
        time.sleep(0.005)  # pacing the load, not synchronising


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    from tcpchat.edge.tls import make_self_signed
    from tcpchat.passwords import hash_password

    with tempfile.TemporaryDirectory(prefix="bench-reload-") as folder:
        here = Path(folder)
        cert, key = make_self_signed(here / "tls", "localhost")
        config = here / "tcpchat.toml"
        operator = hash_password("bench", n=16)
        settings = ('motd = "one"\nmax_connections_per_address = 0\nflood_rate = 0\n'
                    f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
                    f'[operators]\nroot = "{operator}"\n')  # fmt: skip
        config.write_text(settings)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(here / "notify.sock"))
        notify.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": str(here / "notify.sock")}
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
             "--tls-port", "0", "--web-port", "0", "--no-console", "--data-dir", "none",
             "--log-level", "warning", "--config", str(config)],
            env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            ready = notify.recv(4096).decode()
            port = int(ready.split("127.0.0.1:")[1].split(",")[0])
            clients = [register(port, f"user{i}") for i in range(args.clients)]
            stop, worst = threading.Event(), [0.0]
            thread = threading.Thread(target=pinger, args=(clients[0], stop, worst))
            thread.start()
            time.sleep(1.0)  # a second of PINGs without reloads
            took: list[float] = []
            quiet_worst, worst[0] = worst[0], 0.0
            for index in range(args.reloads):
                config.write_text(settings.replace('"one"', f'"reload {index}"'))
                proc.send_signal(signal.SIGHUP)
                reloading = notify.recv(4096).decode()
                assert reloading.startswith("RELOADING=1"), reloading
                started = int(reloading.rpartition("=")[2]) / 1e6
                assert notify.recv(4096) == b"READY=1"
                took.append(time.monotonic() - started)
            stop.set()
            thread.join()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    took.sort()
    print(f"reloads: {len(took)}, with TLS certificate and {args.clients} clients connected")
    print(f"  RELOADING=1 to READY=1: median {statistics.median(took) * 1000:.1f} ms, "
          f"max {took[-1] * 1000:.1f} ms")  # fmt: skip
    print(f"  longest PING round trip: {quiet_worst * 1000:.1f} ms without reloads, "
          f"{worst[0] * 1000:.1f} ms while reloading")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
