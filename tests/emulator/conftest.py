"""Fixtures of the emulator tests: both anyio backends, a running emulator, SPEC fixtures."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_anyio.testing import OllamaEmulator, ThreadedEmulator

# The ollama_emulator fixture comes from the package's pytest11 entry point.

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# Building an SSL context per client costs ~0.1 s; these plain-HTTP tests share one.
SSL = ssl.create_default_context()


def http(emu: OllamaEmulator | ThreadedEmulator) -> httpx.AsyncClient:
    """An async httpx client for ``emu``."""
    return httpx.AsyncClient(base_url=emu.url, verify=SSL)


def http_sync(emu: OllamaEmulator | ThreadedEmulator) -> httpx.Client:
    """A blocking httpx client for ``emu``."""
    return httpx.Client(base_url=emu.url, verify=SSL)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on both backends."""
    return str(request.param)


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    """A fresh emulator served by the test's own event loop."""
    async with OllamaEmulator() as emulator:
        yield emulator
    assert emulator.errors == []


def fixture_json(name: str) -> Any:
    """A pretty-printed SPEC fixture, decoded."""
    return json.loads((FIXTURES / name).read_text())


def fixture_lines(name: str) -> list[Any]:
    """An NDJSON SPEC fixture, one decoded object per line."""
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]
