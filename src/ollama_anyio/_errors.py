"""The exceptions ollama-anyio raises, and the one place where lower-level errors become ours.

The tree::

    OllamaError
    ├── RequestError (also ValueError)        bad arguments; raised before any request is sent
    ├── ResponseError                         the server answered with an error (status >= 400,
    │   │                                     or an {"error": ...} line inside a stream)
    │   ├── BadRequestError                   400
    │   ├── UnauthorizedError                 401 (``signin_url``: where to sign in to ollama.com)
    │   ├── ForbiddenError                    403
    │   ├── NotFoundError                     404 (``model``: the model a "not found" names)
    │   ├── RateLimitError                    429
    │   │   └── UsageLimitError               429 saying a usage limit or quota is used up
    │   ├── BadGatewayError                   502
    │   ├── ServerBusyError                   503
    │   └── GatewayTimeoutError               504
    ├── OllamaConnectionError (also ConnectionError)
    │                                         no connection, or the connection broke
    ├── OllamaTimeoutError (also TimeoutError) connect, read, write or pool timeout
    ├── ProtocolError                         the server sent something that is not the Ollama API
    │   └── IncompleteStreamError             a stream ended before its final chunk
    ├── StructuredOutputError (also ValueError) an answer did not conform to the ``format=`` type
    ├── ClientClosedError (also RuntimeError) a call on a closed client, or one racing ``close()``
    └── MaxStepsError                         a tool run reached ``max_steps`` still calling tools

Code that catches the builtin ``ConnectionError``, ``TimeoutError`` or ``ValueError`` keeps
working, and so does code written for the official client's ``ResponseError``/``RequestError``.
A status without a class of its own (500, 499, ...) is a plain `ResponseError`; which class
an answer gets is `status_error_class` (pure: a status and the server's message in), and the
retry loop asks `is_usage_limit` before retrying a 429.

No httpx, h11, json or msgspec exception escapes from a public call: `translate_errors` is the
translation point used around every network operation.

Below the tree, the transport reports what happened as a `Failure` carrying one `Fact` (could
not connect; connected but sent nothing; sent the request but got no response head; the
response had begun), and httpx's own exceptions are read as the same facts (`failure_of`).
The retry policy decides from the fact alone; `public_error` then maps it, once, to the tree.
"""

from __future__ import annotations

import enum
import html
import re
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import msgspec

from ._http._http11 import FramingError

__all__ = [
    "DECODE_ERRORS",
    "STATUS_ERRORS",
    "BadGatewayError",
    "BadRequestError",
    "ClientClosedError",
    "Fact",
    "Failure",
    "ForbiddenError",
    "GatewayTimeoutError",
    "IncompleteStreamError",
    "MaxStepsError",
    "NotFoundError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "ProtocolError",
    "RateLimitError",
    "RequestError",
    "ResponseError",
    "ServerBusyError",
    "StructuredOutputError",
    "UnauthorizedError",
    "UsageLimitError",
    "cause_of",
    "failure_of",
    "is_usage_limit",
    "public_error",
    "status_error_class",
    "translate_errors",
]


class OllamaError(Exception):
    """Base class of every exception raised by ollama-anyio.

    Attributes:
        request_id: the id of the request that failed (the ``X-Request-Id`` it was sent
            with), for errors raised by a request; None otherwise.
    """

    request_id: str | None = None


