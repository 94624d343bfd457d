"""The one observation point of every request the session sends.

The send loop (`Session.send`) calls `Observer.begin` before the first attempt and
`Observer.end` once the request is over (an answer of any status, or a failure, after its
retries). Every consumer hangs off these two calls:

- the request id: a fresh one per request (the same on its retries), sent in a header
  (``X-Request-Id`` unless the client names another, or none), and kept on the log line,
  the span and the error;
- user hooks: ``on_request`` callables see a `RequestEvent` (and may add headers to it),
  ``on_response`` callables a `ResponseEvent`; sync or async, run in the task that sends;
- raw responses (`_raw.capture`) and the request log (`_request_log`), both in `end`;
- OpenTelemetry: `telemetry`, set by the instrumentor (``ollama_anyio.otel``) and None
  otherwise, injects the trace context into the headers and notes the request id, status
  and retries on the current span. Nothing here imports opentelemetry.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import httpx

from .. import _config
from .._errors import OllamaError, RequestError
from ._direct_sender import DirectReply, HttpxReply, Reply
from ._request_log import log_request
from ._request_log import logger as _request_logger

__all__ = [
    "DEFAULT_REQUEST_ID_HEADER",
    "Observer",
    "RequestEvent",
    "RequestHook",
    "ResponseEvent",
    "ResponseHook",
    "Telemetry",
    "reply_headers",
    "telemetry",
]

DEFAULT_REQUEST_ID_HEADER = "X-Request-Id"
# Headers a hook may not set: the transport writes them, and the API key is ours to place.
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class RequestEvent:
    """A request about to be sent, as ``on_request`` hooks see it.

    Attributes:
        method: ``"GET"``, ``"POST"``, ...
        url: the full URL.
        headers: the headers this request adds to the client's: the request id (and
            ``traceparent`` when instrumented). A hook may add or change entries; they are
            sent with every attempt of this request. Never holds the API key.
        request_id: the id this request is sent with, or None when the client sends none.
    """

    __slots__ = ("headers", "method", "request_id", "url")

    def __init__(
        self, method: str, url: str, headers: dict[str, str], request_id: str | None
    ) -> None:
        self.method: str = method
        self.url: str = url
        self.headers: dict[str, str] = headers
        self.request_id: str | None = request_id

    def __repr__(self) -> str:
        return f"<RequestEvent {self.method} {self.url} id={self.request_id}>"


class ResponseEvent:
    """How a request ended, as ``on_response`` hooks see it: once per request, after retries.

    Attributes:
        request: the `RequestEvent` it answers.
        status_code: the HTTP status of the last answer, or None if none came.
        headers: that answer's headers (case-insensitive), or None if none came.
        elapsed: seconds from the first attempt to the answer's head (or the failure).
        retries: how many times the request was sent again.
        error: the error the call raises (`ResponseError` for a status of 400 or more,
            `OllamaConnectionError`, ...), or None. The body of a success is not read yet.
    """

    __slots__ = ("elapsed", "error", "headers", "request", "retries", "status_code")

    def __init__(
        self,
        request: RequestEvent,
        status_code: int | None,
        headers: httpx.Headers | None,
        elapsed: float,
        retries: int,
        error: BaseException | None,
    ) -> None:
        self.request: RequestEvent = request
        self.status_code: int | None = status_code
        self.headers: httpx.Headers | None = headers
        self.elapsed: float = elapsed
        self.retries: int = retries
        self.error: BaseException | None = error

    @property
    def request_id(self) -> str | None:
        """The request's id (`RequestEvent.request_id`)."""
        return self.request.request_id

    def __repr__(self) -> str:
        outcome = self.status_code if self.error is None else type(self.error).__name__
        return f"<ResponseEvent {self.request.method} {self.request.url} {outcome}>"


RequestHook = Callable[[RequestEvent], Any]
ResponseHook = Callable[[ResponseEvent], Any]


class Telemetry(Protocol):
    """What the send loop asks of the OpenTelemetry instrumentation (``_otel``)."""

    def inject(self, headers: dict[str, str]) -> None:
        """Add the current trace context (``traceparent``) to a request's headers."""

    def exchange_ended(self, event: ResponseEvent, id_header: str | None) -> None:
        """Note a request's id (sent in ``id_header``), status and retries on the current
        span."""


# Set by the instrumentor while instrumented (`ollama_anyio.otel`); read by the send loop and
# by the endpoints, each with one check when it is None.
telemetry: Any = None


class _Record(Protocol):
    reply: Reply | None
    method: str
    url: str
    elapsed: float
    retries: int
    request_id: str | None


# The raw-response record of the call running in this task (`_raw.capture`), if any.
raw_record: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "ollama_anyio_raw_response", default=None
)


# The id of the request the send loop last began in this task: an `AsyncStream` reads it once
# its request is answered, for the errors its chunks may bring later (an error line).
last_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ollama_anyio_request_id", default=None
)


