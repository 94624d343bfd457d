"""`AsyncStream`: the chunks of one streamed response, read in the consumer's own task.

The HTTP request is sent when the stream is first entered or iterated, not before, so a stream
that is never used holds nothing. The response is closed when the stream ends, when the server
reports an error, when the consumer's task is cancelled, when a read fails, and when the
consumer leaves ``async with`` or calls ``aclose()`` early. A plain ``async for`` loop that
``break``s cannot be noticed by the stream (Python gives it no signal): use ``async with``; a
stream dropped that way is closed when it is collected, at once on our transport (a plain
socket close, no task), else with a `ResourceWarning`.

Every chunk is fed to an `Accumulator` as it is decoded, so ``collect()`` and ``final`` give the
whole answer however the stream was read; its memory is bounded by ``max_body_size``, the bound
of the same answer unstreamed.

Bounds: the read timeout bounds the wait between two complete lines (not each socket read, so
a server trickling bytes without finishing a line cannot hold the stream), and a line longer
than ``max_line_size`` is a `ProtocolError` once that much has been buffered.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from ._accumulate import Accumulator, AsyncTap, chunk_of, content_of, thinking_of
from ._errors import IncompleteStreamError, OllamaError, OllamaTimeoutError, translate_errors
from ._http._direct_sender import Reply
from ._http._observe import last_request_id
from ._ndjson import NDJSONDecoder
from ._types import ChatResponse, GenerateResponse

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

    # The call's span while instrumented (`_otel.StreamWatch`): fed the chunks and the end.
    _watch: Any = None

    def __init__(
        self,
        start: Callable[[], Awaitable[Reply]],
        item_type: type[T],
        is_final: Callable[[T], bool],
        url: str,
        *,
        read_timeout: float | None = None,
        max_line_size: int | None = None,
        max_accumulated: int | None = None,
        watch: Any = None,
        owner: object = None,
    ) -> None:
        self._send = start
        self._watch = watch
        # The client, held until the stream ends or is closed, so that a stream of a client
        # nobody else holds (``await AsyncClient().chat(..., stream=True)``) keeps its pool.
        self._owner = owner
        self._type = item_type
        self._is_final = is_final
        self._url = url
        self._read_timeout = read_timeout
        self._max_line_size = max_line_size
        self._response: Reply | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._decoder: NDJSONDecoder[T] | None = None
        self._buffer: deque[T] = deque()
        self._finished = False  # the final chunk was seen
        self._eof = False  # the response has ended
        self._request_id: str | None = None
        self._closed = False
        self._reply: Reply | None = None  # kept after closing, for its status and headers
        # Fed every batch from the first, whatever reads the stream (a plain loop included):
        # one list extend per batch; the fold is paid only by whoever asks for the whole.
        self._accumulator: Accumulator[T] = Accumulator(
            last_only=item_type not in (ChatResponse, GenerateResponse)
        )
        self._max_accumulated = max_accumulated
        self._received = 0  # body bytes read, against max_accumulated

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
            if self._read_timeout is None:
                batch = await self._next_lines()
            else:
                try:
                    with anyio.fail_after(self._read_timeout):
                        batch = await self._next_lines()
                except TimeoutError as exc:
                    if isinstance(exc, OllamaError):
                        raise
                    raise OllamaTimeoutError(
                        f"read timeout talking to {self._url}: no complete line of the stream "
                        f"within {self._read_timeout:g} s"
                    ) from None
        except BaseException as exc:
            if isinstance(exc, OllamaError) and exc.request_id is None:
                exc.request_id = self._request_id  # an error line, an incomplete stream
            if self._watch is not None:
                self._watch.failed(exc)
            await self.aclose()
            raise
        if self._watch is not None:
            self._watch.chunks(batch)
        if self._eof:
            await self.aclose()
        return batch

    async def _next_lines(self) -> list[T]:
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
                self._eof = True  # closed by next_batch, once the watch has seen the batch
                return batch
            limit = self._max_accumulated
            if limit is not None:
                self._received += len(chunk)
                if self._received > limit:
                    self._max_accumulated = None
                    self._accumulator.drop(
                        f"the stream from {self._url} carried more than max_body_size "
                        f"({limit} bytes), so its whole answer was not kept: read it chunk "
                        "by chunk, or raise max_body_size"
                    )
            batch = self._decoder.feed(chunk)
            if batch:
                self._check_final(batch)
                return batch

    def _check_final(self, batch: list[T]) -> None:
        if batch and self._is_final(batch[-1]):
            self._finished = True
        self._accumulator.extend(batch, final=self._finished)

    async def _start(self) -> None:
        if self._watch is not None:
            with self._watch.current():  # the request's traceparent names the call's span
                response = await self._send()
        else:
            response = await self._send()
        self._request_id = last_request_id.get()  # set by the send loop, in this task
        self._response = self._reply = response
        self._decoder = NDJSONDecoder(
            self._type, response.status_code, max_line_size=self._max_line_size
        )
        self._chunks = response.pieces()

    async def aclose(self) -> None:
        """Close the response (at once, also in a cancelled task). Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._owner = None
        if self._watch is not None:
            self._end_watch()
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

    def _end_watch(self) -> None:
        # Ended by its final chunk, or closed before it; a no-op if it failed first (or if
        # the call is not traced). The blocking Stream calls it when its reader stops.
        if self._watch is None:
            return
        if self._finished:
            self._watch.finished()
        else:
            self._watch.closed()

    # Accumulation: the stream feeds its accumulator itself (`_check_final`); these read the
    # stream in the caller's task, like ``async for``, and pick from it.

    async def collect(self) -> T:
        """Read the stream to its end and return the answer ``stream=False`` would have given.

        Text and thinking are concatenated, tool calls and logprobs gathered in order, and the
        other fields (metrics, ``done_reason``) come from the final chunk; a pull, push or
        create stream gives its last event. Every chunk counts, also those a loop read
        before: the stream accumulates from its first chunk.

        Raises:
            IncompleteStreamError: the stream was closed before its final chunk.
            ProtocolError: the answer passed ``max_body_size`` (it was not kept whole).
        """
        async for _ in self:
            pass
        return self.final

    def accumulate(self) -> AsyncTap[T, T]:
        """Iterate the chunks (as ``async for`` does); `final` holds the answer after the loop."""
        return AsyncTap(self, chunk_of)

    def text(self) -> AsyncTap[T, str]:
        """Iterate the answer's text pieces (non-empty ``message.content`` / ``response``).

        The whole answer, thinking and tool calls included, is in `final` after the loop.
        """
        return AsyncTap(self, content_of)

    def thinking(self) -> AsyncTap[T, str]:
        """Iterate the reasoning pieces (non-empty ``thinking``); then read `final`."""
        return AsyncTap(self, thinking_of)

    @property
    def final(self) -> T:
        """The whole answer, once the stream has delivered its final chunk.

        However it was read: ``async for``, `text`, `thinking`, `accumulate` or `collect`.

        Raises:
            IncompleteStreamError: the final chunk has not arrived (not read that far yet, or
                the stream was closed before it).
            ProtocolError: the answer passed ``max_body_size`` (it was not kept whole).
        """
        return self._accumulator.result()

    def __del__(self) -> None:
        # Dropped half-read: after a plain ``async for`` left by ``break``, which gives the
        # stream no other signal. On our transport the socket is closed here and now (a plain
        # close: no task, nothing outlives the caller, and it works after the loop has ended);
        # where only an await can close it (httpx's transport), the caller is told.
        if self._watch is not None and not self._closed:
            self._end_watch()
        response = self._response
        if self._closed or response is None:
            return
        self._closed = True
        try:
            closed = response.close_now()
        except Exception:  # pragma: no cover - a finalizer must not raise
            closed = False
        if not closed:
            warnings.warn(
                f"an ollama-anyio stream from {self._url} was not closed: use 'async with' "
                "around it, or read it to the end",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )
