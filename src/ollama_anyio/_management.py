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
from typing import TYPE_CHECKING

from ._errors import RequestError
from ._progress import EnsureResult, TransferProgress
from ._requests import check_model
from ._status_errors import NotFoundError
from ._types import GenerateResponse, KeepAlive

if TYPE_CHECKING:
    from ._async_client import AsyncClient

__all__ = ["ensure", "exists", "is_loaded", "load", "same_model", "unload"]

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


async def exists(client: AsyncClient, model: str) -> bool:
    """Whether the server has ``model`` (see the module docstring for how it asks)."""
    check_model(model)
    if _cloud_routed(model):
        try:
            await client.show(model)
        except NotFoundError:
            return False
        return True
    stored = (await client.list()).models
    return any(same_model(model, m.model or m.name or "") for m in stored)


async def ensure(
    client: AsyncClient,
    model: str,
    *,
    insecure: bool,
    on_progress: Callable[[TransferProgress], object] | None,
) -> EnsureResult:
    """Pull ``model`` unless the server has it; says which it did."""
    if on_progress is not None and not callable(on_progress):
        raise RequestError(f"on_progress must be callable, got {type(on_progress).__name__}")
    if await exists(client, model):
        return EnsureResult(model=model, pulled=False)
    progress = TransferProgress()
    async with await client.pull(model, insecure=insecure, stream=True) as parts:
        async for part in parts:
            progress.feed(part)
            if on_progress is not None:
                on_progress(progress)
    return EnsureResult(
        model=model, pulled=True, completed=progress.completed, total=progress.total
    )


async def is_loaded(client: AsyncClient, model: str) -> bool:
    """`AsyncClient.is_loaded`."""
    check_model(model)
    loaded = (await client.ps()).models
    return any(same_model(model, m.model or m.name or "") for m in loaded)


async def load(client: AsyncClient, model: str, keep_alive: KeepAlive | None) -> GenerateResponse:
    """`AsyncClient.load`."""
    return await client.generate(model, keep_alive=keep_alive)


async def unload(client: AsyncClient, model: str) -> GenerateResponse:
    """`AsyncClient.unload`."""
    return await client.generate(model, keep_alive=0)
