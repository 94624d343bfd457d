"""Hostile servers on 127.0.0.1: every call ends with an error of our tree or the right answer.

Each server here breaks HTTP, or the limits, on purpose: trickling heads and bodies, endless
lines, huge lengths, a gzip bomb, interim answers, redirects to other schemes, connections that
die. Timeouts are tested with small configured timeouts against peers that trickle forever (a
test asserts the typed error, never a duration); memory bounds with small configured limits
(the error is raised after at most the limit was buffered, as the reader hands out pieces of
at most one read). Async tests run on asyncio and trio.
"""

from __future__ import annotations

import errno
import gc
import gzip
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest

from conftest import RawHandler
from ollama_anyio import (
    AsyncClient,
    Client,
    OllamaConnectionError,
    OllamaTimeoutError,
    ProtocolError,
    ResponseError,
)

# A handler answers one request: (its connection, its head, its body, its number) -> whether
# the connection carries on.
Handler = Callable[[anyio.abc.SocketStream, bytes, bytes, int], Awaitable[bool]]
HI = [{"role": "user", "content": "hi"}]
SHORT = httpx.Timeout(0.5, connect=5.0)  # small read timeout: the peers below never finish


class Hostile:
    """A raw-socket server: reads each request, lets a handler answer it; keeps counts."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.url = ""
        self.requests: list[bytes] = []
        self.connections = 0
        self.active = 0
        self.most_active = 0
        self.closed = anyio.Event()  # set when a connection has ended

    async def serve(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            async with stream:
                buffer = b""
                while True:
                    while b"\r\n\r\n" not in buffer:
                        buffer += await stream.receive()
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    while len(buffer) < length:
                        buffer += await stream.receive()
                    body, buffer = buffer[:length], buffer[length:]
                    self.requests.append(head)
                    if not await self.handler(stream, head, body, len(self.requests)):
                        return
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.active -= 1
            self.closed.set()


@pytest.fixture
def hostile(tcp_server: Callable[[RawHandler], str]) -> Callable[[Handler], Hostile]:
    def start(handler: Handler) -> Hostile:
        server = Hostile(handler)
        server.url = tcp_server(server.serve)
        return server

    return start


def answer(*raw: bytes, keep: bool = True) -> Handler:
    """A handler sending ``raw`` (one item per request, the last one repeated)."""

    async def handle(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        await stream.send(raw[min(n, len(raw)) - 1])
        return keep

    return handle


def ok(body: bytes, *headers: bytes) -> bytes:
    lines = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (lines, len(body), body)


def version(n: int) -> bytes:
    return ok(b'{"version":"%d"}' % n)


def numbered() -> Handler:
    """Answers request number n with version "n": a stale answer would show."""

    async def handle(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        await stream.send(version(n))
        return True

    return handle


async def trickle(stream: anyio.abc.SocketStream, start: bytes, byte: bytes = b"a") -> None:
    """Send ``start``, then one byte every 20 ms, forever (until the client leaves)."""
    await stream.send(start)
    while True:
        await anyio.sleep(0.02)
        await stream.send(byte)


def trickling(start: bytes, byte: bytes = b"a") -> Handler:
    async def handle(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        await trickle(stream, start, byte)
        return False

    return handle


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# -- time ----------------------------------------------------------------------------------------


async def test_a_head_trickled_a_byte_at_a_time_times_out(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a"))
    async with AsyncClient(server.url, timeout=SHORT, max_retries=0) as client:
        with pytest.raises(OllamaTimeoutError, match="read timeout"):
            await client.version()


async def test_a_body_trickled_a_byte_at_a_time_times_out(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{", b" "))
    async with AsyncClient(server.url, timeout=SHORT, max_retries=0) as client:
        with pytest.raises(OllamaTimeoutError, match="read timeout"):
            await client.version()


async def test_a_stream_line_trickled_forever_times_out(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(CHUNKED + chunk(b'{"model":"m","done":false}\n'), chunk(b" ")))
    async with AsyncClient(server.url, timeout=SHORT, max_retries=0) as client:
        parts = []
        with pytest.raises(OllamaTimeoutError, match="no complete line"):
            async with await client.chat("m", HI, stream=True) as stream:
                async for part in stream:
                    parts.append(part)
        assert len(parts) == 1  # the complete line before the trickle was delivered


async def test_interim_answers_forever_time_out(hostile: Callable[[Handler], Hostile]) -> None:
    server = hostile(trickling(b"", b"HTTP/1.1 100 Continue\r\n\r\n"))
    async with AsyncClient(server.url, timeout=SHORT, max_retries=0) as client:
        with pytest.raises(OllamaTimeoutError):
            await client.version()


# -- memory ----------------------------------------------------------------------------------


async def test_a_huge_chunk_size_line_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(answer(CHUNKED + b"1" * 1_000_000))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="chunk size line too long"):
            await client.version()


async def test_a_chunk_size_beyond_any_body_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(answer(CHUNKED + b"FFFFFFFFFFFFFFFFF\r\n"))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError):
            await client.version()


async def test_a_huge_chunk_is_stopped_at_the_body_limit(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(CHUNKED + b"FFFFFFFFFFFFFFFF\r\n" + b"x" * 300_000, b"x" * 1000))
    async with AsyncClient(server.url, max_retries=0, max_body_size=100_000) as client:
        with pytest.raises(ProtocolError, match="max_body_size"):
            await client.version()


async def test_a_hundred_thousand_headers_are_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(answer(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100_000 + b"\r\n"))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="64 KiB"):
            await client.version()


async def test_a_head_without_end_is_a_protocol_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000, b"a" * 100))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="64 KiB"):
            await client.version()


async def test_a_2_gib_content_length_is_refused_before_reading(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n{"))
    async with AsyncClient(server.url, max_retries=0) as client:  # the default limit, 1 GiB
        with pytest.raises(ProtocolError, match="announces 2147483648 bytes"):
            await client.version()


async def test_a_body_longer_than_the_limit_is_stopped_at_it(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(b"HTTP/1.1 200 OK\r\n\r\n" + b" " * 200_000, b" " * 10_000))
    async with AsyncClient(server.url, max_retries=0, max_body_size=100_000) as client:
        with pytest.raises(ProtocolError, match="max_body_size"):
            await client.version()


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_decompression_bomb_is_stopped_at_the_body_limit(
    hostile: Callable[[Handler], Hostile], coding: str
) -> None:
    zeros = b"0" * (64 * 1024 * 1024)
    bomb = gzip.compress(zeros, 9) if coding == "gzip" else __import__("zlib").compress(zeros, 9)
    server = hostile(answer(ok(bomb, b"Content-Encoding: " + coding.encode())))
    async with AsyncClient(server.url, max_retries=0, max_body_size=1_000_000) as client:
        with pytest.raises(ProtocolError, match="max_body_size"):
            await client.version()


async def test_a_gzip_bomb_through_httpx_s_client_is_stopped_too(
    hostile: Callable[[Handler], Hostile],
) -> None:
    bomb = gzip.compress(b"0" * (64 * 1024 * 1024), 9)
    server = hostile(answer(ok(bomb, b"Content-Encoding: gzip")))
    async with AsyncClient(
        server.url, max_retries=0, max_body_size=1_000_000, trust_env=False
    ) as client:
        with pytest.raises(ProtocolError, match="max_body_size"):
            await client.version()


async def test_a_stream_line_without_end_is_stopped_at_the_line_limit(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(CHUNKED + chunk(b'{"model":"' + b"m" * 100_000), chunk(b"m" * 1000)))
    async with AsyncClient(server.url, max_retries=0, max_line_size=64 * 1024) as client:
        with pytest.raises(ProtocolError, match="max_line_size"):
            async with await client.chat("m", HI, stream=True) as stream:
                async for _ in stream:
                    pass


async def test_a_huge_error_body_is_cut_to_an_excerpt(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(
        trickling(b"HTTP/1.1 500 Oops\r\nContent-Length: 2147483648\r\n\r\n" + b"E" * 100_000)
    )
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.version()
    assert info.value.status_code == 500
    assert 0 < len(info.value.error) <= 64 * 1024


# -- framing -----------------------------------------------------------------------------------


async def test_an_interim_103_is_skipped_and_no_answer_goes_to_the_wrong_request(
    hostile: Callable[[Handler], Hostile],
) -> None:
    async def early_hints(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + version(n))
        return True

    server = hostile(early_hints)
    async with AsyncClient(server.url) as client:
        assert [await client.version() for _ in range(3)] == ["1", "2", "3"]
    assert server.connections == 1


async def test_101_is_a_protocol_error(hostile: Callable[[Handler], Hostile]) -> None:
    server = hostile(answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError, match="101"):
            await client.version()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 17\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    ],
    ids=["two-lengths", "chunked-not-last"],
)
async def test_lenient_framing_is_refused_and_the_connection_dropped(
    hostile: Callable[[Handler], Hostile], head: bytes
) -> None:
    server = hostile(answer(head + b'{"version":"1"}', version(2)))
    async with AsyncClient(server.url, max_retries=0) as client:
        with pytest.raises(ProtocolError):
            await client.version()
        assert await client.version() == "2"  # its own answer, on a new connection
    assert server.connections == 2


async def test_http_1_0_without_length_reads_to_the_close(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(answer(b'HTTP/1.0 200 OK\r\n\r\n{"version":"1.0"}', keep=False))
    async with AsyncClient(server.url) as client:
        assert await client.version() == "1.0"
        assert await client.version() == "1.0"
    assert server.connections == 2


async def test_a_server_closing_after_the_head_is_a_connection_error(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", keep=False))
    async with AsyncClient(server.url) as client:
        with pytest.raises(OllamaConnectionError, match="broke during the response"):
            await client.version()
    assert len(server.requests) == 1  # the response had begun: never sent again


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/"])
@pytest.mark.parametrize("through_httpx", [False, True])
async def test_a_redirect_to_another_scheme_is_refused_and_nothing_sent(
    hostile: Callable[[Handler], Hostile], target: str, through_httpx: bool
) -> None:
    moved = b"HTTP/1.1 307 Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % target.encode()
    server = hostile(answer(moved))
    options: dict[str, Any] = {"trust_env": False} if through_httpx else {}
    async with AsyncClient(server.url, max_retries=0, **options) as client:
        with pytest.raises(ProtocolError, match=target.partition(":")[0]):
            await client.show("m")
    assert len(server.requests) == 1


# -- retries and connections ------------------------------------------------------------------


def dies_on_second_request() -> Handler:
    """Answers a connection's first request; reads its second, then closes without an answer
    (a kept-alive connection the server dropped just as the request arrived)."""

    async def handle(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        if b"x-second" in getattr(stream, "_marks", set()):
            return False
        stream._marks = {b"x-second"}  # type: ignore[attr-defined]
        await stream.send(ok(b'{"version":"1","status":"success"}'))
        return True

    return handle


async def test_a_stale_connection_resends_a_safe_request_at_once(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(dies_on_second_request())
    async with AsyncClient(server.url, max_retries=0) as client:  # not counted as a retry
        assert await client.version() == "1"
        assert await client.version() == "1"
    assert len(server.requests) == 3
    assert server.connections == 2


async def test_a_stale_connection_never_resends_a_write(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(dies_on_second_request())
    async with AsyncClient(server.url) as client:
        await client.copy("a", "b")
        with pytest.raises(OllamaConnectionError, match="before a response"):
            await client.copy("a", "b")  # the server may have copied: not sent again
    assert [head.split(b" ")[1] for head in server.requests] == [b"/api/copy", b"/api/copy"]


async def test_a_stale_connection_resends_a_write_when_told_to(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(dies_on_second_request())
    async with AsyncClient(server.url, retry_writes=True) as client:
        await client.copy("a", "b")
        await client.copy("a", "b")
    assert len(server.requests) == 3


async def test_connections_per_server_are_capped(hostile: Callable[[Handler], Hostile]) -> None:
    async def slow(stream: anyio.abc.SocketStream, head: bytes, body: bytes, n: int) -> bool:
        await anyio.sleep(0.01)  # the peer's pace: calls overlap
        await stream.send(version(n))
        return True

    server = hostile(slow)
    async with AsyncClient(server.url, limits=httpx.Limits(max_connections=3)) as client:
        assert client._session.direct is not None  # limits= stays on our transport
        async with anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(client.version)
    assert len(server.requests) == 30
    assert server.most_active <= 3


async def test_waiting_for_a_connection_past_the_pool_timeout_is_a_timeout(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(CHUNKED + chunk(b'{"model":"m","done":false}\n'), chunk(b"\n")))
    timeout = httpx.Timeout(5.0, pool=0.2)
    async with AsyncClient(
        server.url, timeout=timeout, max_retries=0, limits=httpx.Limits(max_connections=1)
    ) as client:
        async with await client.chat("m", HI, stream=True) as stream:
            await stream.__anext__()  # holds the one connection
            with pytest.raises(OllamaTimeoutError, match="pool timeout"):
                await client.version()


async def test_running_out_of_file_descriptors_says_so_and_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def no_more(*args: object) -> socket.socket:
        calls.append(args)
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(socket, "socket", no_more)
    async with AsyncClient("http://127.0.0.1:9", retry_backoff=0) as client:
        with pytest.raises(OllamaConnectionError, match="ran out of file descriptors"):
            await client.version()
    assert len(calls) == 1


# -- lifecycle ---------------------------------------------------------------------------------


async def test_a_stream_dropped_half_read_closes_its_socket_at_once(
    hostile: Callable[[Handler], Hostile],
) -> None:
    server = hostile(trickling(CHUNKED + chunk(b'{"model":"m","done":false}\n'), chunk(b"\n")))
    async with AsyncClient(server.url) as client:
        stream = await client.chat("m", HI, stream=True)
        async for _ in stream:
            break  # a plain async for: the stream gets no signal
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del stream
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
        with anyio.fail_after(5):
            await server.closed.wait()  # the server sees the close


def test_a_stream_kept_past_its_event_loop_is_closed_without_warnings(
    ollama_emulator: object,
) -> None:
    url = ollama_emulator.url  # type: ignore[attr-defined]
    client = AsyncClient(url)

    async def half_read() -> object:
        stream = await client.chat("llama3.2", HI, stream=True)
        await stream.__anext__()
        return stream

    kept = anyio.run(half_read)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del kept
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    anyio.run(client.aclose)


# -- the blocking client ------------------------------------------------------------------------


class TricklingThread:
    """A server thread that answers every connection with a head, then a byte every 20 ms."""

    def __init__(self, start: bytes) -> None:
        self._start = start
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve)

    def __enter__(self) -> TricklingThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(self._start)
                    while not self._stop.wait(0.02):
                        conn.sendall(b" ")
                except OSError:
                    continue  # the client left


def blocking(url: str, backend: str) -> Client:
    """A blocking client with the short read timeout, on the portal backend ``backend``."""
    return Client(
        url, timeout=SHORT, max_retries=0, backend="trio" if backend == "trio" else "asyncio"
    )


def test_a_blocking_call_on_a_trickling_server_times_out(portal_backend: str) -> None:
    with (
        TricklingThread(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{") as server,
        blocking(server.url, portal_backend) as client,
        pytest.raises(OllamaTimeoutError, match="read timeout"),
    ):
        client.version()


def test_a_blocking_stream_trickling_forever_times_out(portal_backend: str) -> None:
    start = CHUNKED + chunk(b'{"model":"m","done":false}\n') + b"100\r\n"
    with (
        TricklingThread(start) as server,
        blocking(server.url, portal_backend) as client,
        pytest.raises(OllamaTimeoutError, match="no complete line"),
        client.chat("m", HI, stream=True) as stream,
    ):
        for _ in stream:
            pass


_EXIT_WITH_AN_OPEN_STREAM = """
import sys
from ollama_anyio import Client
client = Client(sys.argv[1], backend=sys.argv[2])
stream = client.chat("llama3.2", [{"role": "user", "content": "hi"}], stream=True)
next(stream)
# exits here, the client and the half-read stream never closed
"""


def test_a_script_exiting_with_a_blocking_stream_open_prints_nothing(
    ollama_emulator: Any, portal_backend: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_WITH_AN_OPEN_STREAM, ollama_emulator.url, portal_backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
