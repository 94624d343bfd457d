"""Request ids and the on_request / on_response hooks: one observation point, on our own
transport, for the async and the blocking client."""

from __future__ import annotations

import pickle
import re
from typing import Literal

import pytest

from ollama_anyio import (
    AsyncClient,
    Client,
    NotFoundError,
    OllamaConnectionError,
    OllamaError,
    RequestError,
    RequestEvent,
    ResponseEvent,
)
from ollama_anyio.testing import Fault, OllamaEmulator

Backend = Literal["asyncio", "trio"]

ASK = [{"role": "user", "content": "hi"}]


async def test_each_request_has_an_id_of_its_own_kept_on_its_retries(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.busy(1, path="/api/tags"))
    async with AsyncClient(emu.url, retry_backoff=0) as client:
        raw = await client.with_raw_response.list()
        await client.version()
    first, retried, other = (r.header("x-request-id") for r in emu.requests)
    assert first is not None
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert retried == first == raw.request_id
    assert other != first


async def test_the_request_id_header_can_be_renamed_fixed_or_left_out(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url, request_id_header="X-Correlation-Id") as client:
        raw = await client.with_raw_response.version()
    assert emu.requests[-1].header("x-correlation-id") == raw.request_id
    assert emu.requests[-1].header("x-request-id") is None
    async with AsyncClient(emu.url, headers={"X-Request-Id": "job-42"}) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.show("missing")
    assert caught.value.request_id == "job-42"
    assert [v for k, v in emu.requests[-1].headers if k == "x-request-id"] == ["job-42"]
    async with AsyncClient(emu.url, request_id_header=None) as client:
        raw = await client.with_raw_response.version()
    assert raw.request_id is None
    assert emu.requests[-1].header("x-request-id") is None


def test_a_bad_request_id_header_or_hook_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(RequestError, match="invalid header name"):
        AsyncClient("http://127.0.0.1:1", request_id_header="bad header")
    with pytest.raises(RequestError, match="request_id_header"):
        AsyncClient("http://127.0.0.1:1", request_id_header="Content-Length")
    with pytest.raises(RequestError, match="on_request"):
        AsyncClient("http://127.0.0.1:1", on_request=["not callable"])  # type: ignore[list-item]


async def test_the_request_id_is_on_errors_and_survives_pickling(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.show("missing")
    sent = emu.requests[-1].header("x-request-id")
    assert caught.value.request_id == sent
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.request_id == sent
    assert copy.status_code == 404
    async with AsyncClient("http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(OllamaConnectionError) as failed:
            await client.list()
    assert failed.value.request_id is not None


async def test_errors_inside_a_stream_carry_its_request_id(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.truncate(after=2, path="/api/chat"))
    async with AsyncClient(emu.url) as client:
        with pytest.raises(OllamaError) as caught:
            async with await client.chat("llama3.2", ASK, stream=True) as parts:
                async for _ in parts:
                    await client.version()  # another request meanwhile, in the same task
    assert caught.value.request_id == emu.requests[0].header("x-request-id")


async def test_sync_and_async_hooks_see_each_request_and_its_end_on_our_transport(
    emu: OllamaEmulator,
) -> None:
    seen: list[str] = []
    ended: list[ResponseEvent] = []

    def tag(event: RequestEvent) -> None:
        seen.append(f"{event.method} {event.url.rsplit('/', 1)[-1]}")
        event.headers["X-Tenant"] = "blue"

    async def record(event: ResponseEvent) -> None:
        ended.append(event)

    emu.faults.add(Fault.busy(1, path="/api/chat"))
    async with AsyncClient(emu.url, retry_backoff=0, on_request=tag, on_response=[record]) as c:
        assert c._session.direct is not None  # hooks keep the direct path, unlike event_hooks
        answer = await c.chat("llama3.2", ASK)
        with pytest.raises(NotFoundError):
            await c.show("missing")
        async with await c.chat("llama3.2", ASK, stream=True) as parts:
            async for _ in parts:
                pass
    assert answer.done
    assert seen == ["POST chat", "POST show", "POST chat"]  # once per request, not per attempt
    assert all(r.header("x-tenant") == "blue" for r in emu.requests)
    chat, show, stream = ended
    assert (chat.status_code, chat.retries, chat.error) == (200, 1, None)
    assert chat.request_id == emu.requests[1].header("x-request-id")
    assert chat.headers is not None
    assert chat.headers["content-type"].startswith("application/json")
    assert show.status_code == 404
    assert isinstance(show.error, NotFoundError)
    assert show.error.request_id == show.request_id
    assert stream.status_code == 200  # at the head: the body is the stream's


async def test_a_connection_failure_reaches_on_response_with_its_error() -> None:
    ended: list[ResponseEvent] = []
    async with AsyncClient("http://127.0.0.1:9", max_retries=0, on_response=ended.append) as c:
        with pytest.raises(OllamaConnectionError):
            await c.list()
    (event,) = ended
    assert event.status_code is None
    assert event.headers is None
    assert isinstance(event.error, OllamaConnectionError)


async def test_a_hook_that_raises_fails_the_call_and_frees_the_connection(
    emu: OllamaEmulator,
) -> None:
    def refuse(event: ResponseEvent) -> None:
        raise RuntimeError("no")

    def forbid(event: RequestEvent) -> None:
        event.headers["Host"] = "elsewhere"

    async with AsyncClient(emu.url, on_response=refuse) as client:
        with pytest.raises(RuntimeError, match="no"):
            await client.version()
        with pytest.raises(RuntimeError, match="no"):
            await client.version()  # the connection of the first was closed, not leaked
    async with AsyncClient(emu.url, on_request=forbid) as client:
        with pytest.raises(RequestError, match="Host"):
            await client.version()


def test_the_blocking_client_takes_the_same_hooks(portal_backend: Backend) -> None:
    ids: list[str | None] = []
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(
            emu.url, backend=portal_backend, on_response=lambda event: ids.append(event.request_id)
        ) as client,
    ):
        client.version()
        with pytest.raises(NotFoundError) as caught:
            client.show("missing")
        sent = [r.header("x-request-id") for r in emu.requests]
    assert ids == sent
    assert caught.value.request_id == sent[-1]
