"""The single send point: every endpoint, on either client, ends in exactly one `_request`.

``_request(cls, method, path, *, json=None, stream=False)`` is the official client's layout;
tracing tools wrap it. The blocking `Client` has its own `_request` (one portal crossing into
the async core's private send), so a wrapper on it, on `AsyncClient._request`, or on a public
method sees each call once: a blocking call never passes through `AsyncClient._request` nor
through a public `AsyncClient` method.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from ollama_anyio import (
    AsyncClient,
    AsyncStream,
    ChatResponse,
    Client,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    Stream,
)
from ollama_anyio._async_core import AsyncCore
from ollama_anyio._sync_client import ClientCore
from ollama_anyio._types import EmbedArraysResponse, VersionResponse
from ollama_anyio.testing import OllamaEmulator

HI = [{"role": "user", "content": "hi"}]

# (endpoint, args, kwargs) -> what its one _request call is: (cls, method, path, stream)
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], tuple[type[Any], str, str, bool]]] = [
    ("chat", ("llama3.2", HI), {}, (ChatResponse, "POST", "/api/chat", False)),
    ("chat", ("llama3.2", HI), {"stream": True}, (ChatResponse, "POST", "/api/chat", True)),
    ("generate", ("llama3.2", "hi"), {}, (GenerateResponse, "POST", "/api/generate", False)),
    ("embed", ("all-minilm", "hi"), {}, (EmbedResponse, "POST", "/api/embed", False)),
    (
        "embed",
        ("all-minilm", ["a", "b"]),
        {"as_arrays": True},
        (EmbedArraysResponse, "POST", "/api/embed", False),
    ),
    (
        "embeddings",
        ("all-minilm", "hi"),
        {},
        (EmbeddingsResponse, "POST", "/api/embeddings", False),
    ),
    ("pull", ("llama3.2",), {"stream": True}, (ProgressResponse, "POST", "/api/pull", True)),
    ("list", (), {}, (ListResponse, "GET", "/api/tags", False)),
    ("show", ("llama3.2",), {}, (ShowResponse, "POST", "/api/show", False)),
    ("ps", (), {}, (ProcessResponse, "GET", "/api/ps", False)),
    ("version", (), {}, (VersionResponse, "GET", "/api/version", False)),
    ("copy", ("llama3.2", "mine"), {}, (StatusResponse, "POST", "/api/copy", False)),
]
IDS = [f"{name}-{index}" for index, (name, *_) in enumerate(CALLS)]
BLOB = b"a blob of bytes"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class Spy:
    """Records the calls of ``cls._request`` (and of forbidden methods) made through it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls: list[tuple[Any, ...]] = []

    def wrap_async(self, cls: type[Any], name: str = "_request") -> None:
        original = getattr(cls, name)
        calls = self.calls

        async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append((cls.__name__, name, *args[:3], kwargs.get("stream", False)))
            return await original(self, *args, **kwargs)

        self.monkeypatch.setattr(cls, name, spy)

    def wrap_sync(self, cls: type[Any]) -> None:
        original = cls._request
        calls = self.calls

        def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append((cls.__name__, "_request", *args[:3], kwargs.get("stream", False)))
            return original(self, *args, **kwargs)

        self.monkeypatch.setattr(cls, "_request", spy)


@pytest.mark.parametrize(("name", "args", "kwargs", "expected"), CALLS, ids=IDS)
async def test_every_async_endpoint_sends_once_through_request(
    emu_client: AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: tuple[type[Any], str, str, bool],
) -> None:
    spy = Spy(monkeypatch)
    spy.wrap_async(AsyncClient)
    result = await getattr(emu_client, name)(*args, **kwargs)
    if isinstance(result, AsyncStream):
        async with result as chunks:
            result = [chunk async for chunk in chunks]
    assert spy.calls == [("AsyncClient", "_request", *expected)]


@pytest.fixture
def blocking(portal_backend: str) -> Iterator[Client]:
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(emu.url, backend=cast(Any, portal_backend)) as client,
    ):
        yield client


@pytest.mark.parametrize(("name", "args", "kwargs", "expected"), CALLS, ids=IDS)
def test_every_blocking_endpoint_sends_once_through_its_own_request(
    blocking: Client,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: tuple[type[Any], str, str, bool],
) -> None:
    spy = Spy(monkeypatch)
    spy.wrap_sync(ClientCore)
    spy.wrap_async(AsyncClient)  # must see nothing: the blocking side has its own send point
    spy.wrap_async(AsyncClient, name)  # nor the public async twin
    result = getattr(blocking, name)(*args, **kwargs)
    if isinstance(result, Stream):
        with result as chunks:
            result = list(chunks)
    assert spy.calls == [("ClientCore", "_request", *expected)]


async def test_blobs_send_once_each(
    emu_client: AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(BLOB)
    spy = Spy(monkeypatch)
    spy.wrap_async(AsyncClient)
    assert await emu_client.create_blob(blob) == DIGEST
    assert await emu_client.blob_exists(DIGEST)
    path = f"/api/blobs/{DIGEST}"
    assert spy.calls == [
        ("AsyncClient", "_request", StatusResponse, "POST", path, False),
        ("AsyncClient", "_request", StatusResponse, "HEAD", path, False),
    ]


def test_the_async_core_send_is_the_request_function() -> None:
    """`_send` is `_request` itself: the blocking crossing adds no layer on the async side."""
    assert AsyncCore._send is AsyncCore._request  # pyright: ignore[reportPrivateUsage]


def test_blocking_blobs_send_once_each(
    blocking: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The file is hashed in the caller's thread; its pieces are read in the portal's loop."""
    blob = tmp_path / "blob.bin"
    blob.write_bytes(BLOB)
    spy = Spy(monkeypatch)
    spy.wrap_sync(ClientCore)
    spy.wrap_async(AsyncClient)
    assert blocking.create_blob(blob) == DIGEST
    assert blocking.blob_exists(DIGEST)
    assert not blocking.blob_exists("sha256:" + "0" * 64)
    path = f"/api/blobs/{DIGEST}"
    assert spy.calls[:2] == [
        ("ClientCore", "_request", StatusResponse, "POST", path, False),
        ("ClientCore", "_request", StatusResponse, "HEAD", path, False),
    ]
    assert len(spy.calls) == 3
