"""Batch work on a task group (``client.batch``): embed any number of texts, chat or generate
over many prompts.

One driver, `run_bounded`, runs ``count`` jobs with at most N in flight: N worker tasks in a
task group owned by the call, each taking the next job index and sending its request under a
`CapacityLimiter` (the caller's own, to bound several batch calls together, or one of N
tokens). Results land at their job's index, so the order is the input's whatever the order of
completion. Each job is one ordinary client call, so the client's retry policy applies to each
batch on its own.

Errors, as the caller chooses:

- ``errors="raise"`` (default): the first failure cancels every other request in flight and the
  call raises it; where several had already failed when the cancellation reached them, an
  ``ExceptionGroup`` of those (only then);
- ``errors="return"``: every job runs; a failed job's exception stands in its results' place,
  one exception object per input (`item_error`: for ``embed``, each input of a failed batch
  gets a copy of the batch's error).

Progress counts inputs handled, failed ones included, so a bar reaches the total whatever
happens to a batch. Results are a `BatchResult`: the list of results, with each request's
answer (its counters and durations) and their sums.

Cancelling the caller cancels the task group, so every request in flight is cancelled (its
response closed at once); nothing started here outlives the call.
"""

from __future__ import annotations

import array
import builtins
import importlib
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

import anyio

from . import _requests
from ._batch_result import BatchResult, item_error
from ._endpoints import AsyncEndpoints
from ._errors import RequestError
from ._http import _observe
from ._marks import helper
from ._types import (
    ChatResponse,
    Format,
    GenerateResponse,
    KeepAlive,
    Message,
    OptionsArg,
    Think,
    ToolLike,
)

__all__ = ["AsyncBatch", "run_bounded"]

R = TypeVar("R")
Progress = Callable[[int, int], object]
Conversation = Sequence[Mapping[str, Any] | Message]

# The builtin from Python 3.11; before, the backport anyio depends on.
_ExceptionGroup: Any = getattr(builtins, "ExceptionGroup", None) or (
    importlib.import_module("exceptiongroup").ExceptionGroup
)


def check_mode(errors: object, concurrency: object) -> tuple[bool, anyio.CapacityLimiter | int]:
    """Whether errors are returned, and the limit; RequestError for a bad one."""
    if errors not in ("raise", "return"):
        raise RequestError(f"errors must be 'raise' or 'return', got {errors!r}")
    if isinstance(concurrency, anyio.CapacityLimiter):
        return errors == "return", concurrency
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise RequestError(
            f"concurrency must be a positive int or a CapacityLimiter, got {concurrency!r}"
        )
    return errors == "return", concurrency


async def run_bounded(
    count: int,
    job: Callable[[int], Awaitable[R]],
    *,
    concurrency: anyio.CapacityLimiter | int,
    return_errors: bool,
    on_done: Callable[[int], None] | None = None,
) -> list[R | Exception]:
    """Run ``job(0)`` ... ``job(count - 1)``, at most ``concurrency`` at a time; results in order.

    ``on_done(index)`` is called as each job ends, succeeded or failed (not when cancelled).
    See the module docstring for errors.
    """
    results: list[R | Exception | None] = [None] * count
    if count == 0:
        return []
    if isinstance(concurrency, anyio.CapacityLimiter):
        limiter = concurrency
        tokens = limiter.total_tokens
        workers = count if math.isinf(tokens) else min(count, max(1, int(tokens)))
    else:
        limiter = anyio.CapacityLimiter(concurrency)
        workers = min(count, concurrency)
    indexes = iter(range(count))  # shared by the workers: one event loop, no lock needed
    failures: list[Exception] = []

    async with anyio.create_task_group() as group:

        async def worker() -> None:
            for index in indexes:
                try:
                    async with limiter:
                        results[index] = await job(index)
                except Exception as exc:
                    if not return_errors:
                        failures.append(exc)
                        group.cancel_scope.cancel()
                        return
                    results[index] = exc
                if on_done is not None:
                    on_done(index)

        for _ in range(workers):
            group.start_soon(worker)
    if failures:
        if len(failures) == 1:
            raise failures[0]
        raise _ExceptionGroup(f"{len(failures)} requests of a batch failed", failures)
    return results  # type: ignore[return-value]  # every slot was filled


