"""The PROXY protocol parser (edge/proxy_protocol.py), on bytes: whole headers, headers in
pieces, and everything a broken or hostile proxy might send instead."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.edge.proxy_protocol import (
    MAX_V1,
    SIGNATURE,
    NoHeader,
    ProxyHeader,
    ProxyProtocolError,
    certain,
    parse,
)

V1 = b"PROXY TCP4 192.0.2.7 198.51.100.1 51234 6667\r\n"
V1_SIX = b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 6667\r\n"
CLIENT_DATA = b"NICK alice\r\nUSER alice 0 * :Alice\r\n"


def v2(
    client: str = "192.0.2.7",
    port: int = 51234,
    command: int = 0x1,
    family: int | None = None,
    transport: int = 0x1,
    extra: bytes = b"",
) -> bytes:
    """A version 2 header as HAProxy's send-proxy-v2 writes it (`extra`: TLVs after)."""
    address = ipaddress.ip_address(client)
    kind = socket.AF_INET if address.version == 4 else socket.AF_INET6
    server = "198.51.100.1" if address.version == 4 else "2001:db8::1"
    body = (
        address.packed
        + socket.inet_pton(kind, server)
        + port.to_bytes(2, "big")
        + (6667).to_bytes(2, "big")
        + extra
    )
    fam = family if family is not None else (0x1 if address.version == 4 else 0x2)
    return (
        SIGNATURE
        + bytes([0x20 | command, fam << 4 | transport])
        + len(body).to_bytes(2, "big")
        + body
    )


# ------------------------------------------------------------- whole headers


def test_a_version_1_header_names_the_client_and_its_length_stops_before_the_client_data():
    header = parse(V1 + CLIENT_DATA)
    assert header == ProxyHeader(len(V1), ("192.0.2.7", 51234), 1)


def test_a_version_1_header_for_ipv6():
    assert parse(V1_SIX) == ProxyHeader(len(V1_SIX), ("2001:db8::7", 51234), 1)


def test_version_1_unknown_keeps_the_proxys_address():
    assert parse(b"PROXY UNKNOWN\r\nNICK a\r\n") == ProxyHeader(15, None, 1)
    line = b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"
    assert parse(line) == ProxyHeader(len(line), None, 1)


def test_a_version_2_header_names_the_client_and_skips_its_extensions():
    tlvs = b"\x04\x00\x03abc"  # a TLV (type 4, length 3): read past, not used
    header = v2(extra=tlvs)
    assert parse(header + b"\x16\x03\x01") == ProxyHeader(len(header), ("192.0.2.7", 51234), 2)


def test_a_version_2_header_for_ipv6_and_an_ipv4_mapped_one():
    assert parse(v2("2001:db8::7", 4000)) == ProxyHeader(52, ("2001:db8::7", 4000), 2)
    assert parse(v2("::ffff:192.0.2.7", 4000)).client == ("192.0.2.7", 4000)  # type: ignore[union-attr]


def test_version_2_local_a_health_check_keeps_the_proxys_address():
    local = SIGNATURE + b"\x20\x00\x00\x00"  # what HAProxy's checks send
    assert parse(local + b"GET /healthz HTTP/1.1\r\n") == ProxyHeader(16, None, 2)
    assert parse(v2(command=0x0)) == ProxyHeader(28, None, 2)  # addresses ignored


def test_version_2_unspecified_or_unix_addresses_keep_the_proxys_address():
    assert parse(SIGNATURE + b"\x21\x00\x00\x00") == ProxyHeader(16, None, 2)
    unix = SIGNATURE + b"\x21\x31" + (216).to_bytes(2, "big") + bytes(216)
    assert parse(unix) == ProxyHeader(232, None, 2)


# ------------------------------------------------------------------ in pieces


@pytest.mark.parametrize("header", [V1, V1_SIX, v2(), v2("2001:db8::7"), v2(extra=b"x" * 300)])
def test_a_header_in_pieces_is_read_once_it_is_whole(header: bytes):
    for cut in range(len(header)):
        assert parse(header[:cut]) is None, cut
    assert parse(header + CLIENT_DATA) is not None
    assert parse(header + CLIENT_DATA).length == len(header)  # type: ignore[union-attr]


