"""The emulator object: lifecycle, per-instance state, request log, and the thread form.

:class:`OllamaEmulator` runs the server in a task group owned by its ``async with`` block;
leaving the block cancels the accept loop and every connection, so no task outlives it.
:func:`run_emulator_in_thread` runs the same object on a blocking portal's event loop thread
for synchronous code, and :class:`ThreadedEmulator` is the synchronous face it yields.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import SocketAttribute
from anyio.from_thread import BlockingPortal, start_blocking_portal

from .._backends import require_backend
from .._http import _fork
from ._context import Context, ReplyQueue
from ._engine import Engine, ReplySource
from ._faults import Fault, FaultKind, Faults, Plan, plan
from ._http import DEFAULT_MAX_BODY, HttpRequest, HttpServer, serve
from ._llama import real_models
from ._routes import route
from ._runner import DEFAULT_MAX_QUEUE, Runner, serve_engines
from ._slots import INFERENCE_PATHS, Slots
from ._store import ModelStore
from ._wire import ApiError, DeferredResponse, Response, StreamResponse, error_response

__all__ = ["OllamaEmulator", "RecordedRequest", "ThreadedEmulator", "run_emulator_in_thread"]

FAULT_HEADER = "x-emulator-fault"
DEFAULT_REQUEST_LOG = 1000
_LONGEST_WAIT = 60.0  # seconds: see OllamaEmulator.wait_for_requests
# The bodies the request log keeps, in bytes at most (the oldest go first): a flood of large
# bodies must not grow the log without end.
_REQUEST_LOG_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """A request the emulator received.

    Attributes:
        method: the HTTP method.
        path: the request target (path and query string).
        headers: header pairs, names lower-cased, in arrival order.
        body: the raw body.
        json: the body parsed as JSON, or ``None`` if it is empty or not JSON (parsed when
            first read: a flood of large bodies is not held twice).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @functools.cached_property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` if it is empty or not JSON."""
        return _parse_json(self.body)

    def header(self, name: str) -> str | None:
        """The value of the first header called ``name`` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):  # the client's input: not JSON, or nested too deep
        return None


class OllamaEmulator:
    """An HTTP server on 127.0.0.1 that speaks the Ollama REST API, deterministically.

    Use it as ``async with OllamaEmulator() as emu:`` and point a client at ``emu.url``.

    Args:
        host: the address to listen on.
        port: the port; ``0`` picks a free one.
        models: names from the built-in catalogue to preload; ``None`` preloads
            ``llama3.2``, ``qwen3``, ``nomic-embed-text``, ``all-minilm`` and ``llava``.
        token_delay: seconds between two lines of a streamed response.
        version: what ``/api/version`` reports.
        request_log: how many of the latest requests `requests` keeps (about 3 KB each);
            ``0`` keeps none, for long runs. `wait_for_requests` counts every request.
        done_reason_only: end generate/chat streams as some newer runners do, with
            ``done_reason`` and the metrics but ``"done": false`` (SPEC 9.2).
        engines: models served by an engine instead of the deterministic answers, by name
            (see :class:`Engine`); the caller keeps ownership. A real model's name in
            ``models`` (``smollm2``) is served by llama.cpp, which the ``llama`` extra installs.
        max_queue: requests that may wait for an engine's model while it answers another,
            or for a model's slot; one more is answered 503 "server busy".
        service_time: seconds each generate, chat or embed request takes (in its model's
            slot), whatever its size: a server whose throughput is bounded by time, not CPU.
        num_parallel: slots per model, as Ollama's ``OLLAMA_NUM_PARALLEL``: requests beyond
            them wait. An embedding model gets one, as Ollama gives it. ``None``: no limit.
        slots: slots by model name, overriding ``num_parallel`` (``{"all-minilm": 2}``).
        max_request_body: the largest request body accepted, in bytes (64 MiB); a larger one
            is answered 413 and its connection closed.

    Raises:
        EngineUnavailable: a real model was asked for without the ``llama`` extra or its file.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Iterable[str] | None = None,
        token_delay: float = 0.0,
        version: str = "0.12.6",
        request_log: int = DEFAULT_REQUEST_LOG,
        done_reason_only: bool = False,
        engines: Mapping[str, Engine] | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        service_time: float = 0.0,
        num_parallel: int | None = None,
        slots: Mapping[str, int] | None = None,
        max_request_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not isinstance(request_log, int) or request_log < 0:
            raise ValueError(f"request_log must be a count of requests, got {request_log!r}")
        models, self._owned = real_models(models)  # smollm2 is not in the catalogue
        self.host = host
        # Annotated: users' type checkers see these (pyright --verifytypes).
        self.port: int = port
        self.store: ModelStore = ModelStore(models)
        self._slots = Slots(
            self.store,
            service_time=service_time,
            num_parallel=num_parallel,
            slots=slots,
            max_queue=max_queue,
        )
        self.faults: Faults = Faults()
        self.replies: ReplyQueue = ReplyQueue()
        self.version = version
        self.errors: list[BaseException] = []
        self._token_delay = token_delay
        self._lock = threading.Lock()
        self._requests: deque[RecordedRequest] = deque(maxlen=request_log)
        self._logged_bytes = 0  # of the bodies in the log, bounded by _REQUEST_LOG_BYTES
        self._received = 0
        self._done_reason_only = done_reason_only
        self._disconnects = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._changed: anyio.Event | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._engines = {**self._owned, **(engines or {})}
        self._max_queue = max_queue
        self._max_request_body = max_request_body
        self._runners: dict[str, Runner] = {}

    @classmethod
    def start_in_thread(
        cls, *, backend: str = "asyncio", **kwargs: Any
    ) -> contextlib.AbstractContextManager[ThreadedEmulator]:
        """Run an emulator on its own event loop thread; see :func:`run_emulator_in_thread`."""
        return run_emulator_in_thread(backend=backend, **kwargs)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The latest requests received (``request_log`` of them), in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def received(self) -> int:
        """How many requests were received, including those the request log no longer holds."""
        with self._lock:
            return self._received

    @property
    def disconnects(self) -> int:
        """How many clients went away before their response was complete."""
        with self._lock:
            return self._disconnects

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at once (arrived, response not ended)."""
        with self._lock:
            return self._max_in_flight

    @property
    def slot_peaks(self) -> dict[str, int]:
        """The most slots each limited model used at once, by name as ``/api/tags`` shows it."""
        return dict(self._slots.peaks)

    @property
    def in_flight(self) -> int:
        """The requests being answered now (arrived, response not ended)."""
        with self._lock:
            return self._in_flight

    def _busy(self, change: int) -> None:
        with self._lock:
            self._in_flight += change
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        self._notify()

    def script(self, *replies: ReplySource) -> None:
        """Queue replies for the next generate/chat requests, one per request.

        Args:
            replies: a string (the content), a :class:`Reply`, or a callable taking the
                decoded request body and returning either.
        """
        self.replies.push(*replies)

    async def wait_for_requests(self, count: int) -> None:
        """Wait until at least ``count`` requests were received (bound it with ``fail_after``).

        Raises:
            TimeoutError: not reached within a minute, the longest any wait here lasts (a
                test that waits longer is stuck, and must say so rather than hang).
        """
        await self._wait(lambda: self.received >= count)

    async def wait_for_disconnects(self, count: int = 1) -> None:
        """Wait until at least ``count`` clients abandoned a response before it was complete.

        Raises:
            TimeoutError: not reached within a minute (see `wait_for_requests`).
        """
        await self._wait(lambda: self.disconnects >= count)

    async def wait_until_idle(self) -> None:
        """Wait until no request is being answered (bound it with ``fail_after``)."""
        await self._wait(lambda: self.in_flight == 0)

    async def _wait(self, done: Callable[[], bool]) -> None:
        with anyio.fail_after(_LONGEST_WAIT):
            while not done():
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()

    def _notify(self) -> None:
        # Runs in the event loop; waiters re-check their condition and wait on a new event.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _disconnected(self) -> None:
        with self._lock:
            self._disconnects += 1
        self._notify()

    def _failed(self, exc: BaseException) -> None:
        self.errors.append(exc)

    async def _app(self, request: HttpRequest) -> Plan:
        path = request.target.partition("?")[0]
        headers = tuple((k.lower(), v) for k, v in request.headers)
        record = RecordedRequest(request.method, request.target, headers, request.body)
        with self._lock:
            if len(self._requests) == self._requests.maxlen and self._requests:
                self._logged_bytes -= len(self._requests[0].body)
            self._requests.append(record)
            self._logged_bytes += len(record.body)
            while self._logged_bytes > _REQUEST_LOG_BYTES and len(self._requests) > 1:
                self._logged_bytes -= len(self._requests.popleft().body)
            self._received += 1
        self._notify()
        faults = self.faults.take(path)
        spec = record.header(FAULT_HEADER)
        if spec:
            try:
                faults.append(Fault.parse(spec))
            except ValueError as exc:
                error = Response(400, str(exc).encode(), "text/plain")
                return plan(error, [], request.method)
        load = sum(f.seconds for f in faults if f.kind is FaultKind.SLOW_LOAD)
        ctx = Context(
            self.store,
            self.replies,
            self.version,
            load,
            done_reason_only=self._done_reason_only,
            engines=self._runners,
        )
        response: Response | StreamResponse
        if any(f.kind in (FaultKind.BUSY, FaultKind.BAD_GATEWAY) for f in faults):
            response = Response(200)  # replaced by the fault; the handler never runs
        elif self._slots.active and path in INFERENCE_PATHS and request.method == "POST":
            try:
                # The slot is held while the answer is made, not while a stream is written.
                async with self._slots.hold(record.json):
                    response = await self._route(ctx, request)
            except ApiError as exc:  # the model's queue is full
                response = error_response(exc.status, exc.message)
        else:
            response = await self._route(ctx, request)
        result = plan(response, faults, request.method)
        result.delay += load
        return result

    @staticmethod
    async def _route(ctx: Context, request: HttpRequest) -> Response | StreamResponse:
        try:
            response = route(ctx, request.method, request.target, request.body)
        except RecursionError:
            # Nesting that parses but is too deep to walk: the client's fault, answered
            # as Go's decoder answers nesting past its limit, not an emulator error.
            return error_response(400, "exceeded max depth")
        if isinstance(response, DeferredResponse):  # a real model's whole answer
            response = await response.produce()
        return response

    async def __aenter__(self) -> OllamaEmulator:
        server = HttpServer(
            self._app,
            token_delay=self._token_delay,
            on_disconnect=self._disconnected,
            on_error=self._failed,
            on_busy=self._busy,
            max_body=self._max_request_body,
        )
        async with contextlib.AsyncExitStack() as stack:
            self._runners = await stack.enter_async_context(
                serve_engines(
                    self._engines,
                    self.store,
                    owned=self._owned.values(),
                    max_queue=self._max_queue,
                )
            )
            listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
            await stack.enter_async_context(listener)
            self.port = listener.extra(SocketAttribute.local_port)
            group = await stack.enter_async_context(anyio.create_task_group())
            # Registered last, so it runs first on exit: stop accepting, cancel connections.
            stack.callback(group.cancel_scope.cancel)
            group.start_soon(serve, listener, server.handle, group)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)


class ThreadedEmulator:
    """The synchronous face of an emulator running on a portal thread.

    Attributes and methods mirror :class:`OllamaEmulator`; waits block the calling thread.
    In a process forked from the one running it, the server keeps running in the parent: its
    URL still serves, but waiting on it from the child raises `RuntimeError` (the thread that
    would answer is the parent's).
    """

    def __init__(self, emulator: OllamaEmulator, portal: BlockingPortal) -> None:
        self.emulator = emulator
        self._portal_of_the_parent = portal
        self._pid = os.getpid()

    @property
    def _portal(self) -> BlockingPortal:
        if os.getpid() != self._pid:
            raise RuntimeError("the emulator runs in the parent process: wait on it there")
        return self._portal_of_the_parent

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        return self.emulator.url

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.emulator.port

    @property
    def store(self) -> ModelStore:
        """The model store."""
        return self.emulator.store

    @property
    def faults(self) -> Faults:
        """The active faults."""
        return self.emulator.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far."""
        return self.emulator.requests

    @property
    def received(self) -> int:
        """How many requests were received (see :attr:`OllamaEmulator.received`)."""
        return self.emulator.received

    @property
    def disconnects(self) -> int:
        """How many clients went away before their response was complete."""
        return self.emulator.disconnects

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at once."""
        return self.emulator.max_in_flight

    @property
    def slot_peaks(self) -> dict[str, int]:
        """The most slots each limited model used at once, by model key."""
        return self.emulator.slot_peaks

    @property
    def in_flight(self) -> int:
        """The requests being answered now."""
        return self.emulator.in_flight

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised while serving (a bug if not empty)."""
        return self.emulator.errors

    def script(self, *replies: ReplySource) -> None:
        """Queue replies for the next generate/chat requests."""
        self.emulator.script(*replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        """Block until at least ``count`` requests were received.

        Raises:
            TimeoutError: not reached within ``timeout`` seconds.
        """
        self._portal.call(_bounded, self.emulator.wait_for_requests(count), timeout)

    def wait_for_disconnects(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until at least ``count`` clients abandoned a response.

        Raises:
            TimeoutError: not reached within ``timeout`` seconds.
        """
        self._portal.call(_bounded, self.emulator.wait_for_disconnects(count), timeout)

    def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Block until no request is being answered.

        Raises:
            TimeoutError: requests were still being answered after ``timeout`` seconds.
        """
        self._portal.call(_bounded, self.emulator.wait_until_idle(), timeout)


async def _bounded(waiter: Coroutine[Any, Any, None], seconds: float) -> None:
    with anyio.fail_after(seconds):
        await waiter


@contextlib.contextmanager
def run_emulator_in_thread(
    *, backend: str = "asyncio", **kwargs: Any
) -> Generator[ThreadedEmulator, None, None]:
    """Run an :class:`OllamaEmulator` on a background event loop thread.

    Args:
        backend: the anyio backend of the thread, ``"asyncio"`` or ``"trio"``.
        kwargs: passed to :class:`OllamaEmulator`.

    Yields:
        The running emulator's synchronous face; leaving the block stops the server, closes
        its connections and joins the thread.
    """
    require_backend(backend)
    parent = os.getpid()
    stack = contextlib.ExitStack()
    with stack:
        portal = stack.enter_context(start_blocking_portal(backend))
        emulator = OllamaEmulator(**kwargs)
        stack.enter_context(portal.wrap_async_context_manager(emulator))
        try:
            yield ThreadedEmulator(emulator, portal)
        finally:
            if os.getpid() != parent:
                # A forked child leaving the block: the server and its thread are the
                # parent's; stopping them from here (or collecting the portal's context,
                # which would) waits forever on a thread that is not in this process.
                _fork.park(stack.pop_all())
