"""The exceptions ollama-anyio raises, and the one place where lower-level errors become ours.

The tree::

    OllamaError
    ├── RequestError (also ValueError)        bad arguments; raised before any request is sent
    ├── ResponseError                         the server answered with an error (status >= 400,
    │                                         or an {"error": ...} line inside a stream)
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

import contextlib
from collections.abc import Generator
from typing import Any

import msgspec

__all__ = [
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
    """

    def __init__(self, error: str, status_code: int = -1, signin_url: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status_code = status_code
        self.signin_url = signin_url

    def __str__(self) -> str:
        return f"{self.error} (status code: {self.status_code})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.error, self.status_code, self.signin_url))


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


def parse_error_body(body: bytes) -> tuple[str, str | None]:
    """The message (and sign-in URL) of an error response body, JSON or not."""
    try:
        parsed = _error_body_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return body.decode("utf-8", errors="replace").strip(), None
    if isinstance(parsed.error, str) and parsed.error:
        return parsed.error, parsed.signin_url
    return body.decode("utf-8", errors="replace").strip(), None


def response_error(body: bytes, status_code: int) -> ResponseError:
    """Build the `ResponseError` for a response whose status is 400 or more."""
    message, signin_url = parse_error_body(body)
    if not message:
        message = f"HTTP {status_code} with an empty body"
    return ResponseError(message, status_code, signin_url)


def _describe(url: str) -> str:
    return url or "the configured host"


@contextlib.contextmanager
def translate_errors(url: str) -> Generator[None, None, None]:
    """Turn httpx's exceptions raised inside the block into ours.

    Args:
        url: the URL of the request, named in the messages.
    """
    import httpx  # here, not at the top: importing the package must not import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        raise OllamaTimeoutError(f"{kind} timeout talking to {_describe(url)}") from exc
    except httpx.ConnectError as exc:
        raise OllamaConnectionError(
            f"failed to connect to {_describe(url)}: is Ollama running there? ({exc})"
        ) from exc
    except httpx.RemoteProtocolError as exc:
        raise OllamaConnectionError(
            f"connection to {_describe(url)} broke during the response: {exc}"
        ) from exc
    except httpx.NetworkError as exc:
        raise OllamaConnectionError(f"connection to {_describe(url)} failed: {exc}") from exc
    except httpx.ProtocolError as exc:
        raise ProtocolError(f"HTTP protocol error talking to {_describe(url)}: {exc}") from exc
    except httpx.TooManyRedirects as exc:
        raise ProtocolError(f"too many redirects from {_describe(url)}") from exc
    except httpx.DecodingError as exc:
        raise ProtocolError(f"undecodable response body from {_describe(url)}: {exc}") from exc
    except httpx.StreamError as exc:
        raise OllamaConnectionError(
            f"the response from {_describe(url)} was closed: {exc}"
        ) from exc
    except httpx.UnsupportedProtocol as exc:
        raise RequestError(f"unsupported URL scheme in {_describe(url)}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OllamaConnectionError(f"request to {_describe(url)} failed: {exc}") from exc
