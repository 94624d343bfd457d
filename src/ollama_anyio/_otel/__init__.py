"""OpenTelemetry instrumentation on the GenAI semantic conventions (needs the ``otel`` extra).

Imported only by `ollama_anyio.otel` when a user instruments; ``import ollama_anyio`` never
loads it, nor opentelemetry.
"""

from __future__ import annotations

import importlib.util

__all__ = ["require_extra"]


def require_extra() -> None:
    """Raise an ImportError that names the ``otel`` extra if its packages are missing."""
    try:
        found = importlib.util.find_spec("opentelemetry.instrumentation.instrumentor")
    except ModuleNotFoundError:  # pragma: no cover - the extra is installed in the tests
        found = None
    if found is None:  # pragma: no cover
        raise ImportError(
            "ollama_anyio.otel needs the otel extra: pip install 'ollama-anyio[otel]'"
        )