class RequestError(OllamaError, ValueError):
    """The arguments of a call are invalid; nothing was sent.

    Attributes:
        error: the message, naming the argument at fault.
    """

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ResponseError(OllamaError):
    """The server answered with an error.

    Attributes:
        error: the server's message: the ``error`` field of a JSON body, else the body text.
        status_code: the HTTP status of the response (200 for an error line inside a stream,
            whose status was already sent), or -1 when unknown.
        signin_url: for 401 answers about ollama.com sign-in, the URL the server suggests.
        headers: the response's headers (case-insensitive; empty for an error line inside a
            stream): proxies put request ids and rate-limit figures there.
        request_id: the id the request was sent with (see `OllamaError`).

    Its subclasses by status (`NotFoundError`, `ServerBusyError`, ...) follow it below.
    """

    def __init__(
        self,
        error: str,
        status_code: int = -1,
        signin_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status_code = status_code
        self.signin_url = signin_url
        self.headers: Mapping[str, str] = {} if headers is None else headers

    def __str__(self) -> str:
        return f"{self.error} (status code: {self.status_code})"

    def __reduce__(self) -> tuple[Any, ...]:
        headers = dict(self.headers) if self.headers else None
        state = {"request_id": self.request_id} if self.request_id is not None else None
        return (type(self), (self.error, self.status_code, self.signin_url, headers), state)


class OllamaConnectionError(OllamaError, ConnectionError):
    """The server could not be reached, or the connection broke during a response."""


class OllamaTimeoutError(OllamaError, TimeoutError):
    """A connect, read, write or pool timeout expired."""


class ClientClosedError(OllamaError, RuntimeError):
    """The client was closed: before the call, or while it ran (another thread's ``close()``).

    A `RuntimeError` too, as the error for a closed client was one before this class.
    """


class ProtocolError(OllamaError):
    """The server sent something that does not follow the Ollama API (e.g. a malformed line)."""


class IncompleteStreamError(ProtocolError):
    """A stream ended without its final chunk (``done: true`` or ``status: success``)."""


class StructuredOutputError(OllamaError, ValueError):
    """A model's answer could not be read as the type asked for with ``format=``.

    Also a ``ValueError``, as pydantic's ``ValidationError`` is: code that catches a failed
    validation that way catches this too.

    Attributes:
        text: the answer's raw text, as the model wrote it.
        error: what did not conform (the JSON or validation error).
        truncated: whether generation stopped at the length limit (``done_reason ==
            "length"``), the usual cause of JSON cut short: raise ``num_predict`` or
            ``num_ctx``.
        reply: the whole answer (metrics, ``done_reason``) when ``chat`` or ``generate``
            raised it for ``format=T``; None when raised by ``parse``.
    """

    def __init__(self, text: str, error: str, *, truncated: bool = False) -> None:
        why = " (generation stopped at the length limit)" if truncated else ""
        super().__init__(f"the answer does not conform to the requested type{why}: {error}")
        self.text = text
        self.error = error
        self.truncated = truncated
        self.reply: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_structured_error, (self.text, self.error, self.truncated))


def _structured_error(text: str, error: str, truncated: bool) -> StructuredOutputError:
    return StructuredOutputError(text, error, truncated=truncated)


class MaxStepsError(OllamaError):
    """A tool run made ``max_steps`` model calls and the model still asked for tools.

    Attributes:
        run: the run so far (a `ToolRun`): its transcript and the last reply.
    """

    def __init__(self, message: str, run: Any) -> None:
        super().__init__(message)
        self.run = run


# ---------------------------------------------------------------------------------------------
# ResponseError's subclasses by HTTP status


class BadRequestError(ResponseError):
    """400: the server refused the request (an invalid name, option or capability)."""


class UnauthorizedError(ResponseError):
    """401: the request needs credentials; for a cloud model, ``signin_url`` is where to sign in."""

    @property
    def hint(self) -> str | None:
        """What to do about it, when the server said."""
        if self.signin_url:
            return f"sign in to ollama.com at {self.signin_url}"
        return None


class ForbiddenError(ResponseError):
    """403: the server will not do this (e.g. cloud features are disabled on it)."""


# Ollama's "not found" messages name the model in single or double quotes (SPEC 1.6).
_MODEL_NOT_FOUND = re.compile(r"""\bmodel (['"])(.*?)\1 not found""")


class NotFoundError(ResponseError):
    """404: no such model (or route). ``model`` is the model the message names, if any."""

    @property
    def model(self) -> str | None:
        """The model named by a "model '...' not found" message, else None."""
        found = _MODEL_NOT_FOUND.search(self.error)
        return found.group(2) if found else None

    @property
    def hint(self) -> str | None:
        """How to get the missing model, when the message names one."""
        model = self.model
        if not model:
            return None
        return f"the server does not have {model!r}: pull it first (client.pull({model!r}))"


class RateLimitError(ResponseError):
    """429: too many requests; retried by the client's policy, as ``Retry-After`` says."""


class UsageLimitError(RateLimitError):
    """429 saying a usage limit or quota is used up: waiting seconds cannot help, so it is
    never retried."""


