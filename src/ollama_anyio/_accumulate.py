"""Folding a stream's chunks into the answer ``stream=False`` would have given (SPEC §1.5).

The server aggregates a non-streamed generate/chat answer from the same chunks: the text fields
(``response``, ``thinking``, ``message.content``, ``message.thinking``) concatenated, ``logprobs``
concatenated, tool calls gathered in order from every chunk, and every other field (metrics,
``done_reason``, ``context``, ``created_at``) from the final chunk. A chunk is final when it
has ``done`` true or a non-empty ``done_reason`` (SPEC §9.2). Progress streams (pull, push,
create) aggregate to their last event.

`Accumulator` is pure and fed chunk by chunk; the stream classes only call it, and only when
asked to (``collect()``, ``text()``, ``accumulate()``), so a plain loop pays nothing for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, cast

import msgspec

from ._errors import IncompleteStreamError
from ._types import ABSENT, ChatResponse, GenerateResponse, Logprob, ToolCall

__all__ = [
    "Accumulator",
    "AsyncTap",
    "Tap",
    "chunk_of",
    "content_of",
    "final_of",
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
    """Chunks in (`feed`), the aggregated answer out (`result`)."""

    __slots__ = ("_calls", "_content", "_final", "_last", "_logprobs", "_thinking")

    def __init__(self) -> None:
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._calls: list[ToolCall] = []
        self._logprobs: list[Logprob] = []
        self._final: T | None = None
        self._last: T | None = None

    @property
    def done(self) -> bool:
        """Whether the final chunk was fed."""
        return self._final is not None

    def feed(self, chunk: T) -> None:
        """Take one chunk, in stream order."""
        self._last = chunk
        part: ChatResponse | GenerateResponse
        if isinstance(chunk, ChatResponse):
            part = chunk
            message = chunk.message
            self._content.append(message.content)
            thinking, calls = message.thinking, message.tool_calls
        elif isinstance(chunk, GenerateResponse):
            part = chunk
            self._content.append(chunk.response or "")
            thinking, calls = chunk.thinking, chunk.tool_calls
        else:  # a progress event: the last one, "success", is the answer
            if getattr(chunk, "status", None) == "success":
                self._final = chunk
            return
        if thinking:
            self._thinking.append(thinking)
        if calls:
            self._calls.extend(calls)
        if part.logprobs:
            self._logprobs.extend(part.logprobs)
        if self._final is None and is_final(part):
            self._final = chunk

    def result(self) -> T:
        """The aggregated answer.

        Raises:
            IncompleteStreamError: the final chunk has not been fed.
        """
        final = self._final
        if final is None:
            raise IncompleteStreamError("the stream has not delivered its final chunk yet")
        # Nothing gathered: the field stays absent, as in an answer whose payload leaves it out
        # (it reads None, and ``"thinking" in answer`` is false, as with the server's own).
        # Message is a request type too, whose fields default to None rather than absent.
        logprobs = self._logprobs or ABSENT
        thinking = "".join(self._thinking) or ABSENT
        calls = self._calls or ABSENT
        content = "".join(self._content)
        if isinstance(final, ChatResponse):
            message = msgspec.structs.replace(
                final.message, content=content, thinking=thinking or None, tool_calls=calls or None
            )
            return cast(T, msgspec.structs.replace(final, message=message, logprobs=logprobs))
        if isinstance(final, GenerateResponse):
            changes: dict[str, Any] = {"response": content, "thinking": thinking}
            changes.update(tool_calls=calls, logprobs=logprobs)
            return cast(T, msgspec.structs.replace(final, **changes))
        return final


R = TypeVar("R")


def chunk_of(chunk: T) -> T:
    """The chunk itself (what `accumulate()` yields)."""
    return chunk


class Tap(Generic[T, R]):
    """Iterates a blocking stream, feeding every chunk to an accumulator on the way.

    Yields ``pick(chunk)`` for each chunk where it is not empty (the chunk itself, its text,
    or its thinking).
    """

    __slots__ = ("_accumulator", "_chunks", "_pick")

    def __init__(
        self, chunks: Iterator[T], accumulator: Accumulator[T], pick: Callable[[T], R]
    ) -> None:
        self._chunks = chunks
        self._accumulator = accumulator
        self._pick = pick

    def __iter__(self) -> Tap[T, R]:
        return self

    def __next__(self) -> R:
        while True:
            chunk = next(self._chunks)
            self._accumulator.feed(chunk)
            picked = self._pick(chunk)
            if picked:
                return picked


class AsyncTap(Generic[T, R]):
    """`Tap` for an async stream."""

    __slots__ = ("_accumulator", "_chunks", "_pick")

    def __init__(
        self, chunks: AsyncIterator[T], accumulator: Accumulator[T], pick: Callable[[T], R]
    ) -> None:
        self._chunks = chunks
        self._accumulator = accumulator
        self._pick = pick

    def __aiter__(self) -> AsyncTap[T, R]:
        return self

    async def __anext__(self) -> R:
        while True:
            chunk = await self._chunks.__anext__()
            self._accumulator.feed(chunk)
            picked = self._pick(chunk)
            if picked:
                return picked


def final_of(accumulator: Accumulator[T] | None) -> T:
    """The `final` property of both stream classes."""
    if accumulator is None:
        raise RuntimeError(
            "nothing was accumulated: read the stream through collect(), text(), thinking() "
            "or accumulate()"
        )
    return accumulator.result()
