"""The HTTP/1.1 response reader, pure: against h11 as the oracle, and one test per RFC rule.

The differential test builds responses of every framing (statuses with interim 1xx heads,
Content-Length, chunked with extensions and trailers, read-to-close, HTTP/1.0, keep-alive and
close, and heads or framings that are invalid), cuts them anywhere, and checks that our reader
gives the same head, body bytes and reuse decision as ``h11.Connection(h11.CLIENT)``, or an
error where h11 raises one. Where we are stricter than h11 on purpose, the test says so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_anyio._http._http11 import (
    ChunkedDecoder,
    FramingError,
    IncompleteBody,
    ResponseReader,
    parse_head,
    request_head,
)

# -- the oracle ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a reader made of a response: its head, body and reuse decision, or an error."""

    error: bool
    status: int = 0
    reason: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    reusable: bool = False


_FRAMING = (b"content-length", b"transfer-encoding")


def _comparable(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    # h11 normalises the framing headers' values; the others must be equal as received.
    return tuple((n.lower(), v) for n, v in headers if n.lower() not in _FRAMING)


def with_h11(method: bytes, pieces: list[bytes]) -> Outcome:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    head: h11.Response | None = None
    body = b""
    try:
        for piece in [*pieces, b""]:  # b"": the server closes the connection
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                    break
                if isinstance(event, h11.Response):
                    head = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert head is not None
                    # (A body read to the close leaves nothing to reuse, whatever the states.)
                    done = conn.our_state is h11.DONE and conn.their_state is h11.DONE
                    reusable = done and piece != b""
                    return Outcome(
                        False,
                        head.status_code,
                        head.reason,
                        _comparable(list(head.headers.raw_items())),
                        body,
                        reusable,
                    )
    except h11.ProtocolError:
        return Outcome(True)
    return Outcome(True)  # closed before the response ended


def with_ours(method: bytes, pieces: list[bytes]) -> Outcome:
    reader = ResponseReader(method)
    body = b""
    head = None
    try:
        for piece in pieces:
            if head is None:
                head = reader.feed_head(piece)
                if head is not None:
                    body += reader.body.feed(reader.pop_rest())
            else:
                body += reader.body.feed(piece)
            if head is not None and reader.body.done:
                break
        if head is None:
            return Outcome(True)
        if not reader.body.done:
            reader.body.end_of_input()
    except FramingError:
        return Outcome(True)
    return Outcome(
        False, head.status, head.reason, _comparable(head.headers), body, reader.reusable
    )


# -- responses of every kind ------------------------------------------------------------------

_token = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).map(str.encode)
_value = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=12
).map(str.encode)
_pieces = st.lists(st.binary(min_size=1, max_size=40), max_size=4)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    """A response's bytes, the request method, and whether it sends both TE and CL."""
    method = draw(st.sampled_from([b"GET", b"POST", b"HEAD"]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"]))
    # RFC 9112 §2.2: a head's lines may end in a bare LF (h11 accepts them), or mix both.
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n", b"mixed"]))

    def head_lines(text: bytes) -> bytes:
        if eol == b"mixed":
            return b"".join(
                line + draw(st.sampled_from([b"\r\n", b"\n"])) for line in text.split(b"\r\n")[:-1]
            )
        return text.replace(b"\r\n", eol)

    wire = b""
    for status in draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2)):
        extra = draw(st.sampled_from([b"", b"Link: </a.css>; rel=preload\r\n"]))
        wire += head_lines(b"HTTP/1.1 %d Interim\r\n%s\r\n" % (status, extra))
    status = draw(st.sampled_from([200, 200, 201, 204, 304, 404, 503, 101, 0, 99, 42]))
    reason = draw(st.sampled_from([b" OK", b"", b" ", b" Not Found at all"]))
    headers = [
        (draw(_token), draw(_value)) for _ in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    headers = [(n, v) for n, v in headers if n not in _FRAMING and n != b"connection"]
    connection = draw(st.sampled_from([None, b"close", b"keep-alive", b"Keep-Alive, Close"]))
    if connection is not None:
        headers.append((b"Connection", connection))
    pieces = draw(_pieces)
    data = b"".join(pieces)
    framing = draw(
        st.sampled_from(
            [
                "length", "length", "chunked", "chunked", "close", "both", "length-twice",
                "length-list", "length-conflict", "length-bad", "te-gzip", "te-list",
                "chunked-bad-size", "chunked-no-crlf", "bad-header", "bad-status",
            ]
        )
    )  # fmt: skip
    no_body = method == b"HEAD" or status in (204, 304)
    body = b""
    both = False
    if framing.startswith("length"):
        length = b"%d" % len(data)
        values = {
            "length": [length],
            "length-twice": [length, length],
            "length-list": [length + b", " + length],
            "length-conflict": [length, b"%d" % (len(data) + 1)],
            "length-bad": [b"-" + length],
        }[framing]
        headers += [(b"Content-Length", value) for value in values]
        body = b"" if no_body else data
    elif framing in ("chunked", "both", "chunked-bad-size", "chunked-no-crlf"):
        headers.append((b"Transfer-Encoding", draw(st.sampled_from([b"chunked", b"Chunked"]))))
        if framing == "both":
            headers.append((b"Content-Length", b"%d" % len(data)))
            both = not no_body
        ext = draw(st.sampled_from([b"", b";name=value", b";x"]))
        body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in pieces)
        if framing == "chunked-bad-size":
            body = b"z" + body
        elif framing == "chunked-no-crlf" and pieces:
            body = body.replace(b"\r\n", b"\n!", 2)
        trailers = draw(st.sampled_from([b"", b"X-Checksum: 1\r\n", b"bad trailer\r\n"]))
        body += b"0\r\n" + trailers + b"\r\n"
        body = b"" if no_body else body
    elif framing == "close":
        body = b"" if no_body else data
    elif framing == "te-gzip":
        headers.append((b"Transfer-Encoding", b"gzip"))
    elif framing == "te-list":
        headers.append((b"Transfer-Encoding", b"gzip, chunked"))
    elif framing == "bad-header":
        headers.append((b"Bad Name", b"x"))
    elif framing == "bad-status":
        version = b"HTTP/1.1 2000"
    lines = b"".join(b"%s: %s\r\n" % pair for pair in headers)
    head = b"%s %03d%s\r\n%s\r\n" % (version, status, reason, lines)
    wire += head_lines(head) + body
    return wire, method, both


