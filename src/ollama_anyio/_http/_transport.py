"""An anyio-native HTTP/1.1 transport for httpx: sockets, timeouts and the connection pool.

httpx stays the public face (requests, redirects, auth, proxies from the environment); this
transport replaces its default one for direct connections. It only moves bytes: every rule of
the wire (heads, 1xx, body framing, whether a connection may be reused) is `_http11`'s, whose
docstring lists the RFC 9110/9112 rules implemented and those left out on purpose; every
failure is reported as a `Failure` naming how far the exchange got, for the retry policy to
judge (this transport never sends a request twice).

Connections: idle ones are kept per origin in a list (taking one is a dict lookup and a pop,
where httpcore's pool scans every connection on each request start and end). An idle one is
looked at before it is reused, as httpcore and Go's net/http do: if it is readable (the server
closed it, or sent bytes no request asked for), it is closed and another taken, so leftovers
never become the next call's answer and a server's idle close costs no failed request. The
look is one ``poll`` of the socket (the raw one, for TLS): about 1 µs. At most
``max_connections`` are open per origin, beyond which a request waits for one (up to the pool
timeout). Plain connections are sockets of our own that any event loop can use; a TLS
connection (anyio's TLS stream, with the system's CA certificates) is reused only in the loop
that opened it.

Timeouts: connect bounds making the connection; write bounds sending the whole request; read
bounds the whole response head, interim ``1xx`` heads included, so a server trickling a byte
at a time cannot hold a call. Bodies are read without a timeout of their own: the caller bounds
a whole body, or the gap between two lines of a stream (see `_session`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
import httpx

from .._errors import Fact, Failure
from . import _fork
from ._http11 import FramingError, IncompleteBody, ResponseHead, ResponseReader, request_head

__all__ = ["BODY", "AnyIOTransport", "Body", "httpx_response"]

# The response extension under which this transport leaves its body object: a stream reads
# it directly, without httpx's chain of async generators (trio warns about each one that is
# left unfinished when a stream closes early).
BODY = "ollama_anyio.body"

_READ_SIZE = 256 * 1024
_SMALL_SEND = 16 * 1024  # well under any socket send buffer
MAX_CONNECTIONS = 100  # per origin, as httpx's pool (which counts them over all origins)
MAX_IDLE = 64  # idle connections kept per origin
IDLE_EXPIRY = 30.0  # seconds an idle connection is kept
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})
_ssl_context: ssl.SSLContext | None = None

Origin = tuple[str, str, int]


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


def _new_socket(family: int, kind: int, proto: int) -> socket.socket:
    try:
        return socket.socket(family, kind, proto)
    except OSError as exc:
        if exc.errno in _OUT_OF_DESCRIPTORS:
            raise Failure(Fact.NO_DESCRIPTORS, os.strerror(exc.errno)) from exc
        raise


async def _connect_plain(host: str, port: int) -> _PlainSocket:
    infos: Sequence[tuple[Any, ...]]
    try:  # an address needs no lookup (and no worker thread)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = _new_socket(family, kind, proto)
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


class _Origin:
    """The connections of one origin: the idle ones, how many are open, who waits for one."""

    __slots__ = ("idle", "open", "waiting")

    def __init__(self) -> None:
        self.idle: list[_Connection] = []
        self.open = 0  # idle and in use, and those being made
        self.waiting: deque[anyio.Event] = deque()

    def wake_one(self) -> None:
        while self.waiting:
            event = self.waiting.popleft()
            if not event.is_set():
                event.set()
                return


class _Connection:
    __slots__ = ("buffer", "closed", "idle_since", "loop", "origin", "poller", "stream")

    # ``loop``: the event loop a TLS connection belongs to; None for a plain one, any loop's.
    def __init__(
        self, stream: anyio.abc.ByteStream | _PlainSocket, loop: object, origin: _Origin
    ) -> None:
        self.stream = stream
        self.loop = loop
        self.origin = origin
        self.buffer = b""
        self.idle_since = 0.0
        self.closed = False
        self.poller: Any = None  # select.poll(), made when the connection first idles

    async def receive(self) -> bytes:
        """The next bytes from the server; b"" when it has closed the connection.

        Raises:
            OSError, anyio.BrokenResourceError: the connection broke.
        """
        try:
            return await self.stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            return b""

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    def readable(self) -> bool:
        """Whether the server sent something (bytes, or its end) on this idle connection.

        A ``poll`` of the socket (TLS: the raw one, whose records are what arrive), with a
        poller made once per connection: one system call, about 1 µs.
        """
        poller = self.poller
        if poller is None:
            stream = self.stream
            if isinstance(stream, _PlainSocket):
                raw: socket.socket | None = stream.sock
            else:
                raw = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
            if raw is None:  # pragma: no cover - anyio's TLS streams all have one
                return False
            if not hasattr(select, "poll"):  # pragma: no cover - Windows
                return bool(select.select([raw], [], [], 0)[0])
            poller = self.poller = select.poll()
            poller.register(raw.fileno(), select.POLLIN)
        try:
            return bool(poller.poll(0))  # POLLIN (bytes, or the end), or HUP, ERR, NVAL
        except OSError:  # pragma: no cover - the descriptor is gone
            return True

    def _forget(self) -> None:
        if not self.closed:
            self.closed = True
            self.origin.open -= 1
            self.origin.wake_one()

    async def aclose(self) -> None:
        self._forget()
        with anyio.CancelScope(shield=True):
            try:
                await self.stream.aclose()
            except (OSError, anyio.BrokenResourceError):
                pass

    def close_now(self) -> bool:
        """Close without awaiting, if the connection allows it (a plain one does)."""
        self._forget()
        if isinstance(self.stream, _PlainSocket):
            self.stream.close_now()
            return True
        return False


_BROKEN = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class Body(httpx.AsyncByteStream):
    """A response body, read from its connection on demand; returns it to the pool when done.

    Iterating it gives the body's bytes as they arrive (each read's worth in one piece).
    ``close_now()`` closes its connection without an await, where that is possible.

    Raises (from iteration):
        Failure: the connection broke (`Fact.BEGAN`), or the framing is wrong (`Fact.PROTOCOL`).
    """

    def __init__(
        self, transport: AnyIOTransport, connection: _Connection, reader: ResponseReader
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._reader = reader
        self.content_length = reader.content_length
        # When set, the seconds within which the whole body must arrive, counted from the
        # first wait on the socket: a body that is already here costs neither a clock
        # reading nor a timeout scope.
        self.timeout: float | None = None
        self._deadline: float | None = None
        self.reusable = True  # False: close the connection after the body, whatever it says

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise StopAsyncIteration
        body = self._reader.body
        try:
            while True:
                data, connection.buffer = connection.buffer, b""
                if data:
                    piece = body.feed(data)
                elif body.done:
                    piece = b""
                else:
                    data = await self._receive(connection)
                    if data:
                        piece = body.feed(data)
                    else:
                        body.end_of_input()  # the server closed: complete, or an error
                        piece = b""
                if body.done:
                    await self._release(reuse=self.reusable and self._reader.reusable)
                    if piece:
                        return piece
                    raise StopAsyncIteration
                if piece:
                    return piece
        except IncompleteBody as exc:
            await self._release(reuse=False)
            raise Failure(Fact.BEGAN, str(exc)) from None
        except FramingError as exc:
            await self._release(reuse=False)
            raise Failure(Fact.PROTOCOL, str(exc)) from None
        except _BROKEN as exc:
            await self._release(reuse=False)
            raise Failure(Fact.BEGAN, f"connection lost: {exc!r}") from exc

    async def _receive(self, connection: _Connection) -> bytes:
        if self.timeout is None:
            return await connection.receive()
        if self._deadline is None:
            self._deadline = anyio.current_time() + self.timeout
        try:
            with anyio.fail_at(self._deadline):
                return await connection.receive()
        except TimeoutError:
            await self._release(reuse=False)
            raise Failure(Fact.BEGAN, "timed out reading the body", timeout="read") from None

    async def _release(self, *, reuse: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if reuse:
            self._transport.put_idle(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        # Closed before the end: the connection is in the middle of a response, so it goes.
        await self._release(reuse=False)

    def close_now(self) -> bool:
        """Close the connection at once, without an await; False if only an await can."""
        connection = self._connection
        if connection is None:
            return True
        if isinstance(connection.stream, _PlainSocket):
            self._connection = None
            connection.close_now()
            return True
        return False


class AnyIOTransport(httpx.AsyncBaseTransport):
    """Direct HTTP/1.1 connections, plain or TLS, for httpx on anyio (asyncio or trio).

    Args:
        max_connections: connections open at once per origin (None: no cap); a request
            beyond them waits for one to be free, up to the pool timeout.
        max_idle: idle connections kept per origin.
        idle_expiry: seconds an idle connection is kept.
    """

    def __init__(
        self,
        *,
        max_connections: int | None = MAX_CONNECTIONS,
        max_idle: int = MAX_IDLE,
        idle_expiry: float = IDLE_EXPIRY,
    ) -> None:
        self._origins: dict[Origin, _Origin] = {}
        self._to_close: list[_Connection] = []  # TLS ones, closed by the next request
        self._closed = False
        self._max_connections = max_connections
        self._max_idle = max_idle
        self._idle_expiry = idle_expiry
        self._generation = _fork.current

    def forget_the_parents(self) -> None:
        """In a forked child: drop the connections inherited from the parent, unused.

        A plain socket's descriptor is closed (the parent's copy keeps the connection open:
        no FIN is sent); a TLS stream is parked, as closing it would speak TLS on the parent's
        connection.
        """
        self._generation = _fork.current
        origins, self._origins = self._origins, {}
        for connection in [c for origin in origins.values() for c in origin.idle] + self._to_close:
            if isinstance(connection.stream, _PlainSocket):
                connection.stream.sock.close()
            else:
                _fork.park(connection)
        self._to_close = []

    def put_idle(self, connection: _Connection) -> None:
        origin = connection.origin
        if (
            self._closed
            or len(origin.idle) >= self._max_idle
            or connection.buffer
            or self._generation != _fork.current
        ):
            if not connection.close_now():
                self._to_close.append(connection)
            return
        connection.idle_since = time.monotonic()
        origin.idle.append(connection)
        origin.wake_one()

    async def _connection_to(
        self, key: Origin, timeouts: dict[str, float | None]
    ) -> tuple[_Connection, bool]:
        """An idle connection to ``key`` (True), or a new one (False), waiting if need be."""
        if self._generation != _fork.current:
            self.forget_the_parents()
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin()
        while True:
            idle = origin.idle
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                # (A plain connection, of no loop, needs no look-up of the current one.)
                usable = (
                    connection.loop is None or connection.loop == anyio.lowlevel.current_token()
                )
                if (
                    usable
                    and now - connection.idle_since < self._idle_expiry
                    and not connection.readable()
                ):
                    return connection, True
                if usable:
                    await connection.aclose()
                else:
                    connection.close_now()  # a TLS connection of an ended loop: dropped
            while self._to_close:
                await self._to_close.pop().aclose()
            if self._closed:
                raise Failure(Fact.NOT_CONNECTED, "the transport is closed")
            if self._max_connections is None or origin.open < self._max_connections:
                break
            await self._wait_for_a_connection(origin, timeouts.get("pool"))
        origin.open += 1
        try:
            return await self._connect(key, origin, timeouts.get("connect")), False
        except BaseException:
            origin.open -= 1
            origin.wake_one()
            raise

    @staticmethod
    async def _wait_for_a_connection(origin: _Origin, seconds: float | None) -> None:
        event = anyio.Event()
        origin.waiting.append(event)
        try:
            with anyio.fail_after(seconds):
                await event.wait()
        except TimeoutError:
            raise Failure(
                Fact.NOT_CONNECTED, "no free connection in time", timeout="pool"
            ) from None
        finally:
            if not event.is_set():
                with contextlib.suppress(ValueError):
                    origin.waiting.remove(event)
            elif event in origin.waiting:  # pragma: no cover - set events are popped first
                origin.waiting.remove(event)

    async def _connect(self, key: Origin, origin: _Origin, seconds: float | None) -> _Connection:
        scheme, host, port = key
        try:
            with anyio.fail_after(seconds):
                if scheme == "https":
                    stream: anyio.abc.ByteStream = await anyio.connect_tcp(
                        host,
                        port,
                        tls=True,
                        ssl_context=_default_ssl_context(),
                        tls_hostname=host,
                        tls_standard_compatible=False,
                    )
                    return _Connection(stream, anyio.lowlevel.current_token(), origin)
                plain = await _connect_plain(host, port)
        except TimeoutError:
            raise Failure(
                Fact.NOT_CONNECTED, f"timed out connecting to {host}:{port}", timeout="connect"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                raise Failure(Fact.NO_DESCRIPTORS, os.strerror(exc.errno)) from exc
            raise Failure(Fact.NOT_CONNECTED, str(exc) or repr(exc)) from exc
        return _Connection(plain, None, origin)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            # httpx's client asks this of a redirect's target too: nothing is sent.
            raise Failure(Fact.REFUSED, f"{str(url)!r}: the scheme {url.scheme!r} is not HTTP")
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
        headers = b"".join(b"%s: %s\r\n" % pair for pair in request.headers.raw)
        head = request_head(method, url.raw_path, headers)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        response_head, stream = await self.request(origin, method, head, body, timeouts)
        return httpx_response(response_head, stream)

    async def request(
        self,
        origin: Origin,
        method: bytes,
        head: bytes,
        body: bytes | AsyncIterable[bytes],
        timeouts: dict[str, float | None],
    ) -> tuple[ResponseHead, Body]:
        """Send one request (its head already framed) and return the answer's head and body.

        Raises:
            Failure: the exchange failed; its fact says how far it got.
        """
        if self._closed:
            raise Failure(Fact.NOT_CONNECTED, "the transport is closed")
        connection, reused = await self._connection_to(origin, timeouts)
        early = False
        try:
            reader = ResponseReader(method)
            try:
                await self._send(connection, reused, head, body, timeouts.get("write"))
            except Failure as failure:
                if failure.fact is not Fact.NO_RESPONSE or failure.timeout is not None:
                    raise
                # A server may answer before the request's end (a 413 to a large upload) and
                # close: its answer is in the socket's buffer, and says more than a reset.
                try:
                    response_head = await self._receive_head(connection, reused, reader, timeouts)
                except Failure:
                    raise failure from None
                early = True
            else:
                response_head = await self._receive_head(connection, reused, reader, timeouts)
        except BaseException:
            await connection.aclose()
            raise
        answer = Body(self, connection, reader)
        answer.reusable = not early  # the request was cut: the connection cannot go on
        return response_head, answer

    @staticmethod
    async def _send(
        connection: _Connection,
        reused: bool,
        head: bytes,
        body: bytes | AsyncIterable[bytes],
        seconds: float | None,
    ) -> None:
        first = head + body if isinstance(body, bytes) else head
        small = len(first) <= _SMALL_SEND
        try:
            if small and isinstance(body, bytes):
                # The socket's send buffer takes it at once: a timeout scope would only cost.
                await connection.send(first)
                return
            with anyio.fail_after(seconds):
                await connection.send(first)
                if not isinstance(body, bytes):
                    async for piece in body:
                        if piece:
                            await connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await connection.send(b"0\r\n\r\n")
        except TimeoutError:
            raise Failure(
                Fact.NO_RESPONSE, "timed out sending the request", reused=reused, timeout="write"
            ) from None
        except _BROKEN as exc:
            # A small request fails as a whole: the socket's buffer takes all of it or nothing.
            fact = Fact.NOTHING_SENT if small and isinstance(body, bytes) else Fact.NO_RESPONSE
            raise Failure(fact, f"connection lost: {exc!r}", reused=reused) from exc

    @staticmethod
    async def _receive_head(
        connection: _Connection,
        reused: bool,
        reader: ResponseReader,
        timeouts: dict[str, float | None],
    ) -> ResponseHead:
        received = False
        try:
            with anyio.fail_after(timeouts.get("read")):
                while True:
                    data = await connection.receive()
                    if not data:
                        raise Failure(
                            Fact.BEGAN if received else Fact.NO_RESPONSE,
                            "the server closed the connection without a response",
                            reused=reused,
                        )
                    received = True
                    head = reader.feed_head(data)
                    if head is not None:
                        connection.buffer = reader.pop_rest()
                        return head
        except TimeoutError:
            raise Failure(
                Fact.BEGAN if received else Fact.NO_RESPONSE,
                "timed out waiting for the response head",
                reused=reused,
                timeout="read",
            ) from None
        except FramingError as exc:
            raise Failure(Fact.PROTOCOL, str(exc)) from None
        except _BROKEN as exc:
            raise Failure(
                Fact.BEGAN if received else Fact.NO_RESPONSE,
                f"connection lost: {exc!r}",
                reused=reused,
            ) from exc

    async def aclose(self) -> None:
        if self._generation != _fork.current:
            self.forget_the_parents()  # a forked child closes only its own connections
        self._closed = True
        origins, self._origins = self._origins, {}
        loop = anyio.lowlevel.current_token()
        idle = [c for origin in origins.values() for c in origin.idle]
        for connection in idle + self._to_close:
            if connection.loop is None or connection.loop == loop:
                await connection.aclose()
        self._to_close.clear()
        for origin in origins.values():
            origin.idle.clear()
            while origin.waiting:
                origin.waiting.popleft().set()


def httpx_response(head: ResponseHead, body: Body) -> httpx.Response:
    return httpx.Response(
        head.status,
        headers=head.headers,
        stream=body,
        extensions={"http_version": head.http_version, "reason_phrase": head.reason, BODY: body},
    )
