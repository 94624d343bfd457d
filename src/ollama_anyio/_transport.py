"""An anyio-native HTTP/1.1 transport for httpx: plain or TLS connections with keep-alive.

httpx stays the public face (requests, redirects, auth, proxies from the environment); this
transport replaces its default one for direct connections. It keeps idle connections per origin
in a list (taking one is a dict lookup and a pop, where httpcore's pool scans every connection
on each request start and end), frames bodies with `_http11`, and hands each read's worth of
body to httpx as one piece. Plain connections are sockets of our own that any event loop can
use; a TLS connection (anyio's TLS stream, with the system's CA certificates) is reused only
in the loop that opened it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
import httpx

from ._http11 import ChunkedDecoder, FramingError, ResponseHead, parse_head

__all__ = ["BODY", "AnyIOTransport", "Body", "httpx_response"]

# The response extension under which this transport leaves its body object: a stream reads
# it directly, without httpx's chain of async generators (trio warns about each one that is
# left unfinished when a stream closes early).
BODY = "ollama_anyio.body"

_READ_SIZE = 256 * 1024
_SMALL_SEND = 16 * 1024  # well under any socket send buffer
_IDLE_PER_ORIGIN = 64
_IDLE_EXPIRY = 30.0  # seconds an idle connection is kept
_ssl_context: ssl.SSLContext | None = None


def _default_ssl_context() -> ssl.SSLContext:
    # One per process, built when the first https connection is made.
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


class _PlainSocket:
    """A plain TCP connection on a non-blocking socket of our own.

    Waiting is done with `anyio.wait_readable`/`wait_writable`, which register the socket with
    the running loop only for the wait: the connection belongs to no event loop, so a pool can
    hand it to the next loop (a second ``asyncio.run()``) and close it anywhere, at once.
    """

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    async def receive(self, max_bytes: int) -> bytes:
        # A checkpoint even when the bytes are already here (as trio's sockets are): a task
        # reading a fast stream can still be cancelled, and lets other tasks run.
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            data = self.sock.recv(max_bytes)  # b"" at the end of the stream
        except BlockingIOError:
            pass
        else:
            await anyio.lowlevel.cancel_shielded_checkpoint()
            return data
        while True:
            await anyio.wait_readable(self.sock)
            try:
                return self.sock.recv(max_bytes)
            except BlockingIOError:
                continue

    async def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                await anyio.wait_writable(self.sock)

    async def aclose(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        if self.sock.fileno() < 0:
            return
        # A task of this loop may be waiting on the socket (AsyncClient.aclose closing another
        # task's stream): it is told, rather than left waiting on a closed descriptor.
        with contextlib.suppress(Exception):
            anyio.notify_closing(self.sock)
        self.sock.close()


async def _connect_plain(host: str, port: int) -> _PlainSocket:
    infos: Sequence[tuple[Any, ...]]
    try:  # an address needs no lookup (and no worker thread)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            code = sock.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                await anyio.wait_writable(sock)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, f"{os.strerror(code)} ({host}:{port})")
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return _PlainSocket(sock)
    raise error


class _Connection:
    __slots__ = ("buffer", "idle_since", "loop", "stream")

    # ``loop``: the event loop a TLS connection belongs to; None for a plain one, any loop's.
    def __init__(self, stream: anyio.abc.ByteStream | _PlainSocket, loop: object) -> None:
        self.stream = stream
        self.loop = loop
        self.buffer = b""
        self.idle_since = 0.0

    # ``seconds`` are httpx's per-request read and write timeouts (None: wait forever).
    async def receive(self, seconds: float | None) -> bytes:
        try:
            with anyio.fail_after(seconds):
                return await self.stream.receive(_READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the server") from None
        except anyio.EndOfStream:
            return b""
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise httpx.ReadError(f"connection lost: {exc!r}") from exc

    async def send(self, data: bytes, seconds: float | None) -> None:
        try:
            if len(data) <= _SMALL_SEND:
                # The socket's send buffer takes it at once: a timeout scope would only cost.
                await self.stream.send(data)
                return
            with anyio.fail_after(seconds):
                await self.stream.send(data)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise httpx.WriteError(f"connection lost: {exc!r}") from exc

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.stream.aclose()
            except (OSError, anyio.BrokenResourceError):
                pass

    def close_now(self) -> bool:
        """Close without awaiting, if the connection allows it (a plain one does)."""
        if isinstance(self.stream, _PlainSocket):
            self.stream.close_now()
            return True
        return False


class Body(httpx.AsyncByteStream):
    """A response body, read from its connection on demand; returns it to the pool when done."""

    def __init__(
        self,
        transport: AnyIOTransport,
        origin: tuple[str, str, int],
        connection: _Connection,
        head: ResponseHead,
        method: bytes,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection: _Connection | None = connection
        self._timeout = timeout
        self._reusable = head.keep_alive
        self._chunked: ChunkedDecoder | None = None
        self._left: int | None = None  # bytes still expected, for a Content-Length body
        if method == b"HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            self._left = 0
        elif b"chunked" in (head.header(b"transfer-encoding") or b"").lower():
            self._chunked = ChunkedDecoder()
        elif (length := head.header(b"content-length")) is not None:
            if not length.isdigit():
                raise httpx.RemoteProtocolError(f"bad Content-Length: {length[:40]!r}")
            self._left = int(length)
        else:
            self._reusable = False  # the body ends when the server closes the connection

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise StopAsyncIteration
        while True:
            data, connection.buffer = connection.buffer, b""
            if not data and not self._finished:
                data = await connection.receive(self._timeout)
                if not data:
                    if self._left is None and self._chunked is None:
                        await self._release(reuse=False)  # read-to-EOF body: complete
                        raise StopAsyncIteration
                    await self._release(reuse=False)
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
            piece = self._take(data, connection)
            if self._finished:
                await self._release(reuse=self._reusable)
                if piece:
                    return piece
                raise StopAsyncIteration
            if piece:
                return piece

    @property
    def _finished(self) -> bool:
        return self._left == 0 or (self._chunked is not None and self._chunked.done)

    def _take(self, data: bytes, connection: _Connection) -> bytes:
        if self._chunked is not None:
            try:
                piece = self._chunked.feed(data)
            except FramingError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if self._chunked.done:
                connection.buffer = self._chunked.rest
            return piece
        if self._left is None:
            return data
        piece, connection.buffer = data[: self._left], data[self._left :]
        self._left -= len(piece)
        return piece

    async def _release(self, *, reuse: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if reuse and not connection.buffer:
            self._transport.put_idle(self._origin, connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        # Closed before the end: the connection is in the middle of a response, so it goes.
        await self._release(reuse=False)


class AnyIOTransport(httpx.AsyncBaseTransport):
    """Direct HTTP/1.1 connections, plain or TLS, for httpx on anyio (asyncio or trio)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._to_close: list[_Connection] = []  # TLS ones, closed by the next request
        self._closed = False

    def put_idle(self, origin: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or len(idle) >= _IDLE_PER_ORIGIN:
            if not connection.close_now():
                self._to_close.append(connection)
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _get(
        self, origin: tuple[str, str, int], timeouts: dict[str, float | None]
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            # (A plain connection, of no loop, needs no look-up of the current one.)
            usable = connection.loop is None or connection.loop == anyio.lowlevel.current_token()
            if usable and now - connection.idle_since < _IDLE_EXPIRY:
                return connection, True
            if usable:
                await connection.aclose()
            else:
                connection.close_now()  # a TLS connection of an ended loop: dropped
        while self._to_close:
            await self._to_close.pop().aclose()
        scheme, host, port = origin
        try:
            with anyio.fail_after(timeouts.get("connect")):
                if scheme == "https":
                    stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                        host,
                        port,
                        tls=True,
                        ssl_context=_default_ssl_context(),
                        tls_hostname=host,
                        tls_standard_compatible=False,
                    )
                    return _Connection(stream, anyio.lowlevel.current_token()), False
                plain = await _connect_plain(host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or repr(exc)) from exc
        return _Connection(plain, None), False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        body: bytes | AsyncIterable[bytes]
        try:
            body = request.content
        except httpx.RequestNotRead:  # a body given as a stream
            if "transfer-encoding" in request.headers:
                body = cast("AsyncIterable[bytes]", request.stream)  # a blob upload: chunked
            elif "content-length" in request.headers:
                body = await request.aread()
            else:  # none at all (a request sent again after a redirect, say)
                body = b""
        method = request.method.encode()
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        head, stream = await self.request(origin, method, _request_head(request), body, timeouts)
        return httpx_response(head, stream)

    async def request(
        self,
        origin: tuple[str, str, int],
        method: bytes,
        head: bytes,
        body: bytes | AsyncIterable[bytes],
        timeouts: dict[str, float | None],
    ) -> tuple[ResponseHead, Body]:
        """Send one request (its head already framed) and return the answer's head and body."""
        if self._closed:
            raise httpx.ConnectError("the transport is closed")
        for _ in range(2):
            connection, reused = await self._get(origin, timeouts)
            try:
                return await self._exchange(origin, connection, method, head, body, timeouts)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
                await connection.aclose()
                # A kept-alive connection the server has closed in the meantime fails before
                # any byte of an answer: try once more on a new one, if the body can be resent.
                if not (reused and isinstance(body, bytes) and getattr(exc, "_unanswered", False)):
                    raise
            except BaseException:
                await connection.aclose()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        origin: tuple[str, str, int],
        connection: _Connection,
        method: bytes,
        head: bytes,
        body: bytes | AsyncIterable[bytes],
        timeouts: dict[str, float | None],
    ) -> tuple[ResponseHead, Body]:
        write_timeout, read_timeout = timeouts.get("write"), timeouts.get("read")
        try:
            if isinstance(body, bytes):
                await connection.send(head + body, write_timeout)
            else:
                await connection.send(head, write_timeout)
                async for piece in body:
                    if piece:
                        frame = b"%x\r\n%s\r\n" % (len(piece), piece)
                        await connection.send(frame, write_timeout)
                await connection.send(b"0\r\n\r\n", write_timeout)
            buffer = b""
            while True:
                data = await connection.receive(read_timeout)
                if not data:
                    raise httpx.RemoteProtocolError(
                        "server disconnected without sending a response"
                    )
                buffer += data
                if (parsed := parse_head(buffer)) is not None:
                    break
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            exc._unanswered = True  # type: ignore[union-attr]
            raise
        except FramingError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from None
        response_head, connection.buffer = parsed
        return response_head, Body(self, origin, connection, response_head, method, read_timeout)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        loop = anyio.lowlevel.current_token()
        for connection in [c for cs in idle.values() for c in cs] + self._to_close:
            if connection.loop is None or connection.loop == loop:
                await connection.aclose()
        self._to_close.clear()


def httpx_response(head: ResponseHead, body: Body) -> httpx.Response:
    return httpx.Response(
        head.status,
        headers=head.headers,
        stream=body,
        extensions={"http_version": head.http_version, "reason_phrase": head.reason, BODY: body},
    )


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), target)]
    lines.extend(b"%s: %s" % (name, value) for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"
