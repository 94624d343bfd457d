"""The HTTP/1.1 framing (pure) and the anyio transport (over real sockets on 127.0.0.1)."""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import RawHandler
from ollama_anyio import AsyncClient, ProtocolError
from ollama_anyio._errors import Fact, Failure
from ollama_anyio._http._http11 import ChunkedDecoder, FramingError, parse_head
from ollama_anyio._http._transport import AnyIOTransport

# -- framing ------------------------------------------------------------------------------------


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


@given(
    st.lists(st.binary(min_size=1, max_size=300), max_size=20),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_chunked_body_decodes_the_same_for_any_split(pieces: list[bytes], cuts: list[int]) -> None:
    wire = chunked(pieces) + b"NEXT"
    decoder = ChunkedDecoder()
    out = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(wire)), len(wire)]:
        out.append(decoder.feed(wire[start:cut]))
        start = cut
    assert b"".join(out) == b"".join(pieces)
    assert decoder.done
    assert decoder.rest == b"NEXT"


def test_chunk_extensions_and_trailers_are_accepted() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n") == b"hello"
    assert decoder.done


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\nhello\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"\r\n",
        b"1" * 2000,
        b"11111111111111111\r\n",
        b"-5\r\nhello\r\n",  # int() would take a sign, a 0x prefix, underscores
        b"0x5\r\nhello\r\n",
        b"1_0\r\n",
        b"5\r\nhello\r\n3\r\nabcXY",  # a later chunk's data not followed by CRLF
        b"5;" + b"x" * 2000 + b"\r\nhello\r\n",  # a size line too long, even when whole
    ],
)
def test_bad_chunk_framing_is_an_error(wire: bytes) -> None:
    with pytest.raises(FramingError):
        ChunkedDecoder().feed(wire)


def test_parse_head() -> None:
    wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A:  b \r\n\r\nbody"
    parsed = parse_head(wire)
    assert parsed is not None
    head, rest = parsed
    assert (head.status, head.reason, rest) == (200, b"OK", b"body")
    assert head.header(b"content-type") == b"application/json"
    assert head.header(b"x-a") == b"b"
    assert head.keep_alive
    assert parse_head(wire[:20]) is None


@pytest.mark.parametrize(
    "wire",
    [b"HTTP/2 200 OK\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad line\r\n\r\n"],
)
def test_bad_head_is_an_error(wire: bytes) -> None:
    with pytest.raises(FramingError):
        parse_head(wire)


def test_only_http_1_1_without_connection_close_keeps_alive() -> None:
    for wire, alive in [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\n\r\n", False),
        # HTTP/1.0's keep-alive extension is not honoured (as in h11): the connection closes
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: x-close\r\n\r\n", True),  # a token, not a substring
    ]:
        parsed = parse_head(wire)
        assert parsed is not None
        assert parsed[0].keep_alive is alive


# -- transport over real sockets ----------------------------------------------------------------

Answer = Callable[[anyio.abc.SocketStream, bytes], Awaitable[bool]]


