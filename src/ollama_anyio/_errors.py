"""The exceptions ollama-anyio raises, and the one place where lower-level errors become ours.

The tree::

    OllamaError
    ├── RequestError (also ValueError)        bad arguments; raised before any request is sent
    ├── ResponseError                         the server answered with an error (status >= 400,
    │   │                                     or an {"error": ...} line inside a stream)
    │   └── NotFoundError, ServerBusyError, ... one subclass per status (``_status_errors``)
    ├── OllamaConnectionError (also ConnectionError)
    │                                         no connection, or the connection broke
    ├── OllamaTimeoutError (also TimeoutError) connect, read, write or pool timeout
    └── ProtocolError                         the server sent something that is not the Ollama API
        └── IncompleteStreamError             a stream ended before its final chunk

Code that catches the builtin ``ConnectionError``, ``TimeoutError`` or ``ValueError`` keeps
working, and so does code written for the official client's ``ResponseError``/``RequestError``.
No httpx, h11, json or msgspec exception escapes from a public call: `translate_errors` is the
translation point used around every network operation.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import msgspec

__all__ = [
    "DECODE_ERRORS",
    "IncompleteStreamError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "ProtocolError",
    "RequestError",
    "ResponseError",
    "translate_errors",
]


class OllamaError(Exception):
    """Base class of every exception raised by ollama-anyio."""


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

    Its subclasses by status (`NotFoundError`, `ServerBusyError`, ...) are in ``_status_errors``.
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
        return (type(self), (self.error, self.status_code, self.signin_url, headers))


class OllamaConnectionError(OllamaError, ConnectionError):
    """The server could not be reached, or the connection broke during a response."""


class OllamaTimeoutError(OllamaError, TimeoutError):
    """A connect, read, write or pool timeout expired."""


class ProtocolError(OllamaError):
    """The server sent something that does not follow the Ollama API (e.g. a malformed line)."""


class IncompleteStreamError(ProtocolError):
    """A stream ended without its final chunk (``done: true`` or ``status: success``)."""


class _ErrorBody(msgspec.Struct):
    error: Any = None
    signin_url: str | None = None


_error_body_decoder = msgspec.json.Decoder(_ErrorBody)

# What decoding a server's JSON can raise: msgspec's errors, and UnicodeDecodeError for bytes
# that are not UTF-8 in a string it decodes.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)


def parse_error_body(body: bytes) -> tuple[str, str | None]:
    """The message (and sign-in URL) of an error response body, JSON or not."""
    try:
        parsed = _error_body_decoder.decode(body)
    except DECODE_ERRORS:
        return body.decode("utf-8", errors="replace").strip(), None
    if isinstance(parsed.error, str) and parsed.error:
        return parsed.error, parsed.signin_url
    return body.decode("utf-8", errors="replace").strip(), None


def response_error(
    body: bytes, status_code: int, headers: Mapping[str, str] | None = None
) -> ResponseError:
    """Build the `ResponseError` for a response whose status is 400 or more: the subclass
    for its status (see ``_status_errors``), with what to do about it as a note."""
    from ._status_errors import status_error_class  # it imports this module

    message, signin_url = parse_error_body(body)
    if not message:
        message = f"HTTP {status_code} with an empty body"
    error = status_error_class(status_code, message)(message, status_code, signin_url, headers)
    hint: str | None = getattr(error, "hint", None)
    if hint and sys.version_info >= (3, 11):  # shown under the traceback; str() stays official
        error.add_note(hint)
    return error


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
        translated = _translate(exc, _describe(self.url))
        if translated is not None:
            raise translated from exc


def _translate(exc: BaseException, where: str) -> OllamaError | None:
    import httpx  # here, not at the top: importing the package must not import httpx

    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return OllamaTimeoutError(f"{kind} timeout talking to {where}")
    if isinstance(exc, httpx.ConnectError):
        return OllamaConnectionError(
            f"failed to connect to {where}: is Ollama running there? ({exc})"
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return OllamaConnectionError(f"connection to {where} broke during the response: {exc}")
    if isinstance(exc, httpx.NetworkError):
        return OllamaConnectionError(f"connection to {where} failed: {exc}")
    if isinstance(exc, httpx.ProtocolError):
        return ProtocolError(f"HTTP protocol error talking to {where}: {exc}")
    if isinstance(exc, httpx.TooManyRedirects):
        return ProtocolError(f"too many redirects from {where}")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError(f"undecodable response body from {where}: {exc}")
    if isinstance(exc, httpx.StreamError):
        return OllamaConnectionError(f"the response from {where} was closed: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return RequestError(f"unsupported URL scheme in {where}: {exc}")
    if isinstance(exc, httpx.HTTPError):
        return OllamaConnectionError(f"request to {where} failed: {exc}")
    return None
