"""The module-level functions (``ollama_anyio.chat(...)``) and the default `Client` behind them.

The default client is built on the first call, not at import: importing the package starts no
thread, opens no connection and reads no environment variable. It reads ``OLLAMA_HOST`` then.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from ._sync_client import Client

__all__ = [
    "chat",
    "copy",
    "create",
    "create_blob",
    "delete",
    "embed",
    "embeddings",
    "generate",
    "list",
    "ps",
    "pull",
    "push",
    "show",
    "systemone",
    "web_fetch",
    "web_search",
]

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_client: Client | None = None


def default_client() -> Client:
    """The `Client` the module-level functions use, built on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = Client()
    return _client


def _on_default_client(method: Callable[Concatenate[Client, P], R]) -> Callable[P, R]:
    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(default_client(), *args, **kwargs)

    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=tuple(signature.parameters.values())[1:]
    )
    call.__module__ = "ollama_anyio"
    call.__qualname__ = method.__name__
    return call


generate = _on_default_client(Client.generate)
chat = _on_default_client(Client.chat)
embed = _on_default_client(Client.embed)
embeddings = _on_default_client(Client.embeddings)
pull = _on_default_client(Client.pull)
push = _on_default_client(Client.push)
create = _on_default_client(Client.create)
create_blob = _on_default_client(Client.create_blob)
list = _on_default_client(Client.list)
show = _on_default_client(Client.show)
ps = _on_default_client(Client.ps)
copy = _on_default_client(Client.copy)
delete = _on_default_client(Client.delete)
web_search = _on_default_client(Client.web_search)
web_fetch = _on_default_client(Client.web_fetch)
systemone = _on_default_client(Client.systemone)
