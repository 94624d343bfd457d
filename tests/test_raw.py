"""Raw responses: with_raw_response and with_streaming_response on both clients, and a
stream's status and headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from ollama_anyio import AsyncClient, Client, ListResponse, NotFoundError, RequestError
from ollama_anyio.testing import Fault, OllamaEmulator, ThreadedEmulator, run_emulator_in_thread

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


async def test_a_plain_call_returns_its_result_with_status_headers_and_time(
    emulator: OllamaEmulator,
) -> None:
    async with AsyncClient(emulator.url) as client:
        raw = await client.with_raw_response.list()
        chat = await client.with_raw_response.chat("llama3.2", HI)
    assert isinstance(raw.parsed, ListResponse)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.elapsed >= 0
    assert (raw.method, raw.url, raw.retries) == ("GET", emulator.url + "/api/tags", 0)
    assert chat.parsed.message.content
    assert "RawResponse POST" in repr(chat)


async def test_retries_before_the_answer_are_counted(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.busy(1, path="/api/tags"))
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        raw = await client.with_raw_response.list()
    assert (raw.status_code, raw.retries) == (200, 1)


async def test_an_error_is_raised_with_the_answers_headers(emulator: OllamaEmulator) -> None:
    async with AsyncClient(emulator.url) as client:
        with pytest.raises(NotFoundError) as info:
            await client.with_raw_response.show("no-such-model")
    assert info.value.headers["content-type"].startswith("application/json")


async def test_a_stream_exposes_its_status_and_headers_once_started(
    emulator: OllamaEmulator,
) -> None:
    async with AsyncClient(emulator.url) as client:
        stream = await client.chat("llama3.2", HI, stream=True)
        assert (stream.status_code, stream.headers) == (None, None)
        async with stream as parts:
            async for _ in parts:
                pass
        assert stream.status_code == 200
        assert stream.headers is not None
        assert stream.headers["content-type"] == "application/x-ndjson"


@pytest.fixture
def threaded() -> Iterator[ThreadedEmulator]:
    with run_emulator_in_thread() as emulator:
        yield emulator


def test_the_blocking_client_has_raw_responses_and_stream_headers(
    threaded: ThreadedEmulator, portal_backend: str
) -> None:
    with Client(threaded.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        raw = client.with_raw_response.generate("llama3.2", "Hello")
        with client.chat("llama3.2", HI, stream=True) as parts:
            assert parts.headers is None
            next(parts)
            assert parts.status_code == 200
            assert parts.headers is not None
            assert parts.headers["content-type"] == "application/x-ndjson"
    assert raw.parsed.response
    assert raw.status_code == 200


# -- with_streaming_response: the head at once, then the body as it comes ---------------------


async def test_a_streamed_response_gives_its_head_at_once_then_raw_lines(
    emulator: OllamaEmulator,
) -> None:
    async with AsyncClient(emulator.url) as client:
        whole = await client.chat("llama3.2", HI)
        async with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            assert response.url == emulator.url + "/api/chat"
            assert (response.retries, response.elapsed >= 0) == (0, True)
            lines = [line async for line in response.iter_lines()]
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    chunks = [json.loads(line) for line in lines]
    assert chunks[-1]["done"] is True
    assert "".join(c["message"]["content"] for c in chunks) == whole.message.content


async def test_a_streamed_response_as_bytes_as_chunks_or_whole(emulator: OllamaEmulator) -> None:
    async with AsyncClient(emulator.url) as client:
        async with client.with_streaming_response.generate(
            "llama3.2", "Hello", stream=True
        ) as response:
            body = b"".join([piece async for piece in response.iter_bytes()])
        async with client.with_streaming_response.generate(
            "llama3.2", "Hello", stream=True
        ) as response:
            whole = await response.read()
        async with client.with_streaming_response.pull("llama3.2", stream=True) as pulled:
            async with pulled.parse() as events:
                statuses = [event.status async for event in events]
            assert events.final.status == "success"
            with pytest.raises(RuntimeError, match="read once"):
                pulled.iter_lines()

    def text(raw: bytes) -> str:
        return "".join(json.loads(line)["response"] for line in raw.splitlines())

    assert text(body) == text(whole)  # the same answer, read two ways (timestamps differ)
    assert body.endswith(b"\n")
    assert json.loads(body.splitlines()[-1])["done"] is True
    assert statuses[-1] == "success"


async def test_a_streamed_response_retries_and_raises_like_the_plain_call(
    emulator: OllamaEmulator,
) -> None:
    emulator.faults.add(Fault.busy(1, path="/api/chat"))
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        async with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
            assert (response.status_code, response.retries) == (200, 1)
        with pytest.raises(NotFoundError) as info:
            async with client.with_streaming_response.chat("no-such-model", HI, stream=True):
                pytest.fail("an error status raises on entry")
    assert info.value.headers["content-type"].startswith("application/json")


async def test_a_streamed_response_left_early_closes_its_connection(
    emulator: OllamaEmulator,
) -> None:
    async with AsyncClient(emulator.url) as client:
        async with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
            lines = response.iter_lines()
            await lines.__anext__()
        assert lines.closed
        # The client is still usable, on another connection if that one was closed.
        assert (await client.chat("llama3.2", HI)).done


async def test_closing_the_client_closes_a_streamed_response_left_open(
    emulator: OllamaEmulator,
) -> None:
    client = AsyncClient(emulator.url)
    response = client.with_streaming_response.chat("llama3.2", HI, stream=True)
    await response.__aenter__()
    lines = response.iter_lines()
    await client.aclose()  # as it closes every stream still open
    assert [line async for line in lines] == []
    await response.aclose()


async def test_forms_not_offered_say_so_before_sending(emulator: OllamaEmulator) -> None:
    async with AsyncClient(emulator.url) as client:
        with pytest.raises(RequestError, match="with_streaming_response"):
            await client.with_raw_response.chat("llama3.2", HI, stream=True)  # type: ignore[call-overload]
        with pytest.raises(RequestError, match="pass stream=True"):
            client.with_streaming_response.chat("llama3.2", HI, stream=False)  # type: ignore[arg-type]
        with pytest.raises(AttributeError, match=r"with_raw_response\.list\(\)"):
            client.with_streaming_response.list()
        assert not hasattr(client.with_streaming_response, "show")
    assert emulator.requests == []


def test_the_blocking_client_has_streamed_responses(
    threaded: ThreadedEmulator, portal_backend: str
) -> None:
    with Client(threaded.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            lines = list(response.iter_lines())
        with client.with_streaming_response.generate("llama3.2", "Hi", stream=True) as response:
            with response.parse() as chunks:
                text = "".join(chunk.response or "" for chunk in chunks)
            assert chunks.final.response == text
        with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
            assert response.read().endswith(b"\n")
        with pytest.raises(RequestError, match="with_streaming_response"):
            client.with_raw_response.chat("llama3.2", HI, stream=True)  # type: ignore[call-overload]
        with pytest.raises(AttributeError, match="answers one object"):
            client.with_streaming_response.ps()
    assert json.loads(lines[-1])["done"] is True
