"""Pooled connections looked at before reuse, the re-send rule, and the HTTP corners of issue 18.

Hostile servers on 127.0.0.1 (see test_hostile.py): a connection the server closed or wrote to
while it was idle is never reused, so no call reads another's leftovers and a write after an
idle close succeeds; early answers to uploads, bare-LF heads, statuses below 100 and deep JSON
end as the typed error. Async tests run on asyncio and trio.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import anyio.abc
import pytest

from ollama_anyio import AsyncClient, ProtocolError, ResponseError
from test_hostile import HI, Handler, Hostile, ok, version

pytestmark = pytest.mark.anyio

SUCCESS = ok(b'{"status":"success"}')
DEEP = b"[" * 100_000 + b"]" * 100_000  # msgspec gives up (RecursionError) long before this


def deep_chat() -> bytes:
    """A chat answer whose tool call's arguments nest 100,000 levels deep."""
    arguments = b'{"a":' + DEEP + b"}"
    return (
        b'{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant",'
        b'"content":"","tool_calls":[{"function":{"name":"f","arguments":%s}}]},"done":true}'
        % arguments
    )


class Later:
    """A handler that answers each request, then, once the test says so, does ``then`` on the
    idle connection (send leftovers, close it) and tells the test it has."""

    def __init__(self, then: bytes | None) -> None:
        self.then = then
        self.go = anyio.Event()
        self.done = anyio.Event()

    async def __call__(
        self, stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int
    ) -> bool:
        if n > 1:
            await stream.send(SUCCESS if b"/api/version" not in head else version(n))
            return True
        await stream.send(version(n))
        with anyio.fail_after(10):
            await self.go.wait()
        if self.then is not None:
            await stream.send(self.then)
        self.done.set()
        return False  # the connection is closed by the server, idle


@pytest.fixture
def hostile(tcp_server: Callable[[Callable[..., object]], str]) -> Callable[[Handler], Hostile]:
    def start(handler: Handler) -> Hostile:
        server = Hostile(handler)
        server.url = tcp_server(server.serve)
        return server

    return start


async def _idle_then(
    hostile: Callable[[Handler], Hostile], then: bytes | None
) -> tuple[Hostile, Later, AsyncClient]:
    later = Later(then)
    server = hostile(later)
    client = AsyncClient(server.url, max_retries=0)
    assert await client.version() == "1"  # the connection now idles in the pool
    later.go.set()
    with anyio.fail_after(10):
        await later.done.wait()
        await server.closed.wait()
    return server, later, client


@pytest.mark.parametrize(
    "leftover",
    [
        version(999),  # a second answer to one request
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"garbage",
    ],
)
async def test_bytes_on_an_idle_connection_never_become_the_next_answer(
    hostile: Callable[[Handler], Hostile], leftover: bytes
) -> None:
    server, _, client = await _idle_then(hostile, leftover)
    async with client:
        assert await client.version() == "2"  # on a new connection: request 2's own answer
    assert server.connections == 2


@pytest.mark.parametrize("write", ["copy", "delete", "create", "push"])
async def test_writes_after_an_idle_close_succeed(
    hostile: Callable[[Handler], Hostile], write: str
) -> None:
    # The server closed the kept-alive connection while it idled (nginx's keepalive_timeout,
    # uvicorn's 5 s): the write goes on a new connection, with retries off and no retry.
    server, _, client = await _idle_then(hostile, None)
    async with client:
        if write == "copy":
            await client.copy("a", "b")
        elif write == "delete":
            await client.delete("a")
        elif write == "create":
            await client.create("a", from_="b")
        else:
            await client.push("a")
    assert server.connections == 2
    assert len(server.requests) == 2  # sent once


async def test_an_early_413_to_an_upload_is_that_response_error(
    tcp_server: Callable[[Callable[[anyio.abc.SocketStream], object]], str],
) -> None:
    # The server reads the head, answers 413 and closes without reading the 8 MiB body.
    async def serve(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            body = b'{"error":"http: request body too large"}'
            await stream.send(
                b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (len(body), body)
            )

    url = tcp_server(serve)
    big = "x" * (8 * 1024 * 1024)
    async with AsyncClient(url, max_retries=0, timeout=10) as client:
        with pytest.raises(ResponseError) as caught:
            await client.chat("m", messages=[{"role": "user", "content": big}])
    assert caught.value.status_code == 413
    assert caught.value.error == "http: request body too large"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
async def test_a_head_with_bare_lf_line_ends_is_read(
    hostile: Callable[[Handler], Hostile], eol: bytes
) -> None:
    body = b'{"version":"7"}'
    head = b"HTTP/1.1 200 OK\nContent-Length: %d%s\n" % (len(body), eol)

    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(head + body)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=10) as client:
        assert await client.version() == "7"


@pytest.mark.parametrize("status", [b"000", b"099", b"042"])
async def test_a_status_below_100_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile], status: bytes
) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 %s Odd\r\nContent-Length: 2\r\n\r\n{}" % status)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=10) as client:
        with pytest.raises(ProtocolError, match="status line"):
            await client.version()


async def test_deep_json_in_a_whole_answer_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(ok(deep_chat()))
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=10) as client:
        with pytest.raises(ProtocolError, match="recursion"):
            await client.chat("m", messages=HI)


async def test_deep_json_in_a_stream_is_a_protocol_error_and_the_response_closed(
    hostile: Callable[[Handler], Hostile],
) -> None:
    first = (
        b'{"model":"m","created_at":"2024-01-01T00:00:00Z",'
        b'"message":{"role":"assistant","content":"a"},"done":false}\n'
    )

    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        lines = first + deep_chat() + b"\n"
        await stream.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await stream.send(b"%x\r\n%s\r\n" % (len(lines), lines))
        await stream.receive()  # not ended: waits until the client closes the response
        return False  # pragma: no cover

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=10) as client:
        with pytest.raises(ProtocolError, match="recursion"):
            async for _ in await client.chat("m", messages=HI, stream=True):
                pass
        with anyio.fail_after(10):
            await server.closed.wait()  # the client closed the response


async def test_deep_json_in_an_embed_answer_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(ok(b'{"model":"m","embeddings":[[0.5]],"extra":' + DEEP + b"}"))
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=10) as client:
        with pytest.raises(ProtocolError):
            await client.embed("m", input="hi")


def test_error_shape_of_the_deep_chat_fixture_is_json() -> None:
    # (The builders above make valid JSON but for the depth: a shallow one decodes.)
    shallow = deep_chat().replace(DEEP, b"[1]")
    assert json.loads(shallow)["message"]["tool_calls"][0]["function"]["arguments"] == {"a": [1]}
