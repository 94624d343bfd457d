"""Slots: how many requests a model answers at once, and how long each one takes.

An Ollama server answers a model's requests in a fixed number of parallel slots
(``OLLAMA_NUM_PARALLEL``; an embedding model always gets one) and queues the rest, up to
``OLLAMA_MAX_QUEUE`` (then 503 "server busy"). :class:`Slots` gives the emulator the same shape,
plus a fixed service time per request, so a bulk client meets a server whose throughput is
bounded the way a real one's is: by slots and time, not by the emulator's CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

import anyio

from ._faults import BUSY_MESSAGE
from ._names import ModelName, parse_name
from ._store import ModelStore
from ._wire import ApiError

__all__ = ["INFERENCE_PATHS", "Slots"]

INFERENCE_PATHS = frozenset({"/api/generate", "/api/chat", "/api/embed", "/api/embeddings"})


class Slots:
    """Per-model slots and a service time for inference requests.

    Args:
        store: the emulator's models, to tell an embedding model and to resolve names.
        service_time: seconds each inference request holds its slot before it is answered.
        num_parallel: slots of a generation model; ``None``: no limit (requests never wait).
        slots: slots by model name, overriding the defaults (``{"all-minilm": 2}``).
        max_queue: requests that may wait for a model's slot; one more is answered 503.

    An embedding model gets one slot once ``num_parallel`` is given, as Ollama loads it.
    """

    def __init__(
        self,
        store: ModelStore,
        *,
        service_time: float = 0.0,
        num_parallel: int | None = None,
        slots: Mapping[str, int] | None = None,
        max_queue: int = 512,
    ) -> None:
        if not isinstance(service_time, (int, float)) or not service_time >= 0:
            raise ValueError(f"service_time must be 0 or more seconds, got {service_time!r}")
        if num_parallel is not None and (not isinstance(num_parallel, int) or num_parallel < 1):
            raise ValueError(f"num_parallel must be 1 or more, got {num_parallel!r}")
        self._overrides: dict[str, int] = {}
        for text, count in (slots or {}).items():
            name = parse_name(text)
            if name is None or not isinstance(count, int) or count < 1:
                raise ValueError(f"slots needs model names and counts of 1 or more: {text!r}")
            self._overrides[name.key] = count
        self._store = store
        self.service_time = float(service_time)
        self._num_parallel = num_parallel
        self._max_queue = max_queue
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._waiting: dict[str, int] = {}
        self.peaks: dict[str, int] = {}  # by the name as /api/tags shows it

    @property
    def active(self) -> bool:
        """Whether requests wait for anything at all (else the emulator skips this step)."""
        return self.service_time > 0 or self._num_parallel is not None or bool(self._overrides)

    def count(self, key: str, embedding: bool) -> int | None:
        """The slots of the model ``key`` (``None``: unlimited)."""
        if key in self._overrides:
            return self._overrides[key]
        if self._num_parallel is None:
            return None
        return 1 if embedding else self._num_parallel

    def _limiter(self, body: Any) -> tuple[ModelName, anyio.CapacityLimiter | None] | None:
        text: Any = cast("dict[str, Any]", body).get("model") if isinstance(body, dict) else None
        name = parse_name(text) if isinstance(text, str) else None
        model = self._store.get(name) if name is not None else None
        if model is None or name is None:
            return None  # the handler answers 404 or 400 at once, as Ollama does
        count = self.count(name.key, "embedding" in model.capabilities)
        if count is None:
            return name, None
        limiter = self._limiters.get(name.key)
        if limiter is None:
            limiter = self._limiters[name.key] = anyio.CapacityLimiter(count)
        return name, limiter

    @contextlib.asynccontextmanager
    async def hold(self, body: Any) -> AsyncGenerator[None, None]:
        """Wait for a slot of the request's model, keep it for the service time and the body.

        Raises:
            ApiError: 503 "server busy" when ``max_queue`` requests already wait.
        """
        found = self._limiter(body)
        if found is None:
            yield
            return
        name, limiter = found
        key = name.key
        if limiter is None:
            await anyio.sleep(self.service_time)
            yield
            return
        borrower = object()  # one per request: a client may hold several slots at once
        try:
            limiter.acquire_on_behalf_of_nowait(borrower)
        except anyio.WouldBlock:
            if self._waiting.get(key, 0) >= self._max_queue:
                raise ApiError(503, BUSY_MESSAGE) from None
            self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                await limiter.acquire_on_behalf_of(borrower)
            finally:
                self._waiting[key] -= 1
        try:
            busy = int(limiter.borrowed_tokens)
            self.peaks[name.display] = max(self.peaks.get(name.display, 0), busy)
            await anyio.sleep(self.service_time)
            yield
        finally:
            limiter.release_on_behalf_of(borrower)
