"""Raw responses: with_raw_response on both clients, and a stream's status and headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ollama_anyio import AsyncClient, Client, ListResponse, NotFoundError
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
