"""`python server.py` as a user runs it: flags, config file, port 0, graceful shutdown."""

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.passwords import verify_password

from net_harness import LineClient, start_server_printing, start_server_process

ROOT = Path(__file__).resolve().parent.parent


def start(*args: str) -> tuple[subprocess.Popen, int]:
    return start_server_process(*args)


def test_help_explains_every_option():
    out = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--help"], capture_output=True, text=True
    ).stdout
    for option in ("--host", "--port", "--no-console", "--config", "--log-level"):
        assert option in out


def test_module_and_console_script_entry_points_show_help():
    out = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
    ).stdout
    assert "--port" in out
    out = subprocess.run(
        [sys.executable, "-m", "tcpchat", "client", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
    ).stdout
    assert "--nick" in out and "--join" in out and "--tls" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_port_zero_prints_the_port_and_sigterm_says_it_restarts(host):
    proc, port = start("--host", host)
    try:
        client = LineClient(port, host=host).register("alice")
        proc.send_signal(signal.SIGTERM)
        lines = client.expect_closed()
        assert any(line.startswith("ERROR :") and "Server restarting" in line for line in lines)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_config_file_sets_names_and_motd_and_flags_override(tmp_path):
    config = tmp_path / "tcpchat.toml"
    config.write_text(
        'server_name = "irc.example"\nnetwork_name = "Example"\nmotd = "Be kind."\n'
        "[server]\nnick_length = 12\n"
    )
    proc, port = start("--host", "127.0.0.1", "--config", str(config), "--network-name", "Flag")
    try:
        client = LineClient(port)
        client.send("NICK alice", "USER alice 0 * :A")
        client.expect(r"^:irc\.example 001 alice :Welcome to the Flag IRC Network")
        client.expect(r" 005 .*NICKLEN=12 ")
        client.expect(r" 372 alice :- Be kind\.$")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_bad_config_file_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("prot = 7\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown setting 'prot'" in result.stderr
    assert "Traceback" not in result.stderr


def refused(*args: str) -> subprocess.CompletedProcess:
    """Run the server with settings it must refuse: it exits at once, never listening."""
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--no-console", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "99999"], "server.py: --port 99999: must be between 0 and 65535"),
        (["--port", "-1"], "server.py: --port -1: must be between 0 and 65535"),
        (["--tls-port", "70000"], "server.py: --tls-port 70000: must be between 0 and 65535"),
        (["--server-name", "my server"],
         "server.py: --server-name 'my server': must be a name without spaces"),
    ],
)  # fmt: skip
def test_out_of_range_flags_are_refused_in_one_line(flags, message):
    result = refused(*flags)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("port = 70000", "port = 70000: must be between 0 and 65535"),
        ("flood_rate = -1", "flood_rate = -1: must be between 0 and 1000000"),
        ("max_line_bytes = 5", "max_line_bytes = 5: must be between 512 and 1048576"),
        ("nick_length = 0", "nick_length = 0: must be between 9 and 255"),
        ("ping_timeout = 0", "ping_timeout = 0: must be more than 0"),
        ("ping_timeout = nan", "ping_timeout = nan: must be a finite number"),
        ("[server]\nflood_burst = 0", "flood_burst = 0: must be between 1 and 16777216"),
        ('port = "6667"', 'port = "6667": must be an integer (between 0 and 65535)'),
        ("port = true", "port = true: must be an integer (between 0 and 65535)"),
        ('ping_interval = "2m"', 'ping_interval = "2m": must be a number (more than 0)'),
        ('log_level = "loud"', 'log_level = "loud": must be one of debug, info, warning, error'),
        ('reserved_nicks = "Server"', 'reserved_nicks = "Server": must be a list of strings'),
        ('default_channel = "lobby"', 'default_channel = "lobby": must be a room name'),
    ],
)
def test_out_of_range_config_values_are_refused_in_one_line(tmp_path, line, problem):
    config = tmp_path / "config.toml"
    config.write_text(line + "\n")
    result = refused("--port", "0", "--config", str(config))
    assert result.returncode == 2
    [said] = result.stderr.splitlines()
    assert said.startswith(f"server.py: {config}: {problem}")


