"""Folding a stream's chunks into the answer ``stream=False`` would have given (SPEC §1.5).

The server aggregates a non-streamed generate/chat answer from the same chunks: the text fields
(``response``, ``thinking``, ``message.content``, ``message.thinking``) concatenated, ``logprobs``
concatenated, tool calls gathered in order from every chunk, and every other field (metrics,
``done_reason``, ``context``, ``created_at``) from the final chunk. A chunk is final when it
has ``done`` true or a non-empty ``done_reason`` (SPEC §9.2). Progress streams (pull, push,
create) aggregate to their last event.

`Accumulator` is pure. Every stream feeds one from its first chunk (in ``next_batch``, so the
blocking `Stream` shares it), whichever way the stream is read: a plain loop, ``text()``, or
``collect()`` after a partial loop all see the whole answer, never a part of it. It keeps the
chunks (one list extend per batch) and folds them only when the whole is asked for. Its memory
is bounded like a whole answer's: once the stream has carried more than ``max_body_size``
bytes, the chunks are let go and asking for the whole raises `ProtocolError`; the stream
itself reads on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, cast

import msgspec

from ._errors import IncompleteStreamError, ProtocolError
from ._types import ABSENT, ChatResponse, GenerateResponse, Logprob, ToolCall

__all__ = [
    "Accumulator",
    "AsyncTap",
    "Tap",
    "chunk_of",
    "content_of",
    "is_final",
    "thinking_of",
]

T = TypeVar("T")


def is_final(chunk: ChatResponse | GenerateResponse) -> bool:
    """Whether ``chunk`` ends a generate/chat stream: ``done``, or a ``done_reason``."""
    return chunk.done or bool(chunk.done_reason)


def content_of(chunk: object) -> str:
    """The answer text a chat or generate chunk carries."""
    if isinstance(chunk, ChatResponse):
        return chunk.message.content
    if isinstance(chunk, GenerateResponse):
        return chunk.response or ""
    raise TypeError(f"a stream of {type(chunk).__name__} carries no text")


def thinking_of(chunk: object) -> str:
    """The reasoning text a chat or generate chunk carries."""
    if isinstance(chunk, ChatResponse):
        return chunk.message.thinking or ""
    if isinstance(chunk, GenerateResponse):
        return chunk.thinking or ""
    raise TypeError(f"a stream of {type(chunk).__name__} carries no thinking")


class Accumulator(Generic[T]):
    """Chunks in (`feed`, or a stream's `extend`), the aggregated answer out (`result`).

    The chunks are kept as they come (a stream's batch costs one list extend) and folded only
    when `result` is asked for, so a loop that never asks pays next to nothing per chunk.

    Args:
        last_only: keep only the latest chunk (a progress stream, whose answer is its last
            event).
    """

    __slots__ = ("_chunks", "_dropped", "_final", "_last_only")

    def __init__(self, *, last_only: bool = False) -> None:
        self._chunks: list[T] = []
        self._final: T | None = None
        self._last_only = last_only
        self._dropped: str | None = None  # why the chunks were let go, if they were

    @property
    def done(self) -> bool:
        """Whether the final chunk was fed."""
        return self._final is not None

    def feed(self, chunk: T) -> None:
        """Take one chunk, in stream order."""
        self.extend([chunk], final=_ends(chunk))

    def extend(self, chunks: list[T], *, final: bool) -> None:
        """Take a batch of chunks, in stream order; ``final``: its last one ends the stream."""
        if not chunks:
            return
        if self._last_only:
            self._chunks = chunks[-1:]
        elif self._dropped is None:
            self._chunks += chunks
        if final and self._final is None:
            self._final = chunks[-1]

    def drop(self, why: str) -> None:
        """Let go of the chunks kept so far and of those to come (a bound was passed)."""
        if not self._last_only:
            self._dropped = why
            self._chunks = []

    def result(self) -> T:
        """The aggregated answer.

        Raises:
            IncompleteStreamError: the final chunk has not been fed.
            ProtocolError: the chunks were let go (`drop`: the answer passed a bound).
        """
        final = self._final
        if final is None:
            raise IncompleteStreamError("the stream has not delivered its final chunk")
        if self._dropped is not None:
            raise ProtocolError(self._dropped)
        if isinstance(final, ChatResponse):
            return cast(T, _fold_chat(cast("list[ChatResponse]", self._chunks), final))
        if isinstance(final, GenerateResponse):
            return cast(T, _fold_generate(cast("list[GenerateResponse]", self._chunks), final))
        return final


def _ends(chunk: object) -> bool:
    if isinstance(chunk, (ChatResponse, GenerateResponse)):
        return is_final(chunk)
    return getattr(chunk, "status", None) == "success"


def _gathered(parts: list[Any]) -> Any:
    # Nothing gathered: the field stays absent, as in an answer whose payload leaves it out
    # (it reads None, and ``"thinking" in answer`` is false, as with the server's own).
    return parts or ABSENT


def _fold_chat(chunks: list[ChatResponse], final: ChatResponse) -> ChatResponse:
    content: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    logprobs: list[Logprob] = []
    for chunk in chunks:
        message = chunk.message
        content.append(message.content)
        if message.thinking:
            thinking.append(message.thinking)
        if message.tool_calls:
            calls += message.tool_calls
        if chunk.logprobs:
            logprobs += chunk.logprobs
        if chunk is final:
            break
    # Message is a request type too, whose fields default to None rather than absent.
    message = msgspec.structs.replace(
        final.message,
        content="".join(content),
        thinking="".join(thinking) or None,
        tool_calls=calls or None,
    )
    return msgspec.structs.replace(final, message=message, logprobs=_gathered(logprobs))


def _fold_generate(chunks: list[GenerateResponse], final: GenerateResponse) -> GenerateResponse:
    content: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    logprobs: list[Logprob] = []
    for chunk in chunks:
        content.append(chunk.response or "")
        if chunk.thinking:
            thinking.append(chunk.thinking)
        if chunk.tool_calls:
            calls += chunk.tool_calls
        if chunk.logprobs:
            logprobs += chunk.logprobs
        if chunk is final:
            break
    return msgspec.structs.replace(
        final,
        response="".join(content),
        thinking="".join(thinking) or ABSENT,
        tool_calls=_gathered(calls),
        logprobs=_gathered(logprobs),
    )


R = TypeVar("R")


def chunk_of(chunk: T) -> T:
    """The chunk itself (what `accumulate()` yields)."""
    return chunk


class Tap(Generic[T, R]):
    """Iterates a blocking stream, yielding ``pick(chunk)`` where it is not empty.

    The chunk itself, its text, or its thinking. The stream accumulates on its own.
    """

    __slots__ = ("_chunks", "_pick")

    def __init__(self, chunks: Iterator[T], pick: Callable[[T], R]) -> None:
        self._chunks = chunks
        self._pick = pick

    def __iter__(self) -> Tap[T, R]:
        return self

    def __next__(self) -> R:
        while True:
            picked = self._pick(next(self._chunks))
            if picked:
                return picked


class AsyncTap(Generic[T, R]):
    """`Tap` for an async stream."""

    __slots__ = ("_chunks", "_pick")

    def __init__(self, chunks: AsyncIterator[T], pick: Callable[[T], R]) -> None:
        self._chunks = chunks
        self._pick = pick

    def __aiter__(self) -> AsyncTap[T, R]:
        return self

    async def __anext__(self) -> R:
        while True:
            picked = self._pick(await self._chunks.__anext__())
            if picked:
                return picked
