"""AsyncClient on asyncio and trio, and on both paths: streams open lazily, close on every exit.

Every test that takes ``fake`` runs over real sockets (our transport, the direct sender) and
over httpx's MockTransport (see conftest). Errors are in test_errors.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from conftest import FakeOllama, fixture_bytes
from ollama_anyio import (
    AsyncClient,
    EmbedArraysResponse,
    EmbedResponse,
    RequestError,
)

CHAT_STREAM = fixture_bytes("chat-stream.ndjson")
HI = [{"role": "user", "content": "hi"}]


BOTH_PATHS = True


@pytest.fixture
async def client(fake: FakeOllama) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(**fake.options()) as client:
        yield client


async def test_stream_sends_nothing_until_iterated(fake: FakeOllama, client: AsyncClient) -> None:
    fake.stream("/api/chat", CHAT_STREAM)
    stream = await client.chat("llama3.2", HI, stream=True)
    assert fake.requests == []
    async with stream:
        parts = [part async for part in stream]
    assert len(fake.requests) == 1
    assert fake.body()["stream"] is True
    assert parts[-1].done
    assert fake.streams[0].closed


async def test_stream_read_to_the_end_closes_itself(fake: FakeOllama, client: AsyncClient) -> None:
    fake.stream("/api/chat", CHAT_STREAM, chunk_size=5)
    text = "".join([p.message.content async for p in await client.chat("m", HI, stream=True)])
    expected = "".join(json.loads(line)["message"]["content"] for line in CHAT_STREAM.splitlines())
    assert text == expected
    assert text.startswith("The sky")
    assert fake.streams[0].closed


async def test_leaving_async_with_early_closes_the_response(
    fake: FakeOllama, client: AsyncClient
) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    async with await client.chat("m", HI, stream=True) as stream:
        async for _ in stream:
            break
    assert fake.streams[0].closed
    assert stream.closed
    # the client is still usable
    fake.json("GET", "/api/version", {"version": "0.12.6"})
    assert await client.version() == "0.12.6"


async def test_exception_in_consumer_closes_the_response(
    fake: FakeOllama, client: AsyncClient
) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    with pytest.raises(KeyError):
        async with await client.chat("m", HI, stream=True) as stream:
            async for _ in stream:
                raise KeyError("consumer failed")
    assert fake.streams[0].closed


async def test_cancel_scope_closes_the_response(fake: FakeOllama, client: AsyncClient) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    stream = await client.chat("m", HI, stream=True)
    received = 0
    with anyio.CancelScope() as scope:
        async for _ in stream:  # the server hangs after its last line: only cancel ends this
            received += 1
            if received == CHAT_STREAM.count(b"\n"):
                scope.cancel()
    assert scope.cancelled_caught
    assert stream.closed
    assert fake.streams[0].closed


async def test_deadline_closes_the_response(fake: FakeOllama, client: AsyncClient) -> None:
    lines = fixture_bytes("generate-stream.ndjson").splitlines(keepends=True)
    fake.stream("/api/generate", b"".join(lines[:-1]), hang=True)
    with anyio.CancelScope() as scope:
        async with await client.generate("m", "why", stream=True) as stream:
            async for part in stream:
                if part.done:
                    raise AssertionError("the hanging server sent no final chunk")
                scope.deadline = anyio.current_time()  # expires at the next wait
    assert scope.cancelled_caught
    assert fake.streams[0].closed


async def test_task_group_cancellation_closes_every_stream(
    fake: FakeOllama, client: AsyncClient
) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    send, receive = anyio.create_memory_object_stream[None](5)

    async def consume() -> None:
        async with await client.chat("m", HI, stream=True) as stream:
            async for _ in stream:
                await send.send(None)  # a chunk has arrived: its response is open

    async with anyio.create_task_group() as tg, send, receive:
        for _ in range(5):
            tg.start_soon(consume)
        started = 0
        async for _ in receive:  # every stream has begun (the server then hangs)
            started += 1
            if started == CHAT_STREAM.count(b"\n") * 5:
                break
        tg.cancel_scope.cancel()
    assert len(fake.streams) == 5
    assert all(s.closed for s in fake.streams)


@pytest.mark.httpx_only  # the timeouts httpx is given are on its request, not the wire
async def test_per_call_timeout(fake: FakeOllama, client: AsyncClient) -> None:
    fake.json("GET", "/api/version", {"version": "1"})
    await client.with_options(timeout=2.5).version()
    await client.version()
    first, second = (r.extensions["timeout"] for r in fake.requests)
    assert first == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert second["connect"] == 10.0
    assert second["read"] == 600.0


async def test_bad_arguments_send_nothing(fake: FakeOllama, client: AsyncClient) -> None:
    with pytest.raises(RequestError, match="model"):
        await client.chat("", HI)
    with pytest.raises(ValueError, match="messages"):
        await client.chat("m", "hi")  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="keep_alive"):
        await client.generate("m", "x", keep_alive="5")
    assert fake.requests == []


async def test_images_from_paths_bytes_and_base64(
    fake: FakeOllama, client: AsyncClient, tmp_path: Path
) -> None:
    png = b"\x89PNG\r\n\x1a\n fake image"
    path = tmp_path / "cat.png"
    path.write_bytes(png)
    b64 = base64.b64encode(png).decode()
    fake.json("POST", "/api/chat", fixture_bytes("chat-response.json"))
    messages = [{"role": "user", "content": "what?", "images": [path, str(path), png, b64]}]
    await client.chat("llava", messages)
    assert fake.body()["messages"][0]["images"] == [b64] * 4
    with pytest.raises(RequestError, match=r"messages\[0\]\.images\[0\]"):
        await client.chat("llava", [{"role": "user", "images": [str(tmp_path / "no.png")]}])


async def test_create_blob_uploads_the_file_and_returns_its_digest(
    fake: FakeOllama, client: AsyncClient, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 9000  # more than one read
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    fake.routes[("POST", f"/api/blobs/{digest}")] = lambda r: httpx.Response(201)
    assert await client.create_blob(path) == digest
    request = fake.requests[-1]
    assert request.read() == data
    with pytest.raises(RequestError, match="cannot read"):
        await client.create_blob(tmp_path / "missing.gguf")


async def test_blob_exists(fake: FakeOllama, client: AsyncClient) -> None:
    digest = "sha256:" + "a" * 64
    fake.routes[("HEAD", f"/api/blobs/{digest}")] = lambda r: httpx.Response(200)
    assert await client.blob_exists(digest) is True
    fake.routes[("HEAD", f"/api/blobs/{digest}")] = lambda r: httpx.Response(404)
    assert await client.blob_exists(digest) is False
    with pytest.raises(RequestError, match="digest"):
        await client.blob_exists("sha256:../../api/delete")


async def test_copy_and_delete_answer_success(fake: FakeOllama, client: AsyncClient) -> None:
    fake.routes[("POST", "/api/copy")] = lambda r: httpx.Response(200)
    fake.routes[("DELETE", "/api/delete")] = lambda r: httpx.Response(200)
    assert (await client.copy("a", "b")).status == "success"
    assert (await client.delete("b")).status == "success"
    assert fake.body(0) == {"source": "a", "destination": "b"}
    assert fake.body(1) == {"model": "b"}


async def test_aclose_closes_open_streams(fake: FakeOllama) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    client = AsyncClient(**fake.options())
    stream = await client.chat("m", HI, stream=True)
    await stream.__anext__()
    await client.aclose()
    assert stream.closed
    assert fake.streams[0].closed


async def test_web_search_needs_a_key(fake: FakeOllama, client: AsyncClient) -> None:
    with pytest.raises(RequestError, match="API key"):
        await client.web_search("ollama")
    assert fake.requests == []


@pytest.mark.httpx_only  # ollama.com is reached only through the MockTransport
async def test_api_key_goes_only_to_ollama_com(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "secret-key")
    fake.json("GET", "/api/tags", fixture_bytes("tags-empty-response.json"))
    fake.json("POST", "/api/web_search", fixture_bytes("web-search-response.json"))
    async with AsyncClient(transport=fake.transport) as client:
        assert "secret-key" not in repr(client)
        await client.list()
        result = await client.web_search("what is ollama?")
    local, remote = fake.requests
    assert "authorization" not in local.headers
    assert remote.url == "https://ollama.com/api/web_search"
    assert remote.headers["authorization"] == "Bearer secret-key"
    assert result.results[0].url


async def test_embed_as_arrays(fake: FakeOllama, client: AsyncClient) -> None:
    fake.json("POST", "/api/embed", fixture_bytes("embed-response.json"))
    response = await client.embed("all-minilm", "hello", as_arrays=True)
    [vector] = response.embeddings
    expected = json.loads(fixture_bytes("embed-response.json"))["embeddings"][0]
    assert len(vector) == len(expected)
    assert vector[0] == pytest.approx(expected[0], rel=1e-6)


@pytest.mark.parametrize("as_arrays", [False, True])
async def test_embed_decodes_vectors_as_the_body_arrives(
    fake: FakeOllama, client: AsyncClient, as_arrays: bool
) -> None:
    data = fixture_bytes("embed-multi-response.json")
    fake.stream("/api/embed", data, chunk_size=5)
    response: EmbedResponse | EmbedArraysResponse
    if as_arrays:
        response = await client.embed("all-minilm", ["a", "b"], as_arrays=True)
    else:
        response = await client.embed("all-minilm", ["a", "b"])
    expected = json.loads(data)
    assert len(response.embeddings) == len(expected["embeddings"]) == 2
    for vector, values in zip(response.embeddings, expected["embeddings"], strict=True):
        assert list(vector) == pytest.approx(values, rel=1e-6)
    assert response.model == expected["model"]
    assert response.total_duration == expected["total_duration"]
    [stream] = fake.streams
    assert stream.closed


async def test_a_malformed_api_key_from_the_environment_is_refused_where_it_is_sent(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "key\r\nX-Injected: 1")
    fake.json("GET", "/api/tags", fixture_bytes("tags-empty-response.json"))
    async with AsyncClient(**fake.options()) as client:
        await client.list()  # the key is not sent to a local server: no error
        with pytest.raises(RequestError, match="OLLAMA_API_KEY"):
            await client.web_search("what is ollama?")
    assert len(fake.requests) == 1
