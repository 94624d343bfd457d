"""Raw responses: with_raw_response on both clients, stream headers, and the request log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

import ollama_anyio._raw as raw_module
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


# -- OLLAMA_ANYIO_LOG ----------------------------------------------------------------------


@pytest.fixture
def quiet_logger() -> Iterator[logging.Logger]:
    """The ollama_anyio logger as it was, after the test (level and handlers)."""
    logger = logging.getLogger("ollama_anyio")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    for handler in logger.handlers:
        if handler not in handlers:
            logger.removeHandler(handler)
    raw_module._handler = None


async def test_log_info_writes_one_line_per_request_without_keys(
    emulator: OllamaEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    quiet_logger: logging.Logger,
) -> None:
    monkeypatch.setenv("OLLAMA_ANYIO_LOG", "info")
    emulator.faults.add(Fault.busy(1, path="/api/tags"))
    async with AsyncClient(emulator.url, api_key="sk-secret-key", retry_backoff=0) as client:
        assert quiet_logger.level == logging.INFO
        await client.list()
        with pytest.raises(NotFoundError):
            await client.show("missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "ollama_anyio.requests"]
    assert lines[0].startswith(f"GET {emulator.url}/api/tags 200 in ")
    assert lines[0].endswith("1 retry")
    assert lines[1].startswith(f"POST {emulator.url}/api/show 404 in ")
    assert "sk-secret-key" not in caplog.text
    assert "missing" not in caplog.text  # the request body is never logged


def test_logging_is_off_unless_asked(
    monkeypatch: pytest.MonkeyPatch, quiet_logger: logging.Logger
) -> None:
    monkeypatch.delenv("OLLAMA_ANYIO_LOG", raising=False)
    level = quiet_logger.level
    AsyncClient("http://127.0.0.1:1")
    assert quiet_logger.level == level
    assert raw_module._handler is None


def test_log_debug_adds_one_stderr_handler_however_many_clients(
    monkeypatch: pytest.MonkeyPatch, quiet_logger: logging.Logger
) -> None:
    monkeypatch.setenv("OLLAMA_ANYIO_LOG", "DEBUG")
    before = len(quiet_logger.handlers)
    AsyncClient("http://127.0.0.1:1")
    AsyncClient("http://127.0.0.1:1")
    assert quiet_logger.level == logging.DEBUG
    assert len(quiet_logger.handlers) == before + 1


def test_an_unknown_log_level_is_a_request_error(
    monkeypatch: pytest.MonkeyPatch, quiet_logger: logging.Logger
) -> None:
    monkeypatch.setenv("OLLAMA_ANYIO_LOG", "verbose")
    with pytest.raises(RequestError, match="OLLAMA_ANYIO_LOG"):
        AsyncClient("http://127.0.0.1:1")
