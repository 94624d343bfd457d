"""The blocking API's own machinery: the portal thread, the crossing, `Stream`, close, options.

Each `Client` owns one event loop in a daemon thread (an anyio ``BlockingPortal``), started on
first use and stopped by ``close()``, by ``with``, or when the client is garbage collected or
the interpreter exits. `ClientCore` is that part of `Client`; the endpoints are generated from
`AsyncEndpoints`' into ``_generated_client.py`` (see ``tools/generate_surface.py``): each builds
its body as its async twin does and ends in `ClientCore._request`, this side's send point, one
crossing into the async core's private send. The helper groups' blocking twins call their
async twins through `ClientCore._run` or `ClientCore._run_stream`.

A blocking `Stream` is fed by a producer task in the portal that owns the `AsyncStream` and
puts each batch of decoded chunks into a memory object stream; the consumer takes everything
ready in one crossing into the portal, so a fast stream costs one crossing per many chunks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    NamedTuple,
    TypeGuard,
    TypeVar,
    cast,
    overload,
)

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal
from anyio.lowlevel import EventLoopToken
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _config
from ._accumulate import Tap, chunk_of, content_of, thinking_of
from ._async_client import AsyncClient
from ._async_stream import AsyncStream
from ._backends import require_backend
from ._errors import ClientClosedError, OllamaError, RequestError
from ._http import _fork

if TYPE_CHECKING:
    import httpx

__all__ = ["ClientCore", "Stream"]

T = TypeVar("T")
_C = TypeVar("_C", bound="ClientCore")
_R = TypeVar("_R")

_BACKENDS = ("asyncio", "trio")
# Batches the producer may decode ahead of a slow consumer.
_PREFETCH = 16


class _Loop(NamedTuple):
    """The portal of a running event loop, the loop's token for `anyio.from_thread`, and the
    `_Portal` that runs it."""

    portal: BlockingPortal
    token: EventLoopToken
    owner: _Portal


# How long close() lets the calls it cancelled unwind (closing their connections) before it
# stops the loop anyway.
_UNWIND = 10.0
_CLOSED = "this Client is closed"


class _Portal:
    """An event loop in a daemon thread, reachable through an anyio `BlockingPortal`.

    It holds no reference to the `Client`, so a `weakref.finalize` can stop it.

    After a ``fork()`` the child has none of the parent's threads: the portal notices (see
    `_fork`) and starts a loop of its own on first use; closing it there never touches the
    parent's loop.
    """

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._portal: _Loop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._generation = _fork.current
        self.async_client: AsyncClient | None = None
        # The calls running in the loop (touched in the loop's thread only): close() cancels
        # them, and waits for them to end, before it stops the loop.
        self.calls: set[_Abandonable] = set()
        self._idle: anyio.Event | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def _after_fork(self) -> None:
        # The parent's lock may have been held by a thread that does not exist here.
        self._lock = threading.Lock()
        self._portal, self._thread = None, None
        self.calls = set()
        self._idle = None
        self._generation = _fork.current

    def get(self) -> _Loop:
        if self._generation != _fork.current:
            self._after_fork()
        loop = self._portal
        if loop is not None:
            return loop
        with self._lock:
            if self._closed:
                raise ClientClosedError(_CLOSED)
            if self._portal is None:
                self._portal, self._thread = self._start()
            return self._portal

    def _start(self) -> tuple[_Loop, threading.Thread]:
        ready: concurrent.futures.Future[_Loop] = concurrent.futures.Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                ready.set_result(_Loop(portal, anyio.lowlevel.current_token(), self))
                await portal.sleep_until_stopped()
            # The portal's tasks (stream producers) have ended: close the connections.
            if self.async_client is not None:
                await self.async_client.aclose()

        def run() -> None:
            try:
                anyio.run(serve, backend=self._backend)
            except BaseException as exc:  # pragma: no cover - the loop failed to start
                if not ready.done():
                    ready.set_exception(exc)

        # A daemon thread: a Client nobody closed must not keep the interpreter from exiting.
        thread = threading.Thread(target=run, name="ollama-anyio-portal", daemon=True)
        thread.start()
        return ready.result(), thread

    async def _cancel_calls(self) -> None:
        """Cancel the running calls (each then raises `ClientClosedError`), and let them end."""
        for call in list(self.calls):
            call.closing = True
            call.abandon()
        if self.calls:
            self._idle = anyio.Event()
            with anyio.move_on_after(_UNWIND):
                await self._idle.wait()

    def ended(self, call: _Abandonable) -> None:  # in the loop's thread
        self.calls.discard(call)
        if not self.calls and self._idle is not None:
            self._idle.set()

    def close(self) -> None:
        if self._generation != _fork.current:
            self._after_fork()  # the parent's loop is not ours to stop
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._portal, self._thread
            self._portal = None
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:  # pragma: no cover - collected in the portal
            return
        try:
            # Cancel the calls under way, then what else runs (a stream nobody reads to the
            # end), then leave the loop: no task is left for the loop's shutdown to cancel.
            loop.portal.call(self._cancel_calls)
            loop.portal.call(loop.portal.stop, True)
        except RuntimeError:  # pragma: no cover - the loop is already gone (interpreter exit)
            pass
        thread.join()


def _in_trio_thread() -> bool:
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    in_trio_task = getattr(trio.lowlevel, "in_trio_task", None)  # trio >= 0.26: no exception
    if in_trio_task is not None:
        return bool(in_trio_task())
    try:  # pragma: no cover - trio < 0.26
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def _blocking(func: Callable[[], T]) -> T:
    """Run ``func``, which blocks on the portal, from a thread allowed to block.

    Trio refuses to be entered from a thread that runs a trio loop (to prevent a deadlock on
    its own loop); our portal runs another loop, so such a caller (a trio program that calls
    the blocking API) crosses from a short-lived helper thread instead.
    """
    if not _in_trio_thread():
        return func()
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(func())
        except BaseException as exc:
            error.append(exc)

    # In the caller's context (a new thread starts with an empty one): the call's span is a
    # child of the caller's, and context variables read in the call are the caller's.
    context = contextvars.copy_context()
    helper = threading.Thread(target=context.run, args=(run,), name="ollama-anyio-crossing")
    helper.start()
    helper.join()
    if error:
        raise error[0]
    return result[0]


class _Abandonable:
    """A call into the loop that the calling thread can give up on (Ctrl-C) and cancel, and
    that the client's close() cancels."""

    __slots__ = ("abandoned", "closing", "func", "owner", "scope")

    def __init__(self, func: Callable[[], Coroutine[Any, Any, Any]], owner: _Portal) -> None:
        self.func: Callable[[], Coroutine[Any, Any, Any]] = func
        self.owner: _Portal = owner
        self.scope: anyio.CancelScope | None = None
        self.abandoned: bool = False
        self.closing: bool = False

    async def run(self) -> Any:
        owner = self.owner
        if owner.closed:  # close() has begun: it will not wait for a call that starts now
            raise ClientClosedError(_CLOSED)
        owner.calls.add(self)
        try:
            with anyio.CancelScope() as scope:
                self.scope = scope
                if self.abandoned:
                    scope.cancel()
                return await self.func()
        finally:
            owner.ended(self)
        if self.closing:
            raise ClientClosedError("this Client was closed during the call")
        raise RuntimeError("abandoned by its caller")  # nobody reads this

    def abandon(self) -> None:  # in the loop's thread
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()


