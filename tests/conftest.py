"""Shared test fixtures: both anyio backends, a clean environment, and a fake Ollama over httpx.

`FakeOllama` is an ``httpx.MockTransport`` router: tests register canned answers per method and
path (whole bodies, or NDJSON streams cut into chosen chunks), and read back every request the
client sent and whether each streamed response was closed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """The bytes of a fixture file, compact on the wire as the server sends single objects."""
    data = (FIXTURES / name).read_bytes()
    if name.endswith(".json"):
        return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
    return data


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["asyncio", "trio"])
def portal_backend(request: pytest.FixtureRequest) -> str:
    """The event loop a blocking `Client` runs in its portal thread."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_portal_thread_left() -> Iterator[None]:
    """Every test closes the blocking clients it made: no portal thread outlives it."""
    yield
    left = [t.name for t in threading.enumerate() if t.name == "ollama-anyio-portal"]
    assert not left, f"{len(left)} portal thread(s) left running"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OLLAMA_HOST",
        "OLLAMA_API_KEY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


class ChunkedStream(httpx.AsyncByteStream):
    """A response body sent in the given pieces; remembers whether the client closed it."""

    def __init__(
        self, chunks: Sequence[bytes], *, then: Exception | None = None, hang: bool = False
    ) -> None:
        self.chunks = list(chunks)
        self.then = then
        self.hang = hang
        self.sent = 0
        self.closed = False

    # An iterator object, not an async generator: one left unfinished must not need a finalizer.
    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.sent < len(self.chunks):
            self.sent += 1
            return self.chunks[self.sent - 1]
        if self.then is not None:
            raise self.then
        if self.hang:  # a server that stops sending, until the client goes away
            await anyio.sleep_forever()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeOllama:
    """Canned answers by (method, path); every request the client sent, in order."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    streams: list[ChunkedStream] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, text="404 page not found")
        return handler(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def json(self, method: str, path: str, body: bytes | Any, status: int = 200) -> None:
        """Answer with one JSON body (bytes as they are, anything else JSON-encoded)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[(method, path)] = lambda request: httpx.Response(
            status, content=content, headers={"content-type": "application/json; charset=utf-8"}
        )

    def stream(
        self,
        path: str,
        body: bytes,
        *,
        chunk_size: int | None = None,
        then: Exception | None = None,
        hang: bool = False,
    ) -> None:
        """Answer POST ``path`` with ``body`` streamed, cut into pieces of ``chunk_size``."""

        def answer(request: httpx.Request) -> httpx.Response:
            if chunk_size is None:
                chunks = body.splitlines(keepends=True)
            else:
                chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
            stream = ChunkedStream(chunks, then=then, hang=hang)
            with self.lock:
                self.streams.append(stream)
            return httpx.Response(
                200, stream=stream, headers={"content-type": "application/x-ndjson"}
            )

        self.routes[("POST", path)] = answer

    def body(self, index: int = -1) -> Any:
        """The JSON body of a request the client sent (the last one by default)."""
        return json.loads(self.requests[index].content)


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


RawHandler = Callable[[anyio.abc.SocketStream], Awaitable[None]]


@pytest.fixture
async def tcp_server() -> AsyncIterator[Callable[[RawHandler], str]]:
    """A raw TCP server on 127.0.0.1 for the test's duration: ``tcp_server(serve)`` makes
    ``serve`` handle each new connection and returns the server's URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        handlers: list[RawHandler] = []

        def start(serve: RawHandler) -> str:
            handlers.append(serve)
            return f"http://127.0.0.1:{port}"

        async def dispatch(stream: anyio.abc.SocketStream) -> None:
            await handlers[-1](stream)

        tg.start_soon(listener.serve, dispatch)
        yield start
        tg.cancel_scope.cancel()
