"""Model management on top of the endpoints (``client.models``): exists, ensure, load, unload.

SPEC 4.3/4.4: a generate request with no prompt loads the model and answers
``done_reason: "load"``; with ``keep_alive`` 0 it unloads it (``"unload"``). ``/api/ps``
lists what is loaded, ``/api/show`` answers 404 for a model the server does not have.
"""

from __future__ import annotations

from collections.abc import Callable

from ._endpoints import AsyncEndpoints
from ._errors import NotFoundError, RequestError
from ._marks import helper
from ._progress import TransferProgress
from ._requests import check_model
from ._types import GenerateResponse, KeepAlive

__all__ = ["AsyncModels", "same_model"]

_DEFAULT_REGISTRY = "registry.ollama.ai/library/"


def _canonical(name: str) -> str:
    name = name.strip().lower()
    if name.startswith(_DEFAULT_REGISTRY):
        name = name[len(_DEFAULT_REGISTRY) :]
    if ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return name


def same_model(a: str, b: str) -> bool:
    """Whether two names denote the same model (``llama3.2`` is ``llama3.2:latest``)."""
    return _canonical(a) == _canonical(b)


class AsyncModels:
    """``client.models``: whether a model is there or loaded; pull, load and unload it."""

    def __init__(self, client: AsyncEndpoints) -> None:
        self._client = client

    @helper
    async def exists(self, model: str) -> bool:
        """Whether the server has ``model`` (``POST /api/show`` answers, rather than 404)."""
        try:
            await self._client.show(model)
        except NotFoundError:
            return False
        return True

    @helper
    async def ensure(
        self,
        model: str,
        *,
        insecure: bool = False,
        on_progress: Callable[[TransferProgress], object] | None = None,
    ) -> bool:
        """Pull ``model`` if the server does not have it; returns whether it was pulled.

        ``on_progress`` is called with one `TransferProgress` after each progress chunk: bytes
        ``completed`` of ``total`` over every layer, a ``fraction`` that never goes backwards,
        and the ``status`` line. (The blocking client calls it in its own thread.)

        Raises:
            ResponseError: the pull failed (e.g. no such model in the registry).
        """
        if on_progress is not None and not callable(on_progress):
            raise RequestError(f"on_progress must be callable, got {type(on_progress).__name__}")
        if await self.exists(model):
            return False
        progress = TransferProgress()
        async with await self._client.pull(model, insecure=insecure, stream=True) as parts:
            async for part in parts:
                progress.feed(part)
                if on_progress is not None:
                    on_progress(progress)
        return True

    @helper
    async def is_loaded(self, model: str) -> bool:
        """Whether ``model`` is loaded in memory (listed by ``GET /api/ps``)."""
        check_model(model)
        loaded = (await self._client.ps()).models
        return any(same_model(model, m.model or m.name or "") for m in loaded)

    @helper
    async def load(self, model: str, *, keep_alive: KeepAlive | None = None) -> GenerateResponse:
        """Load ``model`` into memory, to stay ``keep_alive`` (e.g. ``"1h"``, ``-1``: forever).

        A generate request without a prompt (SPEC 4.3); the answer's ``done_reason`` is
        ``"load"``. For a generative model: an embedding model loads on its first embed.
        """
        return await self._client.generate(model, keep_alive=keep_alive)

    @helper
    async def unload(self, model: str) -> GenerateResponse:
        """Unload ``model`` from memory now (``keep_alive=0``; ``done_reason`` ``"unload"``)."""
        return await self._client.generate(model, keep_alive=0)
