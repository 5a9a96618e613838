"""Line framing (edge/framing.py): however a stream is cut into reads, the same lines come
out, each ended by LF, CRLF or a lone CR, empty ones dropped, overlong ones cut once."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.edge import framing


class Stream:
    """A connection's framing state, as TcpConnection holds it."""

    def __init__(self, limit: int) -> None:
        self.rest = b""
        self.discarding = False
        self.limit = limit

    def read(self, chunks: list[bytes]) -> list[tuple[bytes, bool]]:
        """Every line framed out of the chunks, read one by one, and whether it was cut."""
        out: list[tuple[bytes, bool]] = []
        for chunk in chunks:
            lines, cut = framing.feed(self, chunk)
            out += [(line, False) for line in lines]
            if cut is not None:
                out.append((cut, True))
        return out


ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
TEXT = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@st.composite
def streams(draw: st.DrawFn, longest: int = 40) -> tuple[bytes, list[bytes]]:
    """A stream of lines with mixed ends (and empty lines), and one way of cutting it."""
    pieces = draw(st.lists(st.tuples(TEXT, ENDS), max_size=12))
    data = b"".join(text + end for text, end in pieces) + draw(TEXT)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=8)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if data[a:b]]
    return data, chunks


def expected(data: bytes, limit: int = 100) -> list[bytes]:
    """The complete lines of the whole stream, read at once, and an unfinished last one
    already over the limit: what any cutting must give."""
    *complete, unfinished = re.split(rb"\r\n|\r|\n", data)
    return [line for line in complete if line] + ([unfinished] if len(unfinished) > limit else [])


@given(streams())
def test_any_cutting_of_a_stream_gives_the_same_lines(stream: tuple[bytes, list[bytes]]) -> None:
    data, chunks = stream
    assert Stream(limit=100).read(chunks) == [(line, False) for line in expected(data)]


@given(streams())
def test_a_line_over_the_limit_comes_out_once_whole_or_cut_and_the_rest_are_untouched(
    stream: tuple[bytes, list[bytes]],
) -> None:
    data, chunks = stream
    limit = 10
    got = Stream(limit).read(chunks)
    want = expected(data, limit)
    # An overlong line is either whole (its end came in the same read) or its first
    # `limit` bytes, flagged as cut; the line after it is never eaten.
    assert len(got) == len(want)
    for (line, cut), whole in zip(got, want, strict=True):
        if cut:
            assert len(whole) > limit and line == whole[:limit]
        else:
            assert line == whole


def test_a_crlf_split_across_two_reads_ends_one_line() -> None:
    assert Stream(100).read([b"NICK a\r", b"\nUSER a 0 * :a\r", b"\n"]) == [
        (b"NICK a", False),
        (b"USER a 0 * :a", False),
    ]
