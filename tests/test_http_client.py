"""``http_client=``: the caller's own httpx client, used as given and never closed by us, with
errors, retries, read limits and streams as on our own transport; on both clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from ollama_anyio import (
    AsyncClient,
    Client,
    NotFoundError,
    ProtocolError,
    RequestError,
)
from ollama_anyio.testing import Fault, OllamaEmulator

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def _header(request: Any, name: str) -> str | None:
    return dict(request.headers).get(name)


async def test_the_callers_async_client_is_used_as_given_and_left_open(
    emulator: OllamaEmulator,
) -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url.path}")

    mine = httpx.AsyncClient(headers={"x-team": "search"}, event_hooks={"request": [hook]})
    async with AsyncClient(emulator.url, http_client=mine, headers={"x-app": "demo"}) as client:
        reply = await client.chat("llama3.2", HI)
        async with await client.generate("llama3.2", "Hello", stream=True) as stream:
            text = "".join([piece async for piece in stream.text()])
        assert stream.final.response == text
        assert reply.message.content
        assert (await client.models.exists("llama3.2")) is True
    assert seen == ["POST /api/chat", "POST /api/generate", "GET /api/tags"]
    sent = emulator.requests[0]
    assert _header(sent, "x-team") == "search"  # the client's own headers
    assert _header(sent, "x-app") == "demo"  # and ours
    assert (_header(sent, "user-agent") or "").startswith("ollama-anyio")
    assert not mine.is_closed  # closing our client leaves the caller's open
    with pytest.raises(RuntimeError, match="closed"):
        await client.chat("llama3.2", HI)
    await mine.aclose()


async def test_errors_retries_and_limits_are_as_on_our_transport(
    emulator: OllamaEmulator,
) -> None:
    emulator.faults.add(Fault.busy(1, path="/api/chat"))
    async with httpx.AsyncClient() as mine:
        client = AsyncClient(emulator.url, http_client=mine, retry_backoff=0)
        raw = await client.with_raw_response.chat("llama3.2", HI)
        assert (raw.status_code, raw.retries) == (200, 1)
        with pytest.raises(NotFoundError) as info:
            await client.show("no-such-model")
        assert info.value.headers["content-type"].startswith("application/json")
        small = AsyncClient(emulator.url, http_client=mine, max_body_size=100)
        with pytest.raises(ProtocolError, match="max_body_size"):
            await small.chat("llama3.2", HI)  # a whole answer larger than 100 bytes
        await client.aclose()
        await small.aclose()
        assert not mine.is_closed


async def test_a_bad_http_client_is_refused_at_once() -> None:
    with pytest.raises(RequestError, match=r"httpx\.AsyncClient or httpx\.Client"):
        AsyncClient(http_client=cast(Any, "not a client"))
    async with httpx.AsyncClient() as mine:
        with pytest.raises(RequestError, match="verify"):
            AsyncClient(http_client=mine, verify=False)


def test_the_blocking_client_takes_an_httpx_client(portal_backend: str) -> None:
    seen: list[str] = []
    with (
        OllamaEmulator.start_in_thread() as emulator,
        httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]}) as mine,
    ):
        with Client(emulator.url, backend=cast(Any, portal_backend), http_client=mine) as client:
            assert client.chat("llama3.2", HI).message.content
            with client.chat("llama3.2", HI, stream=True) as parts:
                first = next(parts)
                rest = [part.message.content for part in parts]
            assert parts.final.message.content == first.message.content + "".join(rest)
            with pytest.raises(NotFoundError):
                client.show("no-such-model")
            with client.with_streaming_response.chat("llama3.2", HI, stream=True) as response:
                assert response.status_code == 200
                assert list(response.iter_lines())
        assert not mine.is_closed
        assert seen == ["/api/chat", "/api/chat", "/api/show", "/api/chat"]
