"""`AsyncStream`: the chunks of one streamed response, read in the consumer's own task.

The HTTP request is sent when the stream is first entered or iterated, not before, so a stream
that is never used holds nothing. The response is closed when the stream ends, when the server
reports an error, when the consumer's task is cancelled, when a read fails, and when the
consumer leaves ``async with`` or calls ``aclose()`` early. A plain ``async for`` loop that
``break``s cannot be noticed by the stream (Python gives it no signal): use ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.lowlevel
from anyio.lowlevel import EventLoopToken

from ._direct import Reply
from ._errors import IncompleteStreamError, translate_errors
from ._ndjson import NDJSONDecoder

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncStream"]


T = TypeVar("T")


class AsyncStream(Generic[T]):
    """An async iterator of decoded chunks that is also an async context manager.

    Iterate it (``async for part in stream``) or use it as ``async with stream as parts``.
    It raises `ResponseError` for an error status or an error line (after the chunks before
    it), `IncompleteStreamError` if the stream ends without its final chunk, and
    `OllamaConnectionError` / `OllamaTimeoutError` if the connection fails.
    """

    def __init__(
        self,
        open: Callable[[], Awaitable[Reply]],
        type: type[T],
        is_final: Callable[[T], bool],
        url: str,
    ) -> None:
        self._open = open
        self._type = type
        self._is_final = is_final
        self._url = url
        self._response: Reply | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._decoder: NDJSONDecoder[T] | None = None
        self._buffer: deque[T] = deque()
        self._finished = False  # the final chunk was seen
        self._closed = False
        self._token: EventLoopToken | None = None
        self._reply: Reply | None = None  # kept after closing, for its status and headers

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the response, once the stream has started (else None)."""
        return None if self._reply is None else self._reply.status_code

    @property
    def headers(self) -> httpx.Headers | None:
        """The response's headers (case-insensitive), once the stream has started (else None).

        Proxies put request ids and rate-limit figures there. Still readable after the end.
        """
        if self._reply is None:
            return None
        from ._raw import reply_headers  # it imports httpx, as this module must not at import

        return reply_headers(self._reply)

    @property
    def closed(self) -> bool:
        """Whether the stream has ended or was closed; its response is then closed too."""
        return self._closed

    async def __aenter__(self) -> AsyncStream[T]:
        if self._response is None and not self._closed:
            try:
                await self._start()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if not await self._fill():
                raise StopAsyncIteration
        return self._buffer.popleft()

    async def _fill(self) -> bool:
        batch = await self.next_batch()
        self._buffer.extend(batch)
        return bool(batch)

    async def next_batch(self) -> list[T]:
        """The chunks decoded from the next read of the response; ``[]`` once it has ended.

        This is how the blocking `Stream` takes every chunk ready in one crossing; chunks
        already handed out one by one through ``__anext__`` are not returned again.
        """
        if self._buffer:
            batch = list(self._buffer)
            self._buffer.clear()
            return batch
        if self._closed:
            return []
        try:
            if self._response is None:
                await self._start()
            assert self._chunks is not None
            assert self._decoder is not None
            while True:
                try:
                    with translate_errors(self._url):
                        chunk = await self._chunks.__anext__()
                except StopAsyncIteration:
                    batch = self._decoder.flush()
                    self._check_final(batch)
                    if not self._finished:
                        raise IncompleteStreamError(
                            f"the stream from {self._url} ended without its final chunk"
                        ) from None
                    await self.aclose()
                    return batch
                batch = self._decoder.feed(chunk)
                if batch:
                    self._check_final(batch)
                    return batch
        except BaseException:
            await self.aclose()
            raise

    def _check_final(self, batch: list[T]) -> None:
        if batch and self._is_final(batch[-1]):
            self._finished = True

    async def _start(self) -> None:
        response = await self._open()
        self._response = self._reply = response
        self._token = anyio.lowlevel.current_token()
        self._decoder = NDJSONDecoder(self._type, response.status_code)
        self._chunks = response.pieces()

    async def aclose(self) -> None:
        """Close the response (at once, also in a cancelled task). Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        response, chunks = self._response, self._chunks
        self._response = self._chunks = None
        if response is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                if chunks is not None:
                    await chunks.aclose()  # type: ignore[attr-defined]
            except RuntimeError:
                pass  # another task reads it (AsyncClient.aclose); closing the response ends it
            finally:
                await response.aclose()

    def __del__(self) -> None:
        # Dropped half-read: after a plain ``async for`` left by ``break``, which gives the
        # stream no other signal. Closing needs an await, so it is started in the event loop
        # that opened the response, as a task of its own; where that is impossible (another
        # thread, the loop is gone) the caller is told.
        if self._closed or self._response is None or self._token is None:
            return
        if not _close_soon(self, self._token):
            warnings.warn(
                f"an ollama-anyio stream from {self._url} was not closed: use 'async with' "
                "around it, or read it to the end",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )


_closing: set[asyncio.Task[None]] = set()


async def _close_quietly(stream: AsyncStream[Any]) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()


def _close_soon(stream: AsyncStream[Any], token: EventLoopToken) -> bool:
    """Start closing ``stream`` in its event loop, if this thread runs that loop."""
    try:
        if token.backend_class.__name__ == "TrioBackend":
            import trio

            if trio.lowlevel.current_trio_token() is not token.native_token:
                return False
            trio.lowlevel.spawn_system_task(_close_quietly, stream)
        else:
            if asyncio.get_running_loop() is not token.native_token:
                return False
            task = asyncio.get_running_loop().create_task(_close_quietly(stream))
            _closing.add(task)  # a task nobody references could be collected unfinished
            task.add_done_callback(_closing.discard)
    except RuntimeError:  # no loop of that kind runs in this thread
        return False
    return True
