"""``with_streaming_response``: a streamed answer's HTTP response, read as it comes.

``async with client.with_streaming_response.chat(..., stream=True) as response`` sends the
request on entry and hands back the response as soon as its head is in: ``status_code``,
``headers``, ``elapsed`` and ``retries`` at once, then the body read one way, once:
``iter_lines()`` (the NDJSON lines, not parsed), ``iter_bytes()`` (the body's pieces as they
arrive), ``parse()`` (the decoded chunks, as the plain call's stream gives them) or ``read()``
(the whole rest). Each is a stream like any other (`AsyncStream`, or `Stream` on the blocking
client): bounded by the read timeout between two pieces or lines and by ``max_line_size``,
closed when it ends, when the caller is cancelled, or when the ``async with`` block is left.
(The blocking `StreamedResponse` is in ``_sync_streamed``, above the blocking client.)

Everything before the head behaves as for the plain call: retries, ``ResponseError`` for an
error status (nothing to read then). The endpoints that answer one object at once are not
here (`with_raw_response` has them), nor ``run_tools``, which sends many requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from ._async_stream import AsyncStream
from ._errors import ProtocolError, RequestError, translate_errors
from ._http._observe import raw_record, reply_headers
from ._raw import _Record  # pyright: ignore[reportPrivateUsage]

if TYPE_CHECKING:
    import httpx

    from ._http._direct_sender import Reply

__all__ = ["AsyncStreamedResponse", "not_streamed"]

T = TypeVar("T")
_Item = TypeVar("_Item", bytes, str)


def _never_final(item: object) -> bool:
    return False


def not_streamed(kind: str, name: str) -> NoReturn:
    """The error for an endpoint ``with_streaming_response`` does not offer."""
    raise AttributeError(
        f"{kind}.with_streaming_response has the endpoints that stream (generate, chat, pull, "
        f"push, create); {name}() answers one object at once: use "
        f"with_raw_response.{name}() for its status and headers"
    )


class _Body(AsyncStream[_Item]):
    """The body of a reply whose head is in, as raw pieces or as lines: nothing is decoded."""

    def __init__(
        self,
        reply: Reply,
        url: str,
        *,
        lines: bool,
        read_timeout: float | None,
        max_line_size: int | None,
    ) -> None:
        async def start() -> Reply:
            return reply

        item: Any = str if lines else bytes
        super().__init__(
            start, item, _never_final, url, read_timeout=read_timeout, max_line_size=max_line_size
        )
        self._lines = lines
        self._tail = b""

    async def _start(self) -> None:
        reply = await self._send()
        self._response = self._reply = reply
        self._chunks = reply.pieces()

    async def _next_lines(self) -> list[_Item]:
        assert self._chunks is not None
        while True:
            try:
                with translate_errors(self._url):
                    piece = await self._chunks.__anext__()
            except StopAsyncIteration:
                rest, self._tail = self._tail, b""
                await self.aclose()
                if not rest:
                    return []
                return [rest.decode("utf-8", "replace")] if self._lines else [rest]  # type: ignore[list-item]
            if not piece:
                continue
            if not self._lines:
                return [piece]  # type: ignore[list-item]
            *whole, tail = (self._tail + piece).split(b"\n")
            if self._max_line_size is not None and len(tail) > self._max_line_size:
                raise ProtocolError(
                    f"a line of the stream from {self._url} is longer than max_line_size "
                    f"({self._max_line_size} bytes)"
                )
            self._tail = tail
            if whole:
                return [line.decode("utf-8", "replace") for line in whole]  # type: ignore[misc]


class AsyncStreamedResponse(Generic[T]):
    """A streamed answer's HTTP response: its head at once, then its body as it comes.

    Use it as ``async with client.with_streaming_response.chat(..., stream=True) as
    response``. Read the body once, one way: `iter_lines`, `iter_bytes`, `parse` or `read`.

    Attributes (once entered):
        status_code: the HTTP status (2xx: an error status raises `ResponseError` on entry).
        headers: the response's headers, case-insensitive.
        elapsed: seconds from sending the request (its first attempt) to the head.
        retries: how many times the request was tried again before this answer.
        url: the request's URL.
    """

    def __init__(self, stream: object, call: Callable[[], Awaitable[AsyncStream[T]]]) -> None:
        if stream is not True:
            raise RequestError(
                "with_streaming_response reads a streamed answer: pass stream=True (for one "
                "whole answer with its status and headers, use with_raw_response)"
            )
        self._call = call
        self._plain: AsyncStream[T] | None = None
        self._reply: Reply | None = None
        self._body: AsyncStream[Any] | None = None
        self._closed = False
        self.status_code: int = 0
        self.elapsed: float = 0.0
        self.retries: int = 0
        self.url: str = ""

    @property
    def headers(self) -> httpx.Headers:
        """The response's headers, case-insensitive (``headers["x-request-id"]``)."""
        return reply_headers(self._started())

    def _started(self) -> Reply:
        if self._reply is None:
            raise RuntimeError("enter the response first: 'async with ... as response'")
        return self._reply

    async def __aenter__(self) -> AsyncStreamedResponse[T]:
        if self._reply is not None or self._closed:
            raise RuntimeError("a streamed response is entered once")
        plain = await self._call()  # not sent yet: a stream sends when first read
        record = _Record()
        token = raw_record.set(record)
        try:
            reply = await plain._send()  # pyright: ignore[reportPrivateUsage]
        finally:
            raw_record.reset(token)
        # The plain stream holds the response too: the client's aclose() (which closes every
        # stream still open) and the garbage collector then close it as any stream's.
        plain._response = plain._reply = reply  # pyright: ignore[reportPrivateUsage]
        self._plain, self._reply = plain, reply
        self.status_code = reply.status_code
        self.url = plain._url  # pyright: ignore[reportPrivateUsage]
        self.elapsed, self.retries = record.elapsed, record.retries
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _take(self, body: AsyncStream[Any]) -> None:
        if self._body is not None or self._closed:
            raise RuntimeError("the body of a streamed response is read once, one way")
        self._body = body

    def _raw(self, *, lines: bool) -> Any:
        reply = self._started()
        plain = self._plain
        assert plain is not None
        body: AsyncStream[Any] = _Body(
            reply,
            self.url,
            lines=lines,
            read_timeout=plain._read_timeout,  # pyright: ignore[reportPrivateUsage]
            max_line_size=plain._max_line_size,  # pyright: ignore[reportPrivateUsage]
        )
        self._take(body)
        return body

    def iter_lines(self) -> AsyncStream[str]:
        """The body's lines as they arrive, without their newline and not parsed (NDJSON)."""
        lines: AsyncStream[str] = self._raw(lines=True)
        return lines

    def iter_bytes(self) -> AsyncStream[bytes]:
        """The body's pieces as they arrive (decompressed), unsplit and not parsed."""
        pieces: AsyncStream[bytes] = self._raw(lines=False)
        return pieces

    def parse(self) -> AsyncStream[T]:
        """The body's chunks, decoded: the stream the plain call returns, already started."""
        reply = self._started()
        plain = self._plain
        assert plain is not None

        async def start() -> Reply:
            return reply

        chunks = AsyncStream(
            start,
            plain._type,  # pyright: ignore[reportPrivateUsage]
            plain._is_final,  # pyright: ignore[reportPrivateUsage]
            self.url,
            read_timeout=plain._read_timeout,  # pyright: ignore[reportPrivateUsage]
            max_line_size=plain._max_line_size,  # pyright: ignore[reportPrivateUsage]
            max_accumulated=plain._max_accumulated,  # pyright: ignore[reportPrivateUsage]
        )
        self._take(chunks)
        return chunks

    async def read(self) -> bytes:
        """The rest of the body, whole (at most ``max_body_size`` bytes, else `ProtocolError`)."""
        plain = self._plain
        limit = None if plain is None else plain._max_accumulated  # pyright: ignore[reportPrivateUsage]
        parts: list[bytes] = []
        size = 0
        async with self.iter_bytes() as pieces:
            async for piece in pieces:
                size += len(piece)
                if limit is not None and size > limit:
                    raise ProtocolError(
                        f"the answer from {self.url} is larger than max_body_size ({limit} bytes)"
                    )
                parts.append(piece)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Close the response (at once). Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        body, plain = self._body, self._plain
        if body is not None:
            await body.aclose()
        if plain is not None:
            await plain.aclose()  # closes the response, at once (shielded)
