"""Serving a model from an :class:`~._engine.Engine`: its queue, its worker thread, its chunks.

A :class:`Runner` is what Ollama calls a model's runner: as many requests at a time as the
engine has slots (its ``parallel``, 1 unless it says otherwise), the others waiting their turn
on an :class:`anyio.Semaphore` (a waiting request holds no thread), and a 503 "server busy"
once too many wait. The engine's blocking ``generate`` runs in a worker thread
that hands its events to the event loop through a small memory object stream, read in the
connection's own task; when that task stops reading (the client left, the request was
cancelled, the response ended), the stream is closed, ``stop`` is set, and the worker ends at
its next token, before the response's context is left.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Collection,
    Generator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Union

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ._engine import Embedded, Engine, Event, Finish, Job, Token, normalise
from ._faults import BUSY_MESSAGE
from ._names import parse_name
from ._store import ModelStore
from ._wire import (
    ApiError,
    DeferredResponse,
    Response,
    StreamResponse,
    dumps,
    error_response,
    json_response,
    utc_timestamp,
)

__all__ = ["DEFAULT_MAX_QUEUE", "Runner", "answer", "embed_answer", "serve_engines"]

# Events the worker may run ahead of a slow reader; beyond it, the worker waits.
_BUFFER = 16
DEFAULT_MAX_QUEUE = 512  # the server's OLLAMA_MAX_QUEUE default


@dataclass(frozen=True)
class _Failure:
    """The engine raised: its message ends the answer as the server's error."""

    message: str
    status: int = 500


_Item = Union[Event, _Failure]  # noqa: UP007
Aggregate = Callable[[Sequence[dict[str, Any]], bool], dict[str, Any]]


class Runner:
    """One engine serving one model of one emulator.

    Args:
        engine: what answers.
        max_queue: how many requests may wait while the engine's slots are busy; one more is
            answered 503.
    """

    def __init__(self, engine: Engine, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.engine = engine
        self.max_queue = max_queue
        # An engine that answers several requests at once says so (OLLAMA_NUM_PARALLEL).
        self.slots = max(1, int(getattr(engine, "parallel", 1)))
        self._pending = 0  # running and waiting; touched only on the event loop
        self._free: anyio.Semaphore | None = None

    def admit(self) -> None:
        """Refuse a request when the queue is full.

        Raises:
            ApiError: 503 with the server's "server busy" message.
        """
        if self._pending - self.slots >= self.max_queue:
            raise ApiError(503, BUSY_MESSAGE)

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncGenerator[None, None]:
        self._pending += 1
        try:
            if self._free is None:
                # Made on first use: a semaphore belongs to a loop.
                self._free = anyio.Semaphore(self.slots)
            async with self._free:
                yield
        finally:
            self._pending -= 1

    @contextlib.asynccontextmanager
    async def events(self, job: Job) -> AsyncGenerator[AsyncIterator[_Item], None]:
        """Wait for the model, then generate ``job`` in a worker thread while the block reads."""
        async with self._turn():
            send, receive = anyio.create_memory_object_stream[_Item](_BUFFER)
            stop = threading.Event()
            failure: Exception | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._work, job, send, stop)
                with receive:
                    try:
                        yield receive
                    except Exception as exc:
                        # Raised again below, as it was: through the task group it would come
                        # out wrapped in an ExceptionGroup, which the HTTP layer does not expect.
                        failure = exc
                    finally:
                        stop.set()
                # ``receive`` is closed: the worker's next hand-off fails and it returns.
            if failure is not None:
                raise failure

    async def _work(
        self, job: Job, send: MemoryObjectSendStream[_Item], stop: threading.Event
    ) -> None:
        with send:
            try:
                await anyio.to_thread.run_sync(self._produce, job, send, stop)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the reader went away; the worker stopped at its next token

    def _produce(
        self, job: Job, send: MemoryObjectSendStream[_Item], stop: threading.Event
    ) -> None:
        # In the worker thread: the engine's blocking generator, one hand-off per event.
        events = self.engine.generate(job, stop)
        try:
            while not stop.is_set():
                item: _Item
                try:
                    item = next(events)
                except StopIteration:
                    return
                except ApiError as exc:  # a request the engine refuses, with its status
                    item = _Failure(exc.message, exc.status)
                except Exception as exc:  # the engine failed: the client gets why
                    item = _Failure(str(exc) or type(exc).__name__)
                anyio.from_thread.run(send.send, item)
                if isinstance(item, _Failure):
                    return
        finally:
            if isinstance(events, Generator):
                events.close()  # the engine's own cleanup runs here, in the worker

    async def embed(self, texts: Sequence[str], *, truncate: bool, normalize: bool) -> Embedded:
        """The engine's vectors of ``texts``, computed in a worker thread when the model is free."""
        async with self._turn():
            work = functools.partial(
                self.engine.embed, texts, truncate=truncate, normalize=normalize
            )
            return await anyio.to_thread.run_sync(work)