class RawServer:
    """A server that answers each request with a handler's raw bytes; counts connections."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.url = ""

    async def serve(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        async with stream:
            buffer = b""
            while True:
                try:
                    buffer += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                while b"\r\n\r\n" in buffer:
                    request, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in request.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    while len(buffer) < length:
                        buffer += await stream.receive()
                    buffer = buffer[length:]
                    if not await self.answer(stream, request):
                        return


@pytest.fixture
def raw_server(tcp_server: Callable[[RawHandler], str]) -> Callable[[Answer], RawServer]:
    def start(answer: Answer) -> RawServer:
        server = RawServer(answer)
        server.url = tcp_server(server.serve)
        return server

    return start


VERSION = b'{"version":"1.0"}'


async def keep_alive(stream: anyio.abc.SocketStream, request: bytes) -> bool:
    await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(VERSION), VERSION))
    return True


async def test_connections_are_kept_alive(raw_server: Callable[[Answer], RawServer]) -> None:
    server = raw_server(keep_alive)
    async with AsyncClient(server.url) as client:
        for _ in range(5):
            assert await client.version() == "1.0"
    assert server.connections == 1


async def test_connection_close_is_honoured(raw_server: Callable[[Answer], RawServer]) -> None:
    async def close_each(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await stream.send(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(VERSION), VERSION)
        )
        return False

    server = raw_server(close_each)
    async with AsyncClient(server.url) as client:
        for _ in range(3):
            assert await client.version() == "1.0"
    assert server.connections == 3


async def test_a_kept_alive_connection_the_server_closed_is_replaced(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    async def answer_once(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await keep_alive(stream, request)
        return False  # closes without saying so, as an idle timeout would

    server = raw_server(answer_once)
    async with AsyncClient(server.url, max_retries=0) as client:
        for _ in range(3):
            assert await client.version() == "1.0"
    assert server.connections == 3


async def test_body_until_close(raw_server: Callable[[Answer], RawServer]) -> None:
    async def http10(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await stream.send(b"HTTP/1.0 200 OK\r\n\r\n" + VERSION)
        return False

    server = raw_server(http10)
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"


async def test_chunked_stream_split_everywhere(raw_server: Callable[[Answer], RawServer]) -> None:
    lines = [b'{"status":"pulling %d"}\n' % i for i in range(50)] + [b'{"status":"success"}\n']
    wire = chunked(lines)

    async def dribble(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(wire), 7):
            await stream.send(wire[i : i + 7])
        return True

    server = raw_server(dribble)
    async with AsyncClient(server.url) as client:
        statuses = [p.status async for p in await client.pull("m", stream=True)]
        assert statuses[-1] == "success"
        assert len(statuses) == 51
        statuses = [p.status async for p in await client.pull("m", stream=True)]
        assert len(statuses) == 51
    assert server.connections == 1


async def test_malformed_response_is_a_protocol_error(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    async def garbage(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await stream.send(b"SMTP ready\r\n\r\n")
        return False

    server = raw_server(garbage)
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="malformed status line"):
            await client.version()


async def test_a_closed_transport_sends_nothing() -> None:
    transport = AnyIOTransport()
    await transport.aclose()
    with pytest.raises(Failure) as info:
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))
    assert info.value.fact is Fact.NOT_CONNECTED


# -- the direct path (requests that skip httpx's client layer) ---------------------------------


def _no_id(head: bytes) -> bytes:
    return re.sub(rb"X-Request-Id: [0-9a-f]{16}", b"X-Request-Id: *", head)


def answer_with(*responses: bytes) -> tuple[Answer, list[bytes]]:
    """An answer that replies with ``responses`` in turn (the last one from then on)."""
    heads: list[bytes] = []

    async def answer(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        heads.append(request)
        await stream.send(responses[min(len(heads), len(responses)) - 1])
        return True

    return answer, heads


def ok(body: bytes, *headers: bytes) -> bytes:
    lines = b"".join(header + b"\r\n" for header in headers)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (lines, len(body), body)


async def test_the_direct_path_sends_what_httpx_sends(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    answer, heads = answer_with(ok(b'{"status":"success","version":"1.0"}'))
    server = raw_server(answer)

    async def calls(client: AsyncClient) -> None:
        await client.version()
        await client.copy("a", "b")
        await client.delete("a")
        await client.blob_exists("sha256:" + "0" * 64)
        await client.with_options(timeout=5).ps()

    async with AsyncClient(server.url, api_key="k") as direct:
        assert direct._session.direct is not None
        await calls(direct)
    sent_directly = heads[:]
    heads.clear()
    async with AsyncClient(server.url, api_key="k", trust_env=False) as through_httpx:
        assert through_httpx._session.direct is None  # any httpx option: httpx's client layer
        await calls(through_httpx)
    # Each request has an id of its own: the same header on both paths, another value.
    assert all(re.search(rb"\r\nX-Request-Id: [0-9a-f]{16}\r\n", head) for head in heads)
    assert [_no_id(head) for head in sent_directly] == [_no_id(head) for head in heads]
    assert heads[0].startswith(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nauthorization: Bearer k" in heads[0]


async def test_a_redirect_on_the_direct_path_is_followed_from_its_answer(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    heads: list[bytes] = []

    async def moved(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        heads.append(request)
        if request.startswith(b"GET /v2/"):
            await stream.send(ok(VERSION))
        else:
            await stream.send(
                b"HTTP/1.1 307 Moved\r\nLocation: /v2/api/version\r\nContent-Length: 0\r\n\r\n"
            )
        return True

    server = raw_server(moved)
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"
    # Followed from the redirect's answer: the first server is not asked twice.
    assert [head.split(b"\r\n")[0] for head in heads] == [
        b"GET /api/version HTTP/1.1",
        b"GET /v2/api/version HTTP/1.1",
    ]


async def test_a_cookie_is_kept_and_sent_back(raw_server: Callable[[Answer], RawServer]) -> None:
    answer, heads = answer_with(ok(VERSION, b"Set-Cookie: node=b7; Path=/"), ok(VERSION))
    server = raw_server(answer)
    async with AsyncClient(server.url) as client:
        await client.version()
        await client.version()
        assert client._session.direct is None
    assert b"cookie" not in heads[0].lower()
    assert b"\r\nCookie: node=b7" in heads[1]


async def test_a_compressed_body_is_decompressed(raw_server: Callable[[Answer], RawServer]) -> None:
    answer, _ = answer_with(ok(gzip.compress(VERSION), b"Content-Encoding: gzip"))
    server = raw_server(answer)
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"


async def test_httpx_request_log_is_kept(
    raw_server: Callable[[Answer], RawServer], caplog: pytest.LogCaptureFixture
) -> None:
    answer, _ = answer_with(ok(VERSION))
    server = raw_server(answer)
    caplog.set_level(logging.INFO, logger="httpx")
    async with AsyncClient(server.url) as client:
        await client.version()
    assert any("HTTP Request: GET" in record.getMessage() for record in caplog.records)


async def test_a_proxy_from_the_environment_is_used(
    raw_server: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer, heads = answer_with(ok(VERSION))
    server = raw_server(answer)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    async with AsyncClient("http://ollama.invalid:11434") as client:
        assert client._session.direct is None
        assert await client.version() == "1.0"
    assert heads[0].startswith(b"GET http://ollama.invalid:11434/api/version HTTP/1.1")


async def test_a_stream_whose_bytes_are_all_here_can_still_be_cancelled(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    lines = [b'{"status":"%s"}\n' % (b"x" * 90) for _ in range(20_000)]
    lines.append(b'{"status":"success"}\n')
    wire = chunked(lines)

    async def at_once(stream: anyio.abc.SocketStream, request: bytes) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)
        return True

    server = raw_server(at_once)
    read = 0
    async with AsyncClient(server.url) as client:
        stream = await client.pull("m", stream=True)
        with anyio.CancelScope() as scope:
            async for _ in stream:
                read += 1
                if read == 10:
                    scope.cancel()  # no await in this loop: only the stream's reads can stop it
        assert stream.closed
    assert 10 <= read < len(lines)


async def test_a_retry_carries_the_cookie_its_failed_attempt_set(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    busy = (
        b"HTTP/1.1 503 Busy\r\nSet-Cookie: lb=1; Path=/\r\nRetry-After: 0\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    answer, heads = answer_with(busy, ok(VERSION))
    server = raw_server(answer)
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"
    assert len(heads) == 2
    assert b"\r\nCookie: lb=1" in heads[1]


async def test_a_cookie_on_a_compressed_answer_is_kept(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    zipped = ok(gzip.compress(VERSION), b"Content-Encoding: gzip", b"Set-Cookie: s=2; Path=/")
    answer, heads = answer_with(zipped, ok(VERSION))
    server = raw_server(answer)
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"
        assert await client.version() == "1.0"
    assert b"\r\nCookie: s=2" in heads[1]


async def test_a_host_header_of_the_callers_is_the_only_one(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    answer, heads = answer_with(ok(VERSION))
    server = raw_server(answer)
    async with AsyncClient(server.url, headers={"Host": "virtual.example"}) as client:
        assert await client.version() == "1.0"
    [head] = heads
    assert [line for line in head.split(b"\r\n") if line.lower().startswith(b"host:")] == [
        b"host: virtual.example"
    ]


async def test_a_redirect_not_to_follow_is_not_sent_again(
    raw_server: Callable[[Answer], RawServer],
) -> None:
    moved = b"HTTP/1.1 307 Moved\r\nLocation: /v2/api/version\r\nContent-Length: 0\r\n\r\n"
    answer, heads = answer_with(moved)
    server = raw_server(answer)
    async with AsyncClient(server.url, follow_redirects=False) as client:
        with pytest.raises(ProtocolError):  # an empty body where JSON was expected
            await client.version()
    assert len(heads) == 1
