"""Shared test fixtures: both anyio backends, a clean environment, and a fake Ollama.

`FakeOllama` is a router: tests register canned answers per method and path (whole bodies, or
NDJSON streams cut into chosen chunks), and read back every request the client sent and whether
each streamed response was closed. It is reached on either path a client takes:

- ``"direct"``: over real sockets on 127.0.0.1 (`SocketServer`), so a client built with a host
  and no httpx option uses our transport and the direct sender, as every user does;
- ``"httpx"``: through ``httpx.MockTransport``, which turns our transport off.

A test module that sets ``BOTH_PATHS = True`` runs each test that takes ``fake`` on both paths;
``@pytest.mark.httpx_only`` keeps a test to the second (it reads what never reaches a socket).
Elsewhere ``fake`` is the httpx one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import h11
import httpx
import hypothesis
import pytest
from anyio.abc import SocketAttribute

# No deadline on a Hypothesis example: a test's speed is not its behaviour, and on a shared
# CI machine an example can take 300 ms where it takes 1 ms alone (a flaky failure).
hypothesis.settings.register_profile("ollama-anyio", deadline=None)
hypothesis.settings.load_profile("ollama-anyio")

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


@pytest.fixture
async def emu() -> AsyncIterator[Any]:
    """A running `OllamaEmulator` in the test's own event loop."""
    from ollama_anyio.testing import OllamaEmulator

    async with OllamaEmulator() as emulator:
        yield emulator


@pytest.fixture
async def emu_client(emu: Any) -> AsyncIterator[Any]:
    """An `AsyncClient` of ``emu``."""
    from ollama_anyio import AsyncClient

    async with AsyncClient(emu.url) as client:
        yield client


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
        self._closed = threading.Event()

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
        self.mark_closed()

    def mark_closed(self) -> None:
        self._closed.set()

    @property
    def closed(self) -> bool:
        """Whether the response was closed: by the client, or (over a socket) its exchange ended.

        Over a socket the server's thread sees a disconnect a moment after the client makes it:
        this waits for it, up to a bound, rather than sleep.
        """
        return self._closed.wait(_SEEN_WITHIN)


Handler = Callable[[httpx.Request], httpx.Response]
PATHS = ["direct", "httpx"]
# How long a server thread may take to see that a client closed its connection.
_SEEN_WITHIN = 10.0


@dataclass
class FakeOllama:
    """Canned answers by (method, path); every request the client sent, in order."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    streams: list[ChunkedStream] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    path: str = "httpx"
    url: str = ""  # on the direct path, the SocketServer's

    def options(self, **options: Any) -> dict[str, Any]:
        """Keyword arguments for a client that reaches this fake on its path.

        Retries wait no time (``retry_backoff=0``) unless a test asks otherwise.
        """
        options.setdefault("retry_backoff", 0)
        if self.path == "direct":
            return {"host": self.url, **options}
        return {"transport": self.transport, **options}

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


class SocketServer:
    """A `FakeOllama`'s routes over HTTP/1.1 on 127.0.0.1, served from a thread of its own.

    Requests are parsed with h11 and handed to the router as ``httpx.Request`` objects; a
    `ChunkedStream` answer is sent chunk by chunk (chunked encoding). Its ``then`` error drops
    the connection after the chunks; ``hang`` waits until the client disconnects.
    """

    def __init__(self, fake: FakeOllama, portal: anyio.from_thread.BlockingPortal) -> None:
        self.fake = fake
        self._portal = portal
        self._listener = portal.call(self._listen)
        port = self._listener.extra(SocketAttribute.local_port)
        self.url = f"http://127.0.0.1:{port}"
        self._serving = portal.start_task_soon(self._listener.serve, self._connection)

    @staticmethod
    async def _listen() -> anyio.abc.Listener[anyio.abc.SocketStream]:
        return await anyio.create_tcp_listener(local_host="127.0.0.1")

    def close(self) -> None:
        self._serving.cancel()
        with contextlib.suppress(BaseException):
            self._serving.exception()
        self._portal.call(self._listener.aclose)

    async def _connection(self, sock: anyio.abc.SocketStream) -> None:
        async with sock:
            conn = h11.Connection(h11.SERVER)
            while await self._exchange(conn, sock):
                conn.start_next_cycle()

    async def _event(self, conn: h11.Connection, sock: anyio.abc.SocketStream) -> Any:
        while (event := conn.next_event()) is h11.NEED_DATA:
            try:
                conn.receive_data(await sock.receive())
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                conn.receive_data(b"")
        return event

    async def _exchange(self, conn: h11.Connection, sock: anyio.abc.SocketStream) -> bool:
        """Answer one request; whether the connection may carry another."""
        head = await self._event(conn, sock)
        if not isinstance(head, h11.Request):
            return False
        body = b""
        while isinstance(event := await self._event(conn, sock), h11.Data):
            body += event.data
        request = httpx.Request(
            head.method.decode(),
            self.url + head.target.decode(),
            headers=[(name.decode(), value.decode()) for name, value in head.headers],
            content=body,
        )
        response = self.fake.handle(request)
        framing = {"content-length", "transfer-encoding", "connection"}
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in framing]
        stream = response.stream
        if not isinstance(stream, ChunkedStream):
            content = response.read()
            headers.append(("content-length", str(len(content))))
            await sock.send(
                conn.send(h11.Response(status_code=response.status_code, headers=headers))
            )
            if content and head.method != b"HEAD":
                await sock.send(conn.send(h11.Data(data=content)))
            await sock.send(conn.send(h11.EndOfMessage()))
            return conn.our_state is h11.DONE and conn.their_state is h11.DONE
        try:
            await sock.send(
                conn.send(h11.Response(status_code=response.status_code, headers=headers))
            )
            for chunk in stream.chunks:
                stream.sent += 1
                if chunk:
                    await sock.send(conn.send(h11.Data(data=chunk)))
            if stream.then is not None:
                return False  # the connection drops mid-body
            if stream.hang:
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    while True:  # until the client goes away
                        await sock.receive()
                return False
            await sock.send(conn.send(h11.EndOfMessage()))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False  # the client left mid-body
        finally:
            stream.mark_closed()
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeOllama]:
    """A fake Ollama on the path ``request.param`` names ("direct" or "httpx"; default httpx)."""
    path = getattr(request, "param", "httpx")
    fake = FakeOllama(path=path)
    if path != "direct":
        yield fake
        return
    with anyio.from_thread.start_blocking_portal() as portal:
        server = SocketServer(fake, portal)
        fake.url = server.url
        try:
            yield fake
        finally:
            server.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fake" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_PATHS", False):
        httpx_only = metafunc.definition.get_closest_marker("httpx_only") is not None
        metafunc.parametrize("fake", ["httpx"] if httpx_only else PATHS, indirect=True)


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
