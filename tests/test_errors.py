"""The error tree's cases, on the plain and the streaming path, over both transports.

Status errors keep the status code and the server's message; connection failures are also
``ConnectionError``s and timeouts ``TimeoutError``s; a stream that breaks off or ends without
its final chunk is an error, after the chunks that did arrive. Every test that takes ``fake``
runs over real sockets (our transport, the direct sender) and over httpx's MockTransport.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import FakeOllama, fixture_bytes
from ollama_anyio import (
    AsyncClient,
    Client,
    IncompleteStreamError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ProtocolError,
    ResponseError,
)
from ollama_anyio._errors import parse_error_body

BOTH_PATHS = True
CHAT_STREAM = fixture_bytes("chat-stream.ndjson")
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def client(fake: FakeOllama) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(**fake.options()) as client:
        yield client


# -- status errors and malformed answers -----------------------------------------------------


async def test_stream_without_final_chunk_is_an_error(
    fake: FakeOllama, client: AsyncClient
) -> None:
    truncated = b"".join(CHAT_STREAM.splitlines(keepends=True)[:-1])
    fake.stream("/api/chat", truncated, chunk_size=13)
    parts = []
    with pytest.raises(IncompleteStreamError, match="without its final chunk"):
        async for part in await client.chat("m", HI, stream=True):
            parts.append(part)
    assert len(parts) == truncated.count(b"\n")
    assert fake.streams[0].closed


async def test_progress_stream_without_success_is_an_error(
    fake: FakeOllama, client: AsyncClient
) -> None:
    fake.stream("/api/pull", b'{"status":"pulling manifest"}\n')
    with pytest.raises(IncompleteStreamError):
        async for _ in await client.pull("llama3.2", stream=True):
            pass


async def test_dropped_connection_mid_stream_keeps_earlier_chunks(
    fake: FakeOllama, client: AsyncClient
) -> None:
    lines = CHAT_STREAM.splitlines(keepends=True)
    fake.stream("/api/chat", b"".join(lines[:3]) + lines[3][:10], then=httpx.ReadError("reset"))
    parts = []
    with pytest.raises(OllamaConnectionError) as info:
        async for part in await client.chat("m", HI, stream=True):
            parts.append(part.message.content)
    assert isinstance(info.value, ConnectionError)
    assert len(parts) == 3
    assert fake.streams[0].closed


async def test_error_status_on_a_stream(fake: FakeOllama, client: AsyncClient) -> None:
    fake.json("POST", "/api/chat", fixture_bytes("error-404.json"), status=404)
    stream = await client.chat("nope", HI, stream=True)
    with pytest.raises(ResponseError) as info:
        async with stream:
            pass
    assert info.value.status_code == 404
    assert "not found" in info.value.error
    assert stream.closed


async def test_error_line_mid_stream(fake: FakeOllama, client: AsyncClient) -> None:
    fake.stream("/api/generate", fixture_bytes("error-in-stream.ndjson"))
    parts = []
    with pytest.raises(ResponseError) as info:
        async for part in await client.generate("m", "x", stream=True):
            parts.append(part)
    assert parts
    assert info.value.status_code == 200


async def test_malformed_body_is_a_protocol_error(fake: FakeOllama, client: AsyncClient) -> None:
    fake.json("GET", "/api/tags", b"<html>oops</html>")
    with pytest.raises(ProtocolError, match="oops"):
        await client.list()


async def test_html_error_body_becomes_the_message(fake: FakeOllama, client: AsyncClient) -> None:
    fake.routes[("GET", "/api/ps")] = lambda r: httpx.Response(
        502, text="<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"}
    )
    with pytest.raises(ResponseError) as info:
        await client.ps()
    assert info.value.status_code == 502
    assert "Bad Gateway" in info.value.error
    assert str(info.value).endswith("(status code: 502)")


async def test_empty_error_body(fake: FakeOllama, client: AsyncClient) -> None:
    fake.routes[("GET", "/api/ps")] = lambda r: httpx.Response(500)
    with pytest.raises(ResponseError, match="500") as info:
        await client.ps()
    assert info.value.status_code == 500


async def test_embed_with_a_cut_body_is_a_protocol_error(
    fake: FakeOllama, client: AsyncClient
) -> None:
    data = fixture_bytes("embed-multi-response.json")
    fake.stream("/api/embed", data[: data.index(b"],") + 1], chunk_size=5)
    with pytest.raises(ProtocolError, match="ended inside its embeddings"):
        await client.embed("all-minilm", ["a", "b"])


async def test_bytes_that_are_not_utf8_are_a_protocol_error(
    fake: FakeOllama, client: AsyncClient
) -> None:
    fake.json("POST", "/api/chat", b'{"model":"\xff","done":true}')
    with pytest.raises(ProtocolError):
        await client.chat("m", HI)
    fake.stream("/api/generate", b'{"model":"\xff","response":"a","done":false}\n')
    with pytest.raises(ProtocolError):
        async with await client.generate("m", "hi", stream=True) as parts:
            async for _ in parts:
                pass
    fake.json("GET", "/api/tags", b'{"error":"caf\xe9 closed"}', status=500)
    with pytest.raises(ResponseError) as info:
        await client.with_options(max_retries=0).list()
    assert info.value.status_code == 500
    assert "closed" in info.value.error


async def test_error_status_on_a_plain_call(fake: FakeOllama, client: AsyncClient) -> None:
    fake.json("POST", "/api/show", fixture_bytes("error-404.json"), status=404)
    with pytest.raises(ResponseError) as info:
        await client.show("nope")
    assert info.value.status_code == 404
    assert "not found" in info.value.error
    assert isinstance(info.value, OllamaError)


def test_errors_cross_the_blocking_client_unchanged(fake: FakeOllama, portal_backend: str) -> None:
    fake.json("POST", "/api/show", fixture_bytes("error-404.json"), status=404)
    truncated = b"".join(CHAT_STREAM.splitlines(keepends=True)[:2])
    fake.stream("/api/chat", truncated)
    with Client(**fake.options(backend=portal_backend)) as client:
        with pytest.raises(ResponseError) as info:
            client.show("nope")
        assert info.value.status_code == 404
        with pytest.raises(IncompleteStreamError):
            for _ in client.chat("m", HI, stream=True):
                pass


# -- connection failures and timeouts ------------------------------------------------------------


def _raising(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def refused(fake: FakeOllama) -> AsyncClient:
    """A client whose connections are refused: nothing listens (direct), or httpx says so."""
    if fake.path == "direct":
        return AsyncClient(f"127.0.0.1:{_free_port()}", max_retries=0)
    transport = _raising(httpx.ConnectError("[Errno 111] Connection refused"))
    return AsyncClient("127.0.0.1:9", transport=transport, max_retries=0)


async def test_connection_refused_names_the_url(refused: AsyncClient) -> None:
    async with refused as client:
        url = client.base_url.replace(".", r"\.")
        with pytest.raises(OllamaConnectionError, match=url) as info:
            await client.list()
        assert isinstance(info.value, ConnectionError)
        with pytest.raises(ConnectionError, match=url):
            async for _ in await client.chat("m", HI, stream=True):
                pass


@pytest.fixture
def slow(fake: FakeOllama) -> AsyncClient:
    """A client whose server stops sending: after the head and two chunks (direct), or whose
    httpx transport times out."""
    if fake.path == "direct":
        two = b"".join(CHAT_STREAM.splitlines(keepends=True)[:2])
        fake.stream("/api/chat", two, hang=True)
        fake.stream("/api/generate", b"", hang=True)
        return AsyncClient(**fake.options(timeout=0.2))
    return AsyncClient(transport=_raising(httpx.ReadTimeout("slow")), timeout=0.2)


async def test_timeouts_are_timeout_errors(fake: FakeOllama, slow: AsyncClient) -> None:
    async with slow as client:
        with pytest.raises(OllamaTimeoutError) as info:
            await client.generate("m", "x")
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, OllamaError)
        parts = []
        with pytest.raises(OllamaTimeoutError):
            async for part in await client.chat("m", HI, stream=True):
                parts.append(part)
        assert len(parts) == (2 if fake.path == "direct" else 0)
    if fake.path == "direct":
        assert all(stream.closed for stream in fake.streams)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "model \\"x\\" not found"}', 'model "x" not found'),
        (b"upstream said no\n", "upstream said no"),  # plain text is kept as it is
        (b"<b>not a page</b>", "<b>not a page</b>"),  # markup alone is not a page
        (
            b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
            b"<center><h1>504 Gateway Time-out</h1></center></body></html>",
            "504 Gateway Time-out",
        ),
        (
            b"<!DOCTYPE html><body><h1>Bad &amp; gone</h1>\n<p>try later</p></body>",
            "Bad & gone try later",
        ),
        (b"<html><body>   </body></html>", "<html><body>   </body></html>"),
    ],
)
def test_an_error_body_reads_as_text_and_an_html_page_as_its_title(
    body: bytes, message: str
) -> None:
    assert parse_error_body(body) == (message, None)
