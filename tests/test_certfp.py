"""SASL EXTERNAL over real TLS: a self-signed client certificate made by openssl logs an
account in by its SHA-256 fingerprint, which a logged-in user ties to the account with CERTFP."""

from __future__ import annotations

import shutil
import ssl

import pytest

from tcpchat.edge.tls import make_self_signed

from net_harness import LineClient, running_server
from sasl_harness import add_account, negotiating, openssl_certificate, plain_login

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def client_context(cert=None, key=None) -> ssl.SSLContext:
    """TLS to our self-signed server (not checked), showing `cert` if given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


@pytest.fixture
def tls_server(tmp_path):
    server_cert, server_key = make_self_signed(tmp_path / "server", "localhost")
    mine, my_key, printed = openssl_certificate(tmp_path, "alice")
    add_account(tmp_path / "data", "Alice", "pw", certfps=(printed.replace(":", "").lower(),))
    settings = {
        "tls_cert": str(server_cert), "tls_key": str(server_key), "tls_port": 0,
        "data_dir": str(tmp_path / "data"),
    }  # fmt: skip
    with running_server(**settings) as server:
        yield server, server.server.tls_port, (mine, my_key, printed), tmp_path


def test_a_self_signed_client_certificate_logs_in_with_external(tls_server):
    server, tls_port, (cert, key, printed), _ = tls_server
    alice = negotiating(tls_port, "alice", ssl_context=client_context(cert, key))
    alice.send("AUTHENTICATE EXTERNAL")
    alice.expect(r"^AUTHENTICATE \+$")
    alice.send("AUTHENTICATE +", "CAP END")
    alice.expect(r" 900 alice alice!alice@127\.0\.0\.1 Alice :You are now logged in as Alice$")
    alice.expect(r" 903 ")
    alice.expect(r" 001 ")
    alice.send("WHOIS alice")  # one's own fingerprint, as openssl prints it but in lower case
    fingerprint = printed.replace(":", "").lower()
    alice.expect(r" 330 alice alice Alice ")
    alice.expect(rf" 276 alice alice :has client certificate fingerprint {fingerprint}$")

    other = LineClient(tls_port, ssl_context=client_context()).register("other")
    other.send("WHOIS alice")  # someone else's: not shown
    other.expect(r" 318 ")
    assert not any(" 276 " in line for line in other.seen)


def test_without_a_certificate_or_with_an_unknown_one_external_fails(tls_server):
    server, tls_port, _, tmp_path = tls_server
    bare = negotiating(tls_port, "bare", ssl_context=client_context())
    bare.send("AUTHENTICATE EXTERNAL")
    bare.expect(r" 904 bare :SASL authentication failed: you did not connect with a TLS client")
    stranger_cert, stranger_key, _ = openssl_certificate(tmp_path, "stranger")
    stranger = negotiating(tls_port, "stranger", ssl_context=client_context(stranger_cert,
                                                                              stranger_key))
    stranger.send("AUTHENTICATE EXTERNAL")
    stranger.expect(r"^AUTHENTICATE \+$")
    stranger.send("AUTHENTICATE +")
    stranger.expect(r" 904 stranger :SASL authentication failed: no account has this certificate")
    bare.send("CAP END")
    bare.expect(r" 001 ")  # a client without a certificate connects as ever


def test_certfp_ties_a_new_certificate_to_an_account_and_unties_it(tls_server):
    server, tls_port, _, tmp_path = tls_server
    laptop, laptop_key, printed = openssl_certificate(tmp_path, "laptop")
    fingerprint = printed.replace(":", "").lower()
    anonymous = LineClient(tls_port, ssl_context=client_context(laptop, laptop_key))
    anonymous.register("anon")
    anonymous.send("CERTFP ADD")
    anonymous.expect(r"FAIL CERTFP ACCOUNT_REQUIRED :Log in first")

    alice = negotiating(tls_port, "alice", ssl_context=client_context(laptop, laptop_key))
    plain_login(alice, "alice", "pw")
    alice.send("CAP END")
    alice.expect(r" 001 ")
    alice.send("CERTFP ADD")  # this connection's certificate
    alice.expect(rf"NOTE CERTFP ADDED {fingerprint} :Certificate {fingerprint} logs you in as ")
    alice.send("CERTFP ADD " + printed)  # the same, as openssl prints it: nothing new
    alice.expect(rf"NOTE CERTFP ADDED {fingerprint} ")
    alice.send("CERTFP ADD nonsense", "CERTFP DEL " + "0" * 64, "CERTFP FROB")
    alice.expect(r"FAIL CERTFP INVALID_FINGERPRINT nonsense :")
    alice.expect(rf"FAIL CERTFP NOT_FOUND {'0' * 64} :")
    alice.expect(r"FAIL CERTFP INVALID_PARAMS FROB :Usage: CERTFP ADD")
    alice.send("CERTFP LIST")
    listed = []
    while True:
        line = alice.expect(r"NOTE CERTFP (FINGERPRINT|END) ").string
        if " END " in line:
            break
        listed.append(line.split()[4])
    assert fingerprint in listed and len(listed) == 2
    assert line.endswith(f":2 certificates log in as Alice; this connection's is {fingerprint}")

    laptop_login = negotiating(tls_port, "alice2", ssl_context=client_context(laptop, laptop_key))
    laptop_login.send("AUTHENTICATE EXTERNAL")
    laptop_login.expect(r"^AUTHENTICATE \+$")
    laptop_login.send("AUTHENTICATE QWxpY2U=")  # authzid "Alice": its own account, fine
    laptop_login.expect(r" 903 ")

    alice.send("CERTFP DEL " + printed)
    alice.expect(rf"NOTE CERTFP REMOVED {fingerprint} :")
    again = negotiating(tls_port, "alice3", ssl_context=client_context(laptop, laptop_key))
    again.send("AUTHENTICATE EXTERNAL")
    again.expect(r"^AUTHENTICATE \+$")
    again.send("AUTHENTICATE +")
    again.expect(r" 904 alice3 :SASL authentication failed: no account has this certificate")


def test_certfp_keeps_a_fingerprint_for_one_account_and_at_most_so_many(tmp_path):
    server_cert, server_key = make_self_signed(tmp_path / "server", "localhost")
    add_account(tmp_path / "data", "Alice", "pw", certfps=("a" * 64,))
    add_account(tmp_path / "data", "bob", "pw")
    settings = {
        "tls_cert": str(server_cert), "tls_key": str(server_key), "tls_port": 0,
        "data_dir": str(tmp_path / "data"), "certfps_per_account": 2,
    }  # fmt: skip
    with running_server(**settings) as server:
        bob = negotiating(server.port, "bob")
        plain_login(bob, "bob", "pw")
        bob.send("CAP END")
        bob.expect(r" 001 ")
        bob.send("CERTFP ADD " + "A" * 64)
        bob.expect(rf"FAIL CERTFP FINGERPRINT_IN_USE {'a' * 64} :")
        bob.send("CERTFP ADD")
        bob.expect(r"FAIL CERTFP NO_CERTIFICATE :You did not connect with a TLS client certificate")
        bob.send("CERTFP ADD " + "b" * 64, "CERTFP ADD " + "c" * 64, "CERTFP ADD " + "d" * 64)
        bob.expect(rf"NOTE CERTFP ADDED {'b' * 64} ")
        bob.expect(rf"NOTE CERTFP ADDED {'c' * 64} ")
        bob.expect(rf"FAIL CERTFP TOO_MANY {'d' * 64} :bob has 2 certificates already")