@given(st.lists(st.integers(min_value=1, max_value=20), max_size=10))
def test_byte_by_byte_or_in_any_pieces_the_same_header(cuts: list[int]):
    stream = v2("2001:db8::7") + CLIENT_DATA
    taken = b""
    for size in cuts + [len(stream)]:
        taken = stream[: len(taken) + size]
        header = parse(taken)
        if header is not None:
            assert header.client == ("2001:db8::7", 51234)
            assert stream[header.length :] == CLIENT_DATA
            return
    raise AssertionError("never whole")


def test_a_beginning_is_certain_only_once_nothing_else_could_start_so():
    assert not certain(b"P") and not certain(b"PROXY") and not certain(b"\r\n")
    assert certain(b"PROXY ") and certain(SIGNATURE)
    assert parse(b"P") is None and parse(b"\r\n") is None  # may still be either


# ------------------------------------------------------------ what is refused


@pytest.mark.parametrize(
    "opening",
    [b"NICK alice\r\n", b"POST / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00", b"\r\nNICK a\r\n",
     b"PROXX TCP4", SIGNATURE[:5] + b"X"],
)  # fmt: skip
def test_something_else_first_is_no_header_and_says_what_it_was(opening: bytes):
    with pytest.raises(NoHeader, match=r"^no PROXY protocol header; the connection opened with"):
        parse(opening)


def test_a_bad_signature_is_no_header():
    with pytest.raises(NoHeader):
        parse(b"\r\n\r\n\x00\r\nQUIZ\n" + bytes(4))


def test_a_version_1_line_too_long_is_refused_once_it_passes_the_bound():
    long = b"PROXY TCP4 " + b"1" * (MAX_V1 - 11)
    assert parse(long[: MAX_V1 - 1]) is None
    with pytest.raises(ProxyProtocolError, match="longer than 107 bytes"):
        parse(long + b"\r\n")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n", "unknown protocol 'TCP5'"),
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n", "without its two addresses and two ports"),
        (b"PROXY TCP4 192.0.2.999 198.51.100.1 1 2\r\n", "source address '192.0.2.999' is not"),
        (b"PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n", "is not IPv4, as TCP4 says"),
        (b"PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n", "is not IPv6, as TCP6 says"),
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", "port '65536' is not a port"),
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n", "port '-1' is not a port"),
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n", "not ended by CR LF"),
        (b"PROXY TCP4 192.0.2.\xe9 198.51.100.1 1 2\r\n", "not ASCII"),
        (b"PROXY  TCP4 192.0.2.7 198.51.100.1 1 2\r\n", "unknown protocol ''"),
    ],
)
def test_a_malformed_version_1_line_says_what_is_wrong(line: bytes, error: str):
    with pytest.raises(ProxyProtocolError, match=error.replace("(", r"\(")) as caught:
        parse(line)
    assert not isinstance(caught.value, NoHeader)


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12), "binary header of version 1, not 2"),
        (SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12), "unknown command 0x2"),
        (v2(family=0x4), "unknown address family 0x4"),
        (v2(transport=0x2), "transport other than TCP"),
        (SIGNATURE + b"\x21\x11\x00\x04" + bytes(4), "IPv4 header too short for its addresses"),
        (SIGNATURE + b"\x21\x21\x00\x0c" + bytes(12), "IPv6 header too short"),
    ],
)
def test_a_malformed_version_2_header_says_what_is_wrong(header: bytes, error: str):
    with pytest.raises(ProxyProtocolError, match=error):
        parse(header)


@given(st.binary(max_size=120))
def test_any_bytes_give_a_header_more_to_wait_for_or_a_clear_error(data: bytes):
    try:
        header = parse(data)
    except ProxyProtocolError as exc:
        assert str(exc)
        return
    assert header is None or 0 < header.length <= len(data)


@given(st.binary(max_size=60))
def test_any_bytes_after_a_certain_start_are_the_headers_or_an_error(rest: bytes):
    for start in (b"PROXY ", SIGNATURE):
        try:
            parse(start + rest)
        except NoHeader:
            raise AssertionError("a certain start taken for no header") from None
        except ProxyProtocolError:
            pass
