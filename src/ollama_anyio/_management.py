"""Model management on top of the endpoints: exists, ensure (pull if missing), load, unload.

SPEC 4.3/4.4: a generate request with no prompt loads the model and answers
``done_reason: "load"``; with ``keep_alive`` 0 it unloads it (``"unload"``). ``/api/ps``
lists what is loaded.

``exists`` asks ``GET /api/tags`` (SPEC 4.7), the cheapest request that answers it: a few
hundred bytes per stored model, read from the manifests, where ``/api/show`` (404 for a
missing model) makes the server read the model file's metadata and answers with every tensor
(SPEC 4.8). No HEAD form answers for one model (``HEAD /api/tags`` carries no body, ``HEAD
/api/blobs`` needs a digest). Tags list each model in its shortest display form (SPEC 1.10),
which `same_model` compares with. A cloud-routed name (``:cloud``, ``-cloud``) is not stored
locally, so it is asked with ``/api/show``, which the server forwards.
"""

from __future__ import annotations

from collections.abc import Callable

from ._endpoints import AsyncEndpoints
from ._errors import NotFoundError, RequestError
from ._marks import helper
from ._progress import EnsureResult, TransferProgress
from ._requests import check_model
from ._types import GenerateResponse, KeepAlive

__all__ = ["AsyncModels", "same_model"]

_DEFAULT_HOST = "registry.ollama.ai/"
_DEFAULT_NAMESPACE = "library/"


def _canonical(name: str) -> str:
    # The display form /api/tags and /api/ps use (SPEC 1.10): default host and namespace
    # left out, the tag always there; lookups are case-insensitive.
    name = name.strip().lower().removeprefix(_DEFAULT_HOST).removeprefix(_DEFAULT_NAMESPACE)
    name = name.removesuffix(":local")  # forces local: the same stored model
    if ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return name


def _cloud_routed(name: str) -> bool:
    name = name.strip().lower()
    return name.endswith(":cloud") or name.rpartition(":")[2].endswith("-cloud")


def same_model(a: str, b: str) -> bool:
    """Whether two names denote the same model (``llama3.2`` is ``llama3.2:latest``)."""
    return _canonical(a) == _canonical(b)


class AsyncModels:
    """``client.models``: whether a model is there or loaded; pull, load and unload it."""

    def __init__(self, client: AsyncEndpoints) -> None:
        self._client = client

    @helper
    async def exists(self, model: str) -> bool:
        """Whether the server has ``model``: stored, by any form of its name.

        One ``GET /api/tags``, the cheapest request that answers it (``/api/show`` would read
        the model's metadata); a cloud-routed name (``:cloud``) is asked with ``/api/show``.
        """
        check_model(model)
        if _cloud_routed(model):
            try:
                await self._client.show(model)
            except NotFoundError:
                return False
            return True
        stored = (await self._client.list()).models
        return any(same_model(model, m.model or m.name or "") for m in stored)

    @helper
    async def ensure(
        self,
        model: str,
        *,
        insecure: bool = False,
        on_progress: Callable[[TransferProgress], object] | None = None,
    ) -> EnsureResult:
        """Pull ``model`` if the server does not have it; returns what it did.

        An `EnsureResult`: ``pulled`` (true when it pulled, and then the result is truthy),
        and the bytes ``completed`` of ``total``. ``on_progress`` is called with one
        `TransferProgress` after each progress chunk: bytes ``completed`` of ``total`` over
        every layer, a ``fraction`` that never goes backwards and reaches 1.0 only when the
        layers are over, and the ``status`` line. (The blocking client calls it in its own
        thread.)

        Raises:
            ResponseError: the pull failed (e.g. no such model in the registry).
        """
        if on_progress is not None and not callable(on_progress):
            raise RequestError(f"on_progress must be callable, got {type(on_progress).__name__}")
        if await self.exists(model):
            return EnsureResult(model=model, pulled=False)
        progress = TransferProgress()
        async with await self._client.pull(model, insecure=insecure, stream=True) as parts:
            async for part in parts:
                progress.feed(part)
                if on_progress is not None:
                    on_progress(progress)
        return EnsureResult(
            model=model, pulled=True, completed=progress.completed, total=progress.total
        )

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
