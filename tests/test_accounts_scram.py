"""SCRAM-SHA-256 keys and the server side of the exchange, against scramp's client."""

import base64

import pytest
from scramp import ScramClient

from tcpchat.accounts.scram import ScramError, ScramServer, check_password, derive_keys


def exchange(password_typed: str, keys, user: str = "alice") -> bytes:
    client = ScramClient(["SCRAM-SHA-256"], user, password_typed)
    server = ScramServer()
    assert server.start(client.get_client_first().encode()) == user
    client.set_server_first(server.challenge(keys).decode())
    final = server.finish(client.get_client_final().encode())
    client.set_server_final(final.decode())  # the client checks the server's signature
    return final


def test_the_right_password_logs_in_and_the_server_proves_it_knows_the_keys():
    keys = derive_keys("correct horse")
    assert exchange("correct horse", keys).startswith(b"v=")


def test_a_wrong_password_or_an_unknown_user_is_refused_alike():
    keys = derive_keys("correct horse")
    with pytest.raises(ScramError, match="wrong proof"):
        exchange("battery staple", keys)
    with pytest.raises(ScramError, match="wrong proof"):
        exchange("anything", None)


def test_plain_is_checked_against_the_same_keys_and_nothing_stores_the_password():
    keys = derive_keys("s3cret", iterations=4096)
    assert check_password("s3cret", keys)
    assert not check_password("s3cret ", keys)
    assert b"s3cret" not in keys.salt + keys.stored_key + keys.server_key


def test_a_replayed_or_tampered_final_message_is_refused():
    keys = derive_keys("pw")
    client = ScramClient(["SCRAM-SHA-256"], "alice", "pw")
    server = ScramServer()
    server.start(client.get_client_first().encode())
    client.set_server_first(server.challenge(keys).decode())
    final = client.get_client_final()
    other_nonce = final.replace("r=", "r=x", 1)
    with pytest.raises(ScramError, match="nonce"):
        server.finish(other_nonce.encode())
    binding = final.replace("c=biws", "c=" + base64.b64encode(b"y,,").decode())
    with pytest.raises(ScramError, match="binding"):
        server.finish(binding.encode())


@pytest.mark.parametrize(
    "first",
    [b"", b"n,,", b"n,,r=abc", b"n,,n=alice", b"p=tls-unique,,n=a,r=b", b"x,,n=a,r=b",
     b"n,,n=al=ice,r=b", b"\xff\xfe", b"n,,m=ext,n=a,r=b"],
)  # fmt: skip
def test_malformed_first_messages_are_refused_with_a_reason(first):
    with pytest.raises(ScramError):
        ScramServer().start(first)


def test_escaped_user_names_are_unescaped():
    server = ScramServer()
    assert server.start(b"n,,n=a=2Cb=3Dc,r=nonce") == "a,b=c"