def test_zero_means_off_where_the_readme_says_so(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("flood_rate = 0\nmax_connections_per_address = 0\nsocket_send_buffer = 0\n")
    proc, port = start("--host", "127.0.0.1", "--config", str(config))
    try:
        LineClient(port).register("alice")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


# ------------------------------------------------ the helpers from a fresh clone

# The interpreter the virtualenv was made from: nothing of tcpchat installed in it.
BARE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")


def from_clone(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """`python3 -I server.py ARGS`: isolated mode, no install, no PYTHONPATH, from elsewhere."""
    return subprocess.run(
        [BARE_PYTHON, "-I", str(ROOT / "server.py"), *args],
        input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip


def test_the_bare_python_really_has_no_tcpchat():
    done = subprocess.run([BARE_PYTHON, "-I", "-c", "import tcpchat"], capture_output=True)
    assert done.returncode != 0


def test_server_py_makes_a_certificate_without_an_install(tmp_path):
    done = from_clone("gen-cert", "--out", str(tmp_path / "tls"), "--host", "localhost",
                      cwd=tmp_path)  # fmt: skip
    if "neither the openssl command" in done.stderr:
        pytest.skip("no openssl command and no cryptography package to make a certificate")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tls" / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    # The hints it prints work from the clone too.
    assert f"python server.py --tls-cert {tmp_path}/tls/cert.pem" in done.stdout
    assert "python client.py localhost --tls" in done.stdout


def test_gen_cert_writes_into_tls_by_default(tmp_path):
    done = from_clone("gen-cert", "--host", "localhost", cwd=tmp_path)
    if "neither the openssl command" in done.stderr:
        pytest.skip("no openssl command and no cryptography package to make a certificate")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["cert.pem", "key.pem"]


def test_server_py_hashes_a_password_without_an_install(tmp_path):
    done = from_clone("hash-password", "--name", "alice", cwd=tmp_path, stdin="sesame\n")
    assert done.returncode == 0, done.stderr
    name, _, hashed = done.stdout.strip().partition(" = ")
    assert name == "alice"
    assert verify_password("sesame", hashed.strip('"'))


def test_server_py_help_mentions_the_helpers():
    out = subprocess.run(
        [BARE_PYTHON, "-I", str(ROOT / "server.py"), "--help"], capture_output=True, text=True
    ).stdout
    assert "python server.py gen-cert" in out and "python server.py hash-password" in out


def test_generated_keys_and_data_are_ignored_by_git(tmp_path):
    for path in ("tls/key.pem", "tls/cert.pem", "tcpchat-data/tcpchat.db"):
        done = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, capture_output=True
        )
        assert done.returncode == 0, f"{path} is not ignored by .gitignore"


# ------------------------------------------------------------ the open-file limit


def startup_log(limits: tuple[int, int], *args: str) -> list[str]:
    """What a server started under the open-file `limits` (soft, hard) logs before serving."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", "0",
         "--web-port", "0", "--no-console", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # blocks until the server prints; the test timeout bounds it
        if line.startswith("Server is waiting for connections"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return [line for line in err.splitlines() if "open-file limit" in line]


def fd_limits() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def test_open_file_limit_is_not_mentioned_when_it_can_be_raised_to_fit(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("max_connections = 1000\n")
    hard = fd_limits()[1]
    assert startup_log((256, hard), "--config", str(config)) == []


def test_open_file_limit_is_not_mentioned_when_it_holds_every_connection():
    """A hard limit of exactly max_connections (20000 here by default) is no constraint worth
    a line: only the server's own few descriptors come out of it."""
    hard = fd_limits()[1]
    if hard != resource.RLIM_INFINITY and hard < 20000:
        pytest.skip(f"the hard open-file limit here is {hard}")
    assert startup_log((1024, 20000)) == []


def test_an_open_file_limit_that_constrains_is_said_in_one_line():
    [line] = startup_log((512, 512))
    assert "WARNING" in line
    assert line.endswith(
        "open-file limit 512 allows only 448 of max_connections=20000 connections; raise "
        "the hard limit to 20064 (ulimit -Hn 20064 as root, LimitNOFILE=20064 for a "
        "systemd service) or lower max_connections"
    ), line


def test_web_host_puts_the_web_port_on_its_own_address():
    proc, port, printed = start_server_printing(
        "--host", "127.0.0.1", "--web-port", "-1", "--web-host", "127.0.0.3"
    )
    try:
        web = [line for line in printed if line.startswith("Listening (web: http) on ")]
        assert len(web) == 1 and web[0].startswith("Listening (web: http) on 127.0.0.3:"), printed
        assert f"Listening on 127.0.0.1:{port}" in printed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