@dataclass
class _Shape:
    """Turns engine events into the server's response objects."""

    sent: str
    chat: bool
    raw: bool
    started: int = field(default_factory=time.monotonic_ns)

    def chunk(self, item: _Item) -> dict[str, Any]:
        if isinstance(item, _Failure):
            return {"error": item.message}
        text = item.text if isinstance(item, Token) else ""
        body: dict[str, Any] = {"model": self.sent, "created_at": utc_timestamp()}
        if self.chat:
            body["message"] = {"role": "assistant", "content": text}
        else:
            body["response"] = text
        body["done"] = isinstance(item, Finish)
        if isinstance(item, Finish):
            body["done_reason"] = item.done_reason
            if not self.chat and not self.raw:
                body["context"] = list(item.context)
            metrics = {
                "total_duration": time.monotonic_ns() - self.started,
                "load_duration": item.load_duration,
                "prompt_eval_count": item.prompt_eval_count,
                "prompt_eval_duration": item.prompt_eval_duration,
                "eval_count": item.eval_count,
                "eval_duration": item.eval_duration,
            }
            body.update((key, value) for key, value in metrics.items() if value)
        return body


class _Lines:
    """The NDJSON lines of a streamed answer (a class: nothing to finalize when left early)."""

    def __init__(self, items: AsyncIterator[_Item], shape: _Shape) -> None:
        self._items = items
        self._shape = shape

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> bytes:
        item = await self._items.__anext__()
        return dumps(self._shape.chunk(item)) + b"\n"


def answer(
    runner: Runner, job: Job, *, sent: str, stream: bool, aggregate: Aggregate
) -> StreamResponse | DeferredResponse:
    """The response to a generate or chat request served by ``runner``.

    Args:
        runner: the model's runner.
        job: the validated request.
        sent: the model name as the client sent it (echoed in every chunk).
        stream: stream the chunks, or answer their aggregation.
        aggregate: folds the chunks into the one non-streamed object.

    Raises:
        ApiError: 503 when the model's queue is full.
    """
    runner.admit()
    shape = _Shape(sent, job.chat, job.raw)

    if stream:

        @contextlib.asynccontextmanager
        async def body() -> AsyncGenerator[AsyncIterator[bytes], None]:
            async with runner.events(job) as items:
                yield _Lines(items, shape)

        return StreamResponse(body)

    async def produce() -> Response:
        chunks: list[dict[str, Any]] = []
        async with runner.events(job) as items:
            async for item in items:
                if isinstance(item, _Failure):
                    return error_response(item.status, item.message)
                chunks.append(shape.chunk(item))
        return json_response(aggregate(chunks, job.chat))

    return DeferredResponse(produce)


def embed_answer(
    runner: Runner,
    texts: Sequence[str],
    *,
    body: Callable[[Embedded, int], dict[str, Any]],
    truncate: bool = True,
    normalize: bool = True,
    dimensions: int = 0,
) -> DeferredResponse:
    """The response to an embed request served by ``runner``.

    Args:
        runner: the model's runner.
        texts: the inputs.
        body: builds the response object from the vectors and the total duration (ns).
        truncate: cut inputs longer than the context instead of failing.
        normalize: unit-length vectors (``/api/embed``).
        dimensions: keep only the first ``dimensions`` values (then normalised again).

    Raises:
        ApiError: 503 when the model's queue is full.
    """
    runner.admit()

    async def produce() -> Response:
        started = time.monotonic_ns()
        try:
            result = await runner.embed(texts, truncate=truncate, normalize=normalize)
        except ApiError as exc:
            return error_response(exc.status, exc.message)
        except Exception as exc:  # the engine failed: the client gets why
            return error_response(500, str(exc) or type(exc).__name__)
        if 0 < dimensions:
            vectors = [
                normalise(v[:dimensions]) if dimensions < len(v) else v for v in result.vectors
            ]
            result = Embedded(vectors, result.prompt_eval_count, result.load_duration)
        return json_response(body(result, time.monotonic_ns() - started))

    return DeferredResponse(produce)


@contextlib.asynccontextmanager
async def serve_engines(
    engines: Mapping[str, Engine],
    store: ModelStore,
    *,
    owned: Collection[Engine] = (),
    max_queue: int = DEFAULT_MAX_QUEUE,
) -> AsyncGenerator[dict[str, Runner], None]:
    """Put each engine's model in ``store`` and give it a runner, for the block.

    Args:
        engines: model name to engine.
        store: the emulator's store; each model's record is added under its name.
        owned: the engines the block closes on exit (the emulator built them).
        max_queue: each runner's queue length.

    Yields:
        The runners by model key.
    """
    runners: dict[str, Runner] = {}
    try:
        for text, engine in engines.items():
            name = parse_name(text)
            if name is None:
                raise ValueError(f"invalid model name {text!r}")
            # Describing may load the model (a fraction of a second): not on the event loop.
            model = await anyio.to_thread.run_sync(engine.describe, name)
            store.add(model)
            runners[name.key] = Runner(engine, max_queue=max_queue)
        yield runners
    finally:
        with anyio.CancelScope(shield=True):
            for engine in owned:
                await anyio.to_thread.run_sync(engine.close)
