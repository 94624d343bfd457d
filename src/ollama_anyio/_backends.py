"""The event loop backends this package can run, and what to install for trio."""

from __future__ import annotations

import importlib.util

__all__ = ["TRIO_INSTALL", "require_backend"]

# trio is an optional extra (anyio's own convention, ``anyio[trio]``): asyncio needs nothing.
TRIO_INSTALL = "pip install trio (or, from a checkout of ollama-anyio: pip install '.[trio]')"


def require_backend(backend: str) -> None:
    """Check that ``backend``'s library is installed before an event loop is started with it.

    Raises:
        LookupError: ``backend`` is ``"trio"`` and trio is not installed; the message says
            how to install it (anyio's own error does not).
    """
    if backend == "trio" and importlib.util.find_spec("trio") is None:
        raise LookupError(f"Backend 'trio' is not available: trio is not installed; {TRIO_INSTALL}")
