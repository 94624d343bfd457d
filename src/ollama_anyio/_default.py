"""The default `Client` behind the module-level functions (``ollama_anyio.chat(...)``).

It is built on the first call, not at import: importing the package starts no thread, opens no
connection and reads no environment variable. It reads ``OLLAMA_HOST`` then. The functions
themselves are generated into ``_generated_functions.py``.
"""

from __future__ import annotations

import threading

from ._generated_client import Client

__all__ = ["default_client"]

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