# What a thread gets from a loop that ended under its call (another thread's close()):
# asyncio's or trio's cancellation of the call's task, a loop or portal no longer running.
# Anything but these, once the client is closed, is that closing's doing.
_THE_CALLERS_OWN = (KeyboardInterrupt, SystemExit, GeneratorExit, ClientClosedError)


def _call(loop: _Loop, func: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``func`` in the portal's event loop and wait for its result.

    ``anyio.from_thread.run`` with the loop's token, rather than the portal's task spawning:
    it skips a task group and a future per call (0.1 ms of a 1 ms call on a busy machine).
    """
    if _in_trio_thread():
        return _blocking(lambda: _call(loop, func))
    call = _Abandonable(func, loop.owner)
    try:
        result: T = anyio.from_thread.run(call.run, token=loop.token)
    except BaseException as exc:
        if loop.owner.closed and not isinstance(exc, (*_THE_CALLERS_OWN, OllamaError)):
            raise ClientClosedError("this Client was closed during the call") from None
        if isinstance(exc, Exception):
            raise  # the call's own error: it has ended
        # KeyboardInterrupt in this thread: cancel the call in the loop too, which closes
        # its response. (Scheduled after the call itself, so it cannot miss it.)
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(call.abandon, token=loop.token)
        raise
    return result


class Stream(Generic[T]):
    """A blocking iterator of decoded chunks that is also a context manager.

    ``for part in client.chat(..., stream=True)`` reads it to the end; leaving
    ``with client.chat(..., stream=True) as parts:`` early, ``close()``, or dropping the last
    reference to it closes the response at once.
    """

    def __init__(self, stream: AsyncStream[T], loop: _Loop, owner: object = None) -> None:
        self._astream = stream
        self._loop = loop
        # The client, held until the stream ends or is closed: collecting it would stop the
        # portal under the stream (``for part in Client().chat(..., stream=True)``).
        self._owner = owner
        self._portal = loop.portal
        self._buffer: deque[T] = deque()
        self._error: BaseException | None = None
        self._receive: MemoryObjectReceiveStream[list[T] | BaseException] | None = None
        self._scope: anyio.CancelScope | None = None
        self._producer: concurrent.futures.Future[None] | None = None
        self._ended = False

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if self._error is not None:
                error, self._error = self._error, None
                self._ended = True
                self._finish()
                raise error
            if self._ended:
                raise StopIteration
            self._fill()
        return self._buffer.popleft()

    def _fill(self) -> None:
        if getattr(self._astream, "lockstep", False):
            # Each item when the caller asks, in one crossing (a steered tool run: nothing
            # may run ahead of the caller's decisions).
            try:
                batch = _call(self._loop, self._astream.next_batch)
            except BaseException:
                self._ended = True
                self._owner = None
                raise
            self._buffer.extend(batch)
            if not batch:
                self._ended = True
                self._owner = None
            return
        if self._producer is None:
            # The producer holds the AsyncStream, never this object: dropping the last reference
            # to a half-read Stream must reach __del__, which stops the producer.
            try:
                self._producer, (self._receive, self._scope) = _blocking(
                    lambda: self._portal.start_task(_produce, self._astream)
                )
            except RuntimeError:  # the portal has stopped: another thread closed the client
                if not self._loop.owner.closed:
                    raise
                self._ended = True
                raise ClientClosedError(_CLOSED) from None
        try:
            ready = _call(self._loop, self._take_ready)
        except BaseException:
            # Ctrl-C while waiting for chunks: nobody reads on, so the response closes now,
            # not when the traceback that holds this stream is dropped.
            self.close()
            raise
        for item in ready:
            if isinstance(item, BaseException):
                self._error = item
            else:
                self._buffer.extend(item)
        if not self._buffer and self._error is None:
            self._ended = True
            self._finish()

    async def _take_ready(self) -> list[list[T] | BaseException]:
        assert self._receive is not None
        try:
            ready = [await self._receive.receive()]
        except anyio.EndOfStream:
            return []
        while True:
            try:
                ready.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                return ready

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the response, once the first chunks were read (else None)."""
        return self._astream.status_code

    @property
    def headers(self) -> httpx.Headers | None:
        """The response's headers, once the first chunks were read (else None)."""
        return self._astream.headers

    def close(self) -> None:
        """Stop reading and close the response. Calling it again does nothing."""
        self._buffer.clear()
        self._error = None
        if self._ended and self._producer is None:
            self._owner = None
            return
        self._ended = True
        astream = self._astream
        if self._producer is None:
            self._owner = None
            _close_watch(astream)  # never started: nothing runs in the portal
            return
        if self._scope is not None:
            scope = self._scope
            self._in_portal(lambda: self._portal.call(_stop, astream, scope))
        self._finish()

    def _finish(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._in_portal(producer.result)
        receive = self._receive
        if receive is not None and not self._in_portal(lambda: self._portal.call(receive.close)):
            receive.close()  # the portal has stopped: nothing in it uses the stream any more
        self._owner = None

    def _in_portal(self, func: Callable[[], object]) -> bool:
        """Do ``func`` in the portal; False if another thread's ``close()`` had stopped it
        (the producer was cancelled with it)."""
        if self._loop.owner.closed:
            return False  # (a call into a stopping portal can only fail, or warn)
        try:
            _blocking(func)
        except (RuntimeError, concurrent.futures.CancelledError):
            if not self._loop.owner.closed:
                raise
            return False
        return True

    # Accumulation: the AsyncStream's own accumulator, fed in the portal as each batch is
    # decoded; it is read here once the final chunk has crossed (or the producer is past it).

    def collect(self) -> T:
        """Read the stream to its end; the answer ``stream=False`` gives (`AsyncStream.collect`)."""
        for _ in self:
            pass
        return self.final

    def accumulate(self) -> Tap[T, T]:
        """Iterate the chunks (as ``for`` does); `final` holds the answer after the loop."""
        return Tap(self, chunk_of)

    def text(self) -> Tap[T, str]:
        """Iterate the non-empty text pieces; `final` holds the whole answer after the loop."""
        return Tap(self, content_of)

    def thinking(self) -> Tap[T, str]:
        """Iterate the non-empty thinking pieces; then read `final`."""
        return Tap(self, thinking_of)

    @property
    def final(self) -> T:
        """The whole answer, once the final chunk has arrived (see `AsyncStream.final`)."""
        return self._astream.final

    def __del__(self) -> None:
        # A stream dropped half-read (e.g. a ``for`` loop left by ``break``): stop its producer
        # without waiting; its response is closed in the portal.
        scope, receive = self._scope, self._receive
        if self._producer is None or scope is None or receive is None:
            return
        try:
            self._portal.start_task_soon(_abandon, scope, receive, self._astream)
        except RuntimeError:
            # We are in the portal thread (cancel from here), or its loop is gone (interpreter
            # exit: its tasks have ended, and the AsyncStream, collected too, closes its own
            # socket): either way a finalizer must print nothing.
            with contextlib.suppress(Exception):
                _abandon_now(scope, receive)
            with contextlib.suppress(Exception):
                receive.close()


async def _produce(
    stream: AsyncStream[T],
    *,
    task_status: TaskStatus[
        tuple[MemoryObjectReceiveStream[list[T] | BaseException], anyio.CancelScope]
    ],
) -> None:
    send: MemoryObjectSendStream[list[T] | BaseException]
    send, receive = anyio.create_memory_object_stream[list[T] | BaseException](_PREFETCH)
    with anyio.CancelScope() as scope:
        task_status.started((receive, scope))
        async with send:
            try:
                while batch := await stream.next_batch():
                    await send.send(batch)
            except Exception as exc:
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(exc)
            finally:
                await stream.aclose()


def _abandon_now(scope: anyio.CancelScope, receive: MemoryObjectReceiveStream[Any]) -> None:
    scope.cancel()
    receive.close()


async def _abandon(
    scope: anyio.CancelScope, receive: MemoryObjectReceiveStream[Any], stream: AsyncStream[Any]
) -> None:
    _close_watch(stream)
    _abandon_now(scope, receive)


def _close_watch(stream: AsyncStream[Any]) -> None:
    # The reader stopped: the call's span ends as a close, before the producer's cancellation
    # could end it as a cancelled call (see `AsyncStream._watch`).
    stream._end_watch()  # pyright: ignore[reportPrivateUsage]


def _stop(stream: AsyncStream[Any], scope: anyio.CancelScope) -> None:
    _close_watch(stream)
    scope.cancel()


def _is_stream(value: object) -> TypeGuard[AsyncStream[Any]]:
    return isinstance(value, AsyncStream)


class ClientCore:
    """A blocking client for one Ollama server, for scripts and notebooks.

    It takes the arguments of `AsyncClient`, plus:

    Args:
        backend: the event loop its portal thread runs, ``"asyncio"`` (default) or ``"trio"``.
        http_client: your own ``httpx.Client``, used as given (each blocking step of it in a
            worker thread of the portal); ``close()`` leaves it open. An ``httpx.AsyncClient``
            works too, used in the portal's event loop.

    Use it as ``with Client() as client:``, or call ``close()``; a client never closed is closed
    when it is garbage collected or at interpreter exit. It may be shared by many threads, and
    called from inside a running event loop (e.g. a notebook).
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        backend: Literal["asyncio", "trio"] = "asyncio",
        **kwargs: Any,
    ) -> None:
        if backend not in _BACKENDS:
            raise RequestError(f"backend must be one of {', '.join(_BACKENDS)}, got {backend!r}")
        require_backend(backend)  # trio is an extra: say how to get it, before any thread
        self._async = AsyncClient(host, **kwargs)
        self._state = _Portal(backend)
        self._state.async_client = self._async
        self._finalizer = weakref.finalize(self, _Portal.close, self._state)
        self._origin: ClientCore | None = None

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:11434``."""
        return self._async.base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._async.base_url}>"

    def with_options(
        self: _C, *, timeout: Any = _config.DEFAULT, max_retries: int | None = None
    ) -> _C:
        """A view of this client, sharing its connections and thread, whose calls use other options.

        ``client.with_options(timeout=5).chat(...)`` gives one call its own timeout;
        ``max_retries=0`` turns retries off for it.
        """
        clone = object.__new__(type(self))
        clone._async = self._async.with_options(timeout=timeout, max_retries=max_retries)
        clone._state = self._state
        clone._finalizer = self._finalizer
        # The finalizer is the first client's: a view keeps it alive, so that
        # ``Client().with_options(...).chat(...)`` does not close the thread under the call.
        clone._origin = self
        return clone

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection and stop the client's thread. Calling it again does nothing."""
        self._finalizer()

    # The send point of every generated endpoint of `Client`: one crossing into the portal's
    # event loop, to the async core's private send (`AsyncCore._send`, the same code as its
    # `_request`), so that a wrapper on `Client._request` or `AsyncClient._request` sees each
    # call once.

    @overload
    def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        content: Any = None,
    ) -> T: ...

    @overload
    def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        content: Any = None,
    ) -> Stream[T]: ...

    @overload
    def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool,
        content: Any = None,
    ) -> T | Stream[T]: ...

    def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool = False,
        content: Any = None,
    ) -> T | Stream[T]:
        """Send one request and decode its answer, as `AsyncCore._request` (see there) does;
        with ``stream=True``, a `Stream` of ``cls`` chunks."""
        loop = self._state.get()
        send = self._async._send  # pyright: ignore[reportPrivateUsage]
        result = _call(
            loop, lambda: send(cls, method, path, json=json, stream=stream, content=content)
        )
        if _is_stream(result):
            return Stream(result, loop, self)
        return cast(T, result)

    @staticmethod
    def _build_body_in_thread_if(
        reads_files: bool, build: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """The request body ``build(*args, **kwargs)`` makes, built in the calling thread: a
        blocking caller may block on reading files (``reads_files`` is for the async twin)."""
        return build(*args, **kwargs)

    # The crossing of the helper groups' blocking twins: the async helper's call, typed, run in
    # the portal's event loop.

    def _run(self, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return _call(self._state.get(), call)

    @overload
    def _run_stream(self, call: Callable[[], Coroutine[Any, Any, AsyncStream[T]]]) -> Stream[T]: ...

    @overload
    def _run_stream(
        self, call: Callable[[], Coroutine[Any, Any, _R | AsyncStream[T]]]
    ) -> _R | Stream[T]: ...

    def _run_stream(
        self, call: Callable[[], Coroutine[Any, Any, _R | AsyncStream[T]]]
    ) -> _R | Stream[T]:
        # tools.run answers a ToolRun, or streams events.
        loop = self._state.get()
        result = _call(loop, call)
        if _is_stream(result):
            return Stream(result, loop, self)
        return cast(_R, result)  # not a stream (the guard narrows only the other branch)