def reply_headers(reply: Reply) -> httpx.Headers:
    """The headers of an answer, on either path, as case-insensitive `httpx.Headers`."""
    if isinstance(reply, DirectReply):
        return httpx.Headers(reply.head.headers)
    if isinstance(reply, HttpxReply):
        return reply.response.headers
    return httpx.Headers()  # pragma: no cover - every Reply is one of the two


def _hooks(value: object, name: str) -> tuple[Callable[[Any], Any], ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RequestError(f"{name} must be a callable or a list of callables")
    hooks = tuple(cast("Sequence[object]", value))
    for index, hook in enumerate(hooks):
        if not callable(hook):
            raise RequestError(f"{name}[{index}] is not callable: {hook!r}")
    return cast("tuple[Callable[[Any], Any], ...]", hooks)


class Observer:
    """A client's observation settings: its request id header and its hooks.

    Args:
        client_headers: the client's own headers; a request id header among them is used
            as it is, rather than a generated one.
        request_id_header: the header that carries the request id; None sends none.
        on_request, on_response: a hook or a list of hooks (sync or async callables).
    """

    __slots__ = ("_fixed_id", "header", "on_request", "on_response")

    def __init__(
        self,
        client_headers: dict[str, str],
        request_id_header: str | None,
        on_request: RequestHook | Sequence[RequestHook] | None,
        on_response: ResponseHook | Sequence[ResponseHook] | None,
    ) -> None:
        self._fixed_id: str | None = None
        if request_id_header is not None:
            _config.check_header(request_id_header, "0", shown="request_id_header")
            if request_id_header.lower() in _RESERVED or request_id_header.lower() == (
                "authorization"
            ):
                raise RequestError(f"request_id_header cannot be {request_id_header!r}")
            for name, value in client_headers.items():
                if name.lower() == request_id_header.lower():
                    self._fixed_id = value
        self.header = request_id_header
        self.on_request = _hooks(on_request, "on_request")
        self.on_response = _hooks(on_response, "on_response")

    def begin(self, method: str, url: str) -> RequestEvent:
        """The event of a request about to be sent: its id and its own headers."""
        headers: dict[str, str] = {}
        request_id = self._fixed_id
        if self.header is not None and request_id is None:
            # 16 hex digits (64 bits), like a W3C span id, from `random`: an id need not be
            # secret, it costs a fifth of os.urandom's system call, and `random` is reseeded in
            # a forked child, so children never repeat their parent's ids.
            request_id = f"{random.getrandbits(64):016x}"
            headers[self.header] = request_id
        tracing = telemetry
        if tracing is not None:
            tracing.inject(headers)
        last_request_id.set(request_id)
        return RequestEvent(method, url, headers, request_id)

    async def requesting(self, event: RequestEvent) -> None:
        """Run the ``on_request`` hooks (only called when there are some)."""
        for hook in self.on_request:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        for name, value in event.headers.items():
            _config.check_header(name, value)
            if name.lower() in _RESERVED or name.lower() == "authorization":
                raise RequestError(f"an on_request hook cannot set the {name!r} header")

    def end(
        self,
        event: RequestEvent,
        reply: Reply | None,
        started: float,
        retries: int,
        error: BaseException | None = None,
    ) -> None:
        """Report a request's end to raw responses, the request log and the tracer."""
        if error is not None and isinstance(error, OllamaError):
            error.request_id = event.request_id
        record = raw_record.get()
        tracing = telemetry
        logging_on = _request_logger.isEnabledFor(logging.INFO)
        if record is None and tracing is None and not logging_on:
            return
        elapsed = time.perf_counter() - started
        if record is not None and reply is not None:
            record.reply, record.method, record.url = reply, event.method, event.url
            record.elapsed, record.retries = elapsed, retries
            record.request_id = event.request_id
        if logging_on:
            outcome = (
                str(reply.status_code) if reply is not None else f"failed ({type(error).__name__})"
            )
            log_request(event.method, event.url, outcome, elapsed, retries, event.request_id)
        if tracing is not None:
            answer = self.response_event(event, reply, started, retries, error)
            tracing.exchange_ended(answer, self.header)

    def response_event(
        self,
        event: RequestEvent,
        reply: Reply | None,
        started: float,
        retries: int,
        error: BaseException | None,
    ) -> ResponseEvent:
        return ResponseEvent(
            event,
            None if reply is None else reply.status_code,
            None if reply is None else reply_headers(reply),
            time.perf_counter() - started,
            retries,
            error,
        )

    async def responded(
        self,
        event: RequestEvent,
        reply: Reply | None,
        started: float,
        retries: int,
        error: BaseException | None = None,
    ) -> None:
        """Run the ``on_response`` hooks (only called when there are some)."""
        answer = self.response_event(event, reply, started, retries, error)
        for hook in self.on_response:
            result = hook(answer)
            if inspect.isawaitable(result):
                await result
