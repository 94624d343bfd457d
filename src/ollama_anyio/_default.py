"""The default `Client` behind the module-level functions (``ollama_anyio.chat(...)``).

It is built on the first call, not at import: importing the package starts no thread, opens no
connection and reads no environment variable. It reads ``OLLAMA_HOST`` then. The functions
themselves are generated into ``_generated_functions.py``.

After a ``fork()`` the child keeps the parent's default client, which starts afresh there on
its first call (see `_sync_client._Portal`); the lock that guards building it is made anew in
the child, as another thread of the parent may have held it at the fork.
"""

from __future__ import annotations

import os
import threading

from ._generated_client import Client

__all__ = ["default_client"]

_lock = threading.Lock()
_client: Client | None = None


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=_new_lock_in_child)


def default_client() -> Client:
    """The `Client` the module-level functions use, built on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = Client()
    return _client
