"""Model management on top of the endpoints: exists, ensure (pull if missing), load, unload.

SPEC 4.3/4.4: a generate request with no prompt loads the model and answers
``done_reason: "load"``; with ``keep_alive`` 0 it unloads it (``"unload"``). ``/api/ps``
lists what is loaded, ``/api/show`` answers 404 for a model the server does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import NotFoundError, RequestError
from ._progress import TransferProgress
from ._requests import check_model
from ._types import GenerateResponse, KeepAlive

if TYPE_CHECKING:
    from ._async_client import AsyncClient

__all__ = ["ensure", "exists", "is_loaded", "load", "same_model", "unload"]

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


async def exists(client: AsyncClient, model: str) -> bool:
    """`AsyncClient.exists`."""
    try:
        await client.show(model)
    except NotFoundError:
        return False
    return True


async def ensure(
    client: AsyncClient,
    model: str,
    *,
    insecure: bool,
    on_progress: Callable[[TransferProgress], object] | None,
) -> bool:
    """`AsyncClient.ensure`."""
    if on_progress is not None and not callable(on_progress):
        raise RequestError(f"on_progress must be callable, got {type(on_progress).__name__}")
    if await exists(client, model):
        return False
    progress = TransferProgress()
    async with await client.pull(model, insecure=insecure, stream=True) as parts:
        async for part in parts:
            progress.feed(part)
            if on_progress is not None:
                on_progress(progress)
    return True


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