def _progress(on_progress: Progress | None, total: int) -> Callable[[int], None] | None:
    if on_progress is None:
        return None
    if not callable(on_progress):
        raise RequestError(f"on_progress must be callable, got {type(on_progress).__name__}")
    done = 0

    def counted(size: int) -> None:
        nonlocal done
        done += size
        on_progress(done, total)

    return counted


async def _traced(operation: str, model: str, count: int, run: Callable[[], Awaitable[R]]) -> R:
    """``run()``, inside the batch's span while instrumented: its calls' spans are children."""
    telemetry = _observe.telemetry
    if telemetry is None:
        return await run()
    with telemetry.batch_span(operation, model, count):
        return await run()


async def _one_call_each(
    count: int,
    call: Callable[[int], Awaitable[R]],
    limit: anyio.CapacityLimiter | int,
    return_errors: bool,
    on_progress: Progress | None,
) -> BatchResult[R | Exception]:
    """`run_bounded` for one call per item, progress counted in items."""
    progress = _progress(on_progress, count)
    answers = await run_bounded(
        count,
        call,
        concurrency=limit,
        return_errors=return_errors,
        on_done=None if progress is None else lambda index: progress(1),
    )
    return BatchResult(answers, answers)


def _items(value: object, what: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RequestError(f"{what} must be a sequence, got {type(value).__name__}")
    return value  # pyright: ignore[reportUnknownVariableType]


class AsyncBatch:
    """``client.batch``: many requests of one kind, at most ``concurrency`` at a time."""

    def __init__(self, client: AsyncEndpoints) -> None:
        self._client = client

    @overload
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        as_arrays: Literal[False] = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[builtins.list[float]]: ...

    @overload
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        as_arrays: Literal[True],
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[array.array[float]]: ...

    @overload
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        as_arrays: Literal[False] = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[builtins.list[float] | Exception]: ...

    @overload
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        as_arrays: Literal[True],
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[array.array[float] | Exception]: ...

    @overload
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        as_arrays: bool = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[Any]: ...

    @helper
    async def embed(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        as_arrays: bool = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> BatchResult[Any]:
        """Embed any number of texts: one vector per input, in input order.

        The inputs are sent ``batch_size`` at a time (one ``embed`` request each), with at
        most ``concurrency`` requests in flight (a number, or an ``anyio.CapacityLimiter``
        shared with other calls). Each batch is retried by the client's policy.
        ``on_progress(done, total)`` is called as batches finish, failed ones included, so
        it reaches the total (inputs done; the blocking client calls it in its own thread).
        ``as_arrays=True``: each vector is an ``array.array("f")``, as for `embed`.

        Returns a `BatchResult`: the list of vectors, with ``answers`` (one `EmbedResponse`
        per batch, with its counters and durations) and ``usage`` (their sums).

        ``errors="raise"``: the first failed batch cancels the others and is raised (an
        ``ExceptionGroup`` only if several failed at once). ``errors="return"``: every batch
        is tried, and each input of a failed batch gets an exception of its own in place of
        a vector (a copy of the batch's error, which is its ``__cause__``).

        Raises:
            RequestError: an argument or input is invalid (nothing was sent).
            ResponseError: a batch failed (with ``errors="raise"``).
        """
        return_errors, limit = check_mode(errors, concurrency)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise RequestError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(input, (str, bytes)) or not isinstance(input, Sequence):
            raise RequestError("input must be a sequence of strings (use embed() for one text)")
        texts: Sequence[str] = input
        # Checked whole, before anything is sent: one bad item would otherwise fail mid-way.
        _requests.embed(
            model,
            list(texts[:1]) or [""],
            truncate=truncate,
            options=options,
            keep_alive=keep_alive,
            dimensions=dimensions,
        )
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise RequestError(f"input[{index}] must be a str, got {type(text).__name__}")
        starts = range(0, len(texts), batch_size)
        progress = _progress(on_progress, len(texts))

        async def one(number: int) -> Any:
            start = starts[number]
            return await self._client.embed(
                model,
                list(texts[start : start + batch_size]),
                truncate=truncate,
                options=options,
                keep_alive=keep_alive,
                dimensions=dimensions,
                as_arrays=as_arrays,
            )

        def done(number: int) -> None:
            if progress is not None:
                progress(min(batch_size, len(texts) - starts[number]))

        batches = await _traced(
            "batch.embed",
            model,
            len(starts),
            lambda: run_bounded(
                len(starts), one, concurrency=limit, return_errors=return_errors, on_done=done
            ),
        )
        vectors: list[Any] = []
        for number, batch in enumerate(batches):
            if isinstance(batch, Exception):
                start = starts[number]
                size = min(batch_size, len(texts) - start)
                vectors += [item_error(batch, start + i) for i in range(size)]
            else:
                vectors += batch.embeddings
        return BatchResult(vectors, batches)

    @overload
    async def chat(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[ChatResponse]: ...

    @overload
    async def chat(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[ChatResponse | Exception]: ...

    @overload
    async def chat(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[ChatResponse] | BatchResult[ChatResponse | Exception]: ...

    @helper
    async def chat(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[ChatResponse] | BatchResult[ChatResponse | Exception]:
        """Answer many conversations, at most ``concurrency`` at a time; answers in order.

        Each conversation is one ``chat`` call with the shared arguments. ``on_progress`` and
        ``errors`` work as for ``batch.embed``, per conversation. Returns a `BatchResult`:
        the answers, with ``usage`` (tokens and durations summed over the answers).

        Raises:
            RequestError: an argument or conversation is invalid (nothing was sent).
            ResponseError: a call failed (with ``errors="raise"``).
        """
        return_errors, limit = check_mode(errors, concurrency)
        items: Sequence[Conversation] = _items(conversations, "conversations")
        shared: dict[str, Any] = dict(
            tools=tools, think=think, format=format, options=options, keep_alive=keep_alive
        )
        for index, messages in enumerate(items):
            if not _requests.needs_io(messages=messages):  # images by path are read when sent
                try:
                    _requests.chat(
                        model,
                        messages,
                        stream=False,
                        logprobs=None,
                        top_logprobs=None,
                        truncate=None,
                        shift=None,
                        **shared,
                    )
                except RequestError as exc:
                    raise RequestError(f"conversations[{index}]: {exc.error}") from None

        async def one(index: int) -> ChatResponse:
            return await self._client.chat(
                model,
                items[index],
                tools=tools,
                think=think,
                format=format,
                options=options,
                keep_alive=keep_alive,
            )

        return await _traced(
            "batch.chat",
            model,
            len(items),
            lambda: _one_call_each(len(items), one, limit, return_errors, on_progress),
        )

    @overload
    async def generate(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[GenerateResponse]: ...

    @overload
    async def generate(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[GenerateResponse | Exception]: ...

    @overload
    async def generate(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[GenerateResponse] | BatchResult[GenerateResponse | Exception]: ...

    @helper
    async def generate(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> BatchResult[GenerateResponse] | BatchResult[GenerateResponse | Exception]:
        """Complete many prompts, at most ``concurrency`` at a time; answers in order.

        Each prompt is one ``generate`` call with the shared arguments. ``on_progress`` and
        ``errors`` work as for ``batch.embed``, per prompt.

        Raises:
            RequestError: an argument or prompt is invalid (nothing was sent).
            ResponseError: a call failed (with ``errors="raise"``).
        """
        return_errors, limit = check_mode(errors, concurrency)
        items: Sequence[str] = _items(prompts, "prompts")
        shared: dict[str, Any] = dict(
            system=system, think=think, format=format, options=options, keep_alive=keep_alive
        )
        for index, prompt in enumerate(items):
            if not isinstance(prompt, str):
                raise RequestError(f"prompts[{index}] must be a str, got {type(prompt).__name__}")
        _requests.generate(
            model,
            items[0] if items else "",
            None,
            template=None,
            context=None,
            stream=False,
            logprobs=None,
            top_logprobs=None,
            raw=None,
            images=None,
            truncate=None,
            shift=None,
            width=None,
            height=None,
            steps=None,
            **shared,
        )

        async def one(index: int) -> GenerateResponse:
            return await self._client.generate(
                model,
                items[index],
                system=system,
                think=think,
                format=format,
                options=options,
                keep_alive=keep_alive,
            )

        return await _traced(
            "batch.generate",
            model,
            len(items),
            lambda: _one_call_each(len(items), one, limit, return_errors, on_progress),
        )
