"""`StreamedResponse`: ``Client.with_streaming_response``, the blocking form of
`AsyncStreamedResponse` (see ``_raw_stream``).

Entering it makes one crossing into the portal, which sends the request and waits for the
head; the body is then read as a blocking `Stream`, like any other stream of the client.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._async_stream import AsyncStream
from ._raw_stream import AsyncStreamedResponse
from ._sync_client import ClientCore, Stream, _call, _Loop  # pyright: ignore[reportPrivateUsage]

if TYPE_CHECKING:
    import httpx

__all__ = ["StreamedResponse"]

T = TypeVar("T")


class StreamedResponse(Generic[T]):
    """`AsyncStreamedResponse` for the blocking client: ``with ... as response``.

    The same attributes; `iter_lines`, `iter_bytes` and `parse` give a blocking `Stream`.
    """

    def __init__(self, core: ClientCore, response: AsyncStreamedResponse[T]) -> None:
        self._core = core
        self._async = response
        self._loop: _Loop | None = None
        self._body: Stream[Any] | None = None

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self._async.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response's headers, case-insensitive."""
        return self._async.headers

    @property
    def elapsed(self) -> float:
        """Seconds from sending the request to the head."""
        return self._async.elapsed

    @property
    def retries(self) -> int:
        """How many times the request was tried again."""
        return self._async.retries

    @property
    def url(self) -> str:
        """The request's URL."""
        return self._async.url

    def __enter__(self) -> StreamedResponse[T]:
        loop = self._core._state.get()  # pyright: ignore[reportPrivateUsage]
        _call(loop, self._async.__aenter__)
        self._loop = loop
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _stream(self, body: AsyncStream[Any]) -> Any:
        assert self._loop is not None
        self._body = Stream(body, self._loop, self._core)
        return self._body

    def iter_lines(self) -> Stream[str]:
        """The body's lines, not parsed (see `AsyncStreamedResponse.iter_lines`)."""
        lines: Stream[str] = self._stream(self._async.iter_lines())
        return lines

    def iter_bytes(self) -> Stream[bytes]:
        """The body's pieces as they arrive."""
        pieces: Stream[bytes] = self._stream(self._async.iter_bytes())
        return pieces

    def parse(self) -> Stream[T]:
        """The body's chunks, decoded."""
        chunks: Stream[T] = self._stream(self._async.parse())
        return chunks

    def read(self) -> bytes:
        """The rest of the body, whole."""
        if self._loop is None:
            raise RuntimeError("enter the response first: 'with ... as response'")
        return _call(self._loop, self._async.read)

    def close(self) -> None:
        """Close the response. Calling it again does nothing."""
        if self._body is not None:
            self._body.close()
        if self._loop is not None:
            _call(self._loop, self._async.aclose)
