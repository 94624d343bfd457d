"""OLLAMA_ANYIO_LOG: one line per request on ollama_anyio.requests, read when a client is
built, quiet by default, and never a key or a body."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest

import ollama_anyio._http._request_log as raw_module
from ollama_anyio import AsyncClient, NotFoundError, RequestError
from ollama_anyio.testing import Fault, OllamaEmulator


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


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
        with pytest.raises(NotFoundError) as caught:
            await client.show("missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "ollama_anyio.requests"]
    assert lines[0].startswith(f"GET {emulator.url}/api/tags 200 in ")
    assert re.search(r", 1 retry \[[0-9a-f]{16}\]$", lines[0])
    assert lines[1].startswith(f"POST {emulator.url}/api/show 404 in ")
    # The request id on the line is the one the error carries (and the server was sent).
    assert caught.value.request_id is not None
    assert lines[1].endswith(f" [{caught.value.request_id}]")
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