class BadGatewayError(ResponseError):
    """502: a proxy (or Ollama for a cloud model) got no valid answer from its upstream."""


class ServerBusyError(ResponseError):
    """503: the server's queue is full ("server busy"); retried by the client's policy."""


class GatewayTimeoutError(ResponseError):
    """504: a proxy gave up waiting for the server; not retried, the request may be running."""


STATUS_ERRORS: dict[int, type[ResponseError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitError,
    502: BadGatewayError,
    503: ServerBusyError,
    504: GatewayTimeoutError,
}

# A rate limit that clears in seconds says "rate limit" or "too many requests"; one that
# clears at the end of a period talks of usage limits, quotas, credit, or the period itself.
_USAGE_LIMIT = re.compile(
    r"usage limit|quota|exhausted|out of credit|insufficient credit"
    r"|(?:hourly|daily|weekly|monthly) limit",
    re.IGNORECASE,
)


def is_usage_limit(message: str) -> bool:
    """Whether a 429's message says a usage limit or quota is used up (not worth retrying).

    A plain "rate limit exceeded" or "too many requests" is a short-term limit: retried.
    """
    return _USAGE_LIMIT.search(message) is not None


def status_error_class(status_code: int, message: str) -> type[ResponseError]:
    """The class of the error for an answer with ``status_code`` and ``message``."""
    if status_code == 429 and is_usage_limit(message):
        return UsageLimitError
    return STATUS_ERRORS.get(status_code, ResponseError)


class _ErrorBody(msgspec.Struct):
    error: Any = None
    signin_url: str | None = None


_error_body_decoder = msgspec.json.Decoder(_ErrorBody)

# What decoding a server's JSON can raise: msgspec's errors, UnicodeDecodeError for bytes that
# are not UTF-8 in a string it decodes, and RecursionError, msgspec's answer to a value nested
# deeper than it recurses (a hostile tool call's arguments): a server's fault like any other.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


_HTML = re.compile(r"\s*(<!doctype html|<html\b|<head\b|<body\b|<title\b)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _text_of(body: bytes) -> str:
    """A non-JSON error body as a message: its text, or an HTML page's title.

    Proxies answer 502/504 with an HTML page (nginx's is ``<html><head><title>502 Bad
    Gateway</title>...``); its markup would make a multi-line message that says less.
    """
    text = body.decode("utf-8", errors="replace").strip()
    if not _HTML.match(text):
        return text
    title = _TITLE.search(text)
    readable = title.group(1) if title else _TAG.sub(" ", text)
    return " ".join(html.unescape(readable).split()) or text


def parse_error_body(body: bytes) -> tuple[str, str | None]:
    """The message (and sign-in URL) of an error response body, JSON or not."""
    try:
        parsed = _error_body_decoder.decode(body)
    except DECODE_ERRORS:
        return _text_of(body), None
    if isinstance(parsed.error, str) and parsed.error:
        return parsed.error, parsed.signin_url
    return _text_of(body), None


def response_error(
    body: bytes, status_code: int, headers: Mapping[str, str] | None = None
) -> ResponseError:
    """Build the `ResponseError` for a response whose status is 400 or more: the subclass
    for its status (see `status_error_class`), with what to do about it as a note."""

    message, signin_url = parse_error_body(body)
    if not message:
        message = f"HTTP {status_code} with an empty body"
    error = status_error_class(status_code, message)(message, status_code, signin_url, headers)
    hint: str | None = getattr(error, "hint", None)
    if hint and sys.version_info >= (3, 11):  # shown under the traceback; str() stays official
        error.add_note(hint)
    return error


class Fact(enum.Enum):
    """What a failed exchange got to, as far as the transport knows: what retries go by."""

    NOT_CONNECTED = "could not connect"  # nothing was sent
    NO_DESCRIPTORS = "out of file descriptors"  # nothing was sent; waiting will not help
    NOTHING_SENT = "connected, but no byte of the request left"
    NO_RESPONSE = "sent the request (or part of it), no response head came"
    BEGAN = "the response had begun"
    PROTOCOL = "the server broke HTTP/1.1 framing or a limit"  # a ProtocolError
    REFUSED = "the request cannot be sent as it is"  # e.g. a redirect to ftp://


class Failure(Exception):
    """A failed exchange, internal: never escapes a public call (see `public_error`).

    Attributes:
        fact: how far the exchange got.
        reused: it ran on a kept-alive connection (a stale one fails like this).
        timeout: the failure is a timeout, named by ``phase`` (connect, read, write, pool).
    """

    def __init__(
        self, fact: Fact, message: str, *, reused: bool = False, timeout: str | None = None
    ) -> None:
        super().__init__(message)
        self.fact = fact
        self.reused = reused
        self.timeout = timeout


def failure_of(exc: BaseException, *, began: bool) -> Failure | None:
    """The `Failure` an exception of httpx (or ours) stands for; None for anything else.

    ``began``: the response head had been received when ``exc`` was raised.
    """
    if isinstance(exc, Failure):
        return exc
    import httpx  # here, not at the top: importing the package must not import httpx

    if isinstance(exc, FramingError):
        return Failure(Fact.PROTOCOL, str(exc))
    if not isinstance(exc, httpx.HTTPError):
        return None
    timeout = None
    if isinstance(exc, httpx.TimeoutException):
        timeout = type(exc).__name__.replace("Timeout", "").lower() or "request"
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        fact = Fact.NOT_CONNECTED
    elif isinstance(exc, (httpx.UnsupportedProtocol, httpx.TooManyRedirects)):
        fact = Fact.REFUSED if isinstance(exc, httpx.UnsupportedProtocol) else Fact.PROTOCOL
    elif isinstance(exc, httpx.DecodingError):
        fact = Fact.PROTOCOL
    else:
        fact = Fact.BEGAN if began else Fact.NO_RESPONSE
    return Failure(fact, str(exc) or type(exc).__name__, timeout=timeout)


def public_error(failure: Failure, url: str) -> OllamaError:
    """The exception of the tree a `Failure` is raised as."""
    where = _describe(url)
    if failure.timeout is not None:
        return OllamaTimeoutError(f"{failure.timeout} timeout talking to {where}")
    fact, detail = failure.fact, str(failure)
    if fact is Fact.NOT_CONNECTED:
        return OllamaConnectionError(
            f"failed to connect to {where}: is Ollama running there? ({detail})"
        )
    if fact is Fact.NO_DESCRIPTORS:
        return OllamaConnectionError(
            f"cannot connect to {where}: this process ran out of file descriptors ({detail})"
        )
    if fact is Fact.PROTOCOL:
        return ProtocolError(f"HTTP protocol error talking to {where}: {detail}")
    if fact is Fact.REFUSED:
        return ProtocolError(f"refused to follow {where}: {detail}")
    if fact is Fact.BEGAN:
        return OllamaConnectionError(f"connection to {where} broke during the response: {detail}")
    return OllamaConnectionError(f"connection to {where} failed before a response: {detail}")


def cause_of(failure: Failure) -> BaseException:
    """What a public error raised for ``failure`` names as its cause: httpx's exception where
    there was one; for a failure to connect on our transport, the httpx exception httpx's own
    transport would have raised (code that inspects ``__cause__``, as our CLI does, keeps
    working on both)."""
    cause = failure.__cause__
    import httpx

    if isinstance(cause, httpx.HTTPError) or failure.fact is not Fact.NOT_CONNECTED:
        return cause if cause is not None else failure
    kind = httpx.ConnectTimeout if failure.timeout == "connect" else httpx.ConnectError
    return kind(str(failure))


def _describe(url: str) -> str:
    return url or "the configured host"


class translate_errors:  # lower case: it is used like a function, ``with translate_errors(url):``
    """Turn httpx's exceptions raised inside the block into ours.

    A class rather than a generator-based context manager: it wraps every network operation,
    and costs a third as much on the way in and out.

    Args:
        url: the URL of the request, named in the messages.
    """

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        translated = _translate(exc, self.url)
        if translated is not None:
            raise translated from exc


def _translate(exc: BaseException, url: str) -> OllamaError | None:
    # Around a body: any failure there came after the head.
    failure = failure_of(exc, began=True)
    if failure is not None:
        return public_error(failure, url)
    where = _describe(url)
    import httpx

    if isinstance(exc, httpx.StreamError):
        return OllamaConnectionError(f"the response from {where} was closed: {exc}")
    return None
