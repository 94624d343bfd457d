"""What a request's HTTP exchange looked like: raw responses, and the request log.

The send loop calls `observe` once per request, when it ends (an answer, an error status, or
a failure to connect), with the method, URL, status, the headers' source, when it started and
how many retries it took. That one call feeds both consumers:

- ``client.with_raw_response.chat(...)`` (`capture`): a context variable holds a `_Record`
  while the call runs in the caller's task, and the call's result comes back as a
  `RawResponse` with the last answer's status, headers and elapsed time;
- the ``ollama_anyio.requests`` logger, a child of ``ollama_anyio`` (`configure_logging`,
  from ``OLLAMA_ANYIO_LOG``): one line per request at INFO. Only the method, the URL (which
  never carries credentials: the host parser drops them), status, elapsed time and retries;
  never a header or a body.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import httpx

from ._errors import RequestError
from ._http._direct_sender import DirectReply, HttpxReply, Reply

__all__ = ["RawResponse", "capture", "configure_logging", "observe", "reply_headers"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# Request lines go to a child of the package's logger: OLLAMA_ANYIO_LOG (or any level set on
# ``ollama_anyio``) governs both, and a handler can still tell them from the retry lines.
logger = logging.getLogger("ollama_anyio.requests")
_package_logger = logging.getLogger("ollama_anyio")

LOG_VARIABLE = "OLLAMA_ANYIO_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def reply_headers(reply: Reply) -> httpx.Headers:
    """The headers of an answer, on either path, as case-insensitive `httpx.Headers`."""
    if isinstance(reply, DirectReply):
        return httpx.Headers(reply.head.headers)
    if isinstance(reply, HttpxReply):
        return reply.response.headers
    return httpx.Headers()  # pragma: no cover - every Reply is one of the two


class RawResponse(Generic[T_co]):
    """A call's result together with the HTTP answer it came from.

    Attributes:
        parsed: what the call returns without ``with_raw_response``.
        status_code: the HTTP status of the (last) answer.
        headers: its headers, case-insensitive (``headers["x-request-id"]``).
        elapsed: seconds from sending the request (its first attempt) to the answer's head.
        retries: how many times the request was tried again before this answer.
        method, url: the request.

    A call that sends several requests (``ensure``, the batch helpers) reports the last one.
    """

    __slots__ = ("_parsed", "elapsed", "headers", "method", "retries", "status_code", "url")

    def __init__(
        self,
        parsed: T_co,
        *,
        status_code: int,
        headers: httpx.Headers,
        elapsed: float,
        retries: int,
        method: str,
        url: str,
    ) -> None:
        self._parsed = parsed
        self.status_code: int = status_code
        self.headers: httpx.Headers = headers
        self.elapsed: float = elapsed
        self.retries: int = retries
        self.method: str = method
        self.url: str = url

    @property
    def parsed(self) -> T_co:
        """What the call returns without ``with_raw_response``."""
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<RawResponse {self.method} {self.url} {self.status_code} "
            f"in {self.elapsed * 1000:.1f} ms: {type(self.parsed).__name__}>"
        )


class _Record:
    __slots__ = ("elapsed", "method", "reply", "retries", "url")

    def __init__(self) -> None:
        self.reply: Reply | None = None
        self.method = self.url = ""
        self.elapsed = 0.0
        self.retries = 0


_current: contextvars.ContextVar[_Record | None] = contextvars.ContextVar(
    "ollama_anyio_raw_response", default=None
)


def observe(
    method: str,
    url: str,
    reply: Reply | None,
    started: float,
    retries: int,
    failure: BaseException | None = None,
) -> None:
    """Report one request's end: an answer (``reply``, any status) or a ``failure``."""
    record = _current.get()
    if record is None and not logger.isEnabledFor(logging.INFO):
        return
    elapsed = time.perf_counter() - started
    if record is not None and reply is not None:
        record.reply, record.method, record.url = reply, method, url
        record.elapsed, record.retries = elapsed, retries
    if reply is not None:
        outcome = str(reply.status_code)
    else:
        outcome = f"failed ({type(failure).__name__})"
    logger.info(
        "%s %s %s in %.1f ms, %d retr%s",
        method,
        url,
        outcome,
        elapsed * 1000,
        retries,
        "y" if retries == 1 else "ies",
    )


async def capture(call: Callable[[], Awaitable[T]]) -> RawResponse[T]:
    """Run ``call`` (one endpoint call, in this task) and return its result with its answer."""
    record = _Record()
    token = _current.set(record)
    try:
        parsed = await call()
    finally:
        _current.reset(token)
    if callable(getattr(parsed, "next_batch", None)):  # a stream: it has sent nothing yet
        await parsed.aclose()  # type: ignore[attr-defined]
        raise RequestError(
            "with_raw_response has no streaming form: use "
            "with_streaming_response.<endpoint>(..., stream=True) for the response's status "
            "and headers at once and then its lines, or read status_code and headers on the "
            "stream itself"
        )
    reply = record.reply
    if reply is None:  # pragma: no cover - every endpoint sends a request
        raise RuntimeError("the call sent no request")
    return RawResponse(
        parsed,
        status_code=reply.status_code,
        headers=reply_headers(reply),
        elapsed=record.elapsed,
        retries=record.retries,
        method=record.method,
        url=record.url,
    )


_handler: logging.Handler | None = None


def configure_logging() -> None:
    """Turn on request logging if ``OLLAMA_ANYIO_LOG`` says so (``debug`` or ``info``).

    Called when a client is built, never at import. It sets the ``ollama_anyio`` logger's
    level and, unless the application gave that logger a handler of its own, adds one that
    writes to stderr (once per process). Unset or empty: nothing changes.

    Raises:
        RequestError: the variable has another value.
    """
    global _handler
    value = os.environ.get(LOG_VARIABLE, "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        raise RequestError(f"{LOG_VARIABLE} must be 'debug' or 'info', got {value!r}")
    _package_logger.setLevel(level)
    if _handler is None and not _package_logger.handlers:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        _package_logger.addHandler(_handler)