@settings(max_examples=400, deadline=None)
@given(responses(), st.lists(st.integers(min_value=0, max_value=2000), max_size=6))
def test_the_reader_agrees_with_h11_for_any_split(
    response: tuple[bytes, bytes, bool], cuts: list[int]
) -> None:
    wire, method, both = response
    bounds = [0, *sorted(c for c in cuts if c < len(wire)), len(wire)]
    pieces = [wire[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    theirs, ours = with_h11(method, pieces), with_ours(method, pieces)
    if both:
        # RFC 9112 §6.3 item 3: both headers hint at response splitting. h11 reuses such a
        # connection; we read the body the same way and then close it.
        assert not ours.reusable
        ours.reusable = theirs.reusable
    assert ours == theirs


# -- one test per rule ----------------------------------------------------------------------


def read(method: bytes, wire: bytes) -> tuple[ResponseReader, bytes]:
    reader = ResponseReader(method)
    head = reader.feed_head(wire)
    assert head is not None
    body = reader.body.feed(reader.pop_rest())
    return reader, body


def test_an_interim_103_is_skipped_and_the_real_answer_read() -> None:
    wire = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    reader, body = read(b"POST", wire)
    assert reader.head is not None
    assert reader.head.status == 200
    assert (body, reader.interim, reader.reusable) == (b"ok", 2, True)


def test_an_interim_head_split_anywhere_is_still_skipped() -> None:
    wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    for cut in range(1, len(wire)):
        reader = ResponseReader(b"GET")
        assert reader.feed_head(wire[:cut]) is None or cut > 25
        head = reader.head or reader.feed_head(wire[cut:])
        assert head is not None
        assert head.status == 204


def test_101_to_a_request_that_asked_for_no_upgrade_is_an_error() -> None:
    with pytest.raises(FramingError, match="101"):
        ResponseReader(b"GET").feed_head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")


@pytest.mark.parametrize(
    "lengths", [[b"5", b"6"], [b"5, 6"], [b"5", b"5, 7"]], ids=["two", "list", "mixed"]
)
def test_conflicting_content_lengths_are_an_error(lengths: list[bytes]) -> None:
    lines = b"".join(b"Content-Length: %s\r\n" % value for value in lengths)
    with pytest.raises(FramingError, match="conflicting"):
        ResponseReader(b"GET").feed_head(b"HTTP/1.1 200 OK\r\n%s\r\nhello" % lines)


def test_repeated_equal_content_lengths_frame_the_body() -> None:
    reader, body = read(
        b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert body == b"hello"
    assert reader.reusable


@pytest.mark.parametrize("coding", [b"chunked, gzip", b"gzip, chunked", b"gzip", b"identity"])
def test_transfer_codings_other_than_chunked_alone_are_an_error(coding: bytes) -> None:
    # RFC 9112 §6.3: with chunked not last the length is unknowable; h11 refuses any list.
    with pytest.raises(FramingError, match="Transfer-Encoding"):
        ResponseReader(b"GET").feed_head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n" % coding
        )


def test_transfer_encoding_with_content_length_is_read_chunked_and_never_reused() -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    reader, body = read(b"GET", wire)
    assert body == b"ok"
    assert reader.body.done
    assert not reader.reusable


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_after_204_and_304(status: int) -> None:
    reader, body = read(b"GET", b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status)
    assert (body, reader.body.done, reader.reusable) == (b"", True, True)


def test_no_body_after_head() -> None:
    reader, body = read(b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    assert (body, reader.body.done, reader.reusable) == (b"", True, True)


def test_a_body_without_length_runs_to_the_close_and_the_connection_is_not_reused() -> None:
    reader, body = read(b"GET", b"HTTP/1.0 200 OK\r\n\r\nall of it")
    assert not reader.body.done
    reader.body.end_of_input()
    assert body == b"all of it"
    assert reader.body.done
    assert not reader.reusable


def test_a_body_cut_short_is_an_incomplete_body() -> None:
    reader, _ = read(b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(IncompleteBody):
        reader.body.end_of_input()
    reader, _ = read(b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    with pytest.raises(IncompleteBody):
        reader.body.end_of_input()


def test_bytes_after_the_body_forbid_reuse() -> None:
    reader, body = read(b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK")
    assert body == b"ok"
    assert reader.body.done
    assert not reader.reusable


def test_a_head_without_end_is_refused_after_64_kib() -> None:
    reader = ResponseReader(b"GET")
    assert reader.feed_head(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 60_000) is None
    with pytest.raises(FramingError, match="64 KiB"):
        reader.feed_head(b"a" * 10_000)


def test_a_hundred_thousand_headers_are_refused() -> None:
    wire = b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100_000 + b"\r\n"
    with pytest.raises(FramingError, match="64 KiB"):
        ResponseReader(b"GET").feed_head(wire)


def test_a_trickled_head_is_not_searched_again_from_its_start() -> None:
    reader = ResponseReader(b"GET")
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    for byte in wire[:-1]:
        assert reader.feed_head(bytes([byte])) is None
    assert reader.feed_head(wire[-1:]) is not None


@pytest.mark.parametrize(
    "wire",
    [
        b"FFFFFFFFFFFFFFFFF\r\n",  # 17 digits: more than any body
        b"5" * 2000,  # a size line that never ends
        b"5;" + b"x" * 2000 + b"\r\nhello\r\n",
        b"0\r\n" + b"X: y\r\n" * 20_000,  # trailers without end
        b"0\r\nbad trailer\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",  # whitespace before the size (h11 refuses it too)
        b"5\r\nhello\n",
    ],
)
def test_bad_or_unbounded_chunk_framing_is_an_error(wire: bytes) -> None:
    with pytest.raises(FramingError):
        ChunkedDecoder().feed(wire)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: value\r\n\r\n",  # obs-fold: left out on purpose
        b"HTTP/1.1 200 OK\r\nName : value\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 000 OK\r\n\r\n",  # below 100: h11 refuses it, never an interim head
        b"HTTP/1.1 099 OK\n\n",
        b"HTTP/1.1 200 OK\nX: a\rb\n\n",  # a lone CR, with bare LFs around it
    ],
)
def test_malformed_heads_are_an_error(wire: bytes) -> None:
    with pytest.raises(FramingError):
        parse_head(wire)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nhi",
        b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\nhi",
    ],
)
def test_a_head_with_bare_lf_line_ends_is_read(wire: bytes) -> None:
    # RFC 9112 §2.2 lets a recipient accept a bare LF; h11 does, and so do we.
    for cut in range(1, len(wire)):  # the blank line found across any two reads
        reader = ResponseReader(b"GET")
        assert reader.feed_head(wire[:cut]) is None or cut >= wire.index(b"hi")
        head = reader.head or reader.feed_head(wire[cut:])
        assert head is not None
        assert head.status == 200
        assert head.headers == [(b"Content-Length", b"2")]


def test_a_request_head_is_its_line_headers_and_a_blank_line() -> None:
    assert request_head(b"GET", b"/api/tags", b"Host: h\r\n") == (
        b"GET /api/tags HTTP/1.1\r\nHost: h\r\n\r\n"
    )
