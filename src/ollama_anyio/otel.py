"""OpenTelemetry instrumentation for ollama-anyio: spans and metrics on the GenAI conventions.

Needs the ``otel`` extra (``pip install 'ollama-anyio[otel]'``)::

    from ollama_anyio.otel import OllamaAnyioInstrumentor

    OllamaAnyioInstrumentor().instrument()  # or (tracer_provider=..., meter_provider=...)

``opentelemetry-instrument python app.py`` finds it through the ``opentelemetry_instrumentor``
entry point. What it records, and under which names: docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Collection
from importlib import metadata
from typing import Any

from ._http import _observe
from ._otel import require_extra

require_extra()  # a clear ImportError before the imports below fail obscurely

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]  # noqa: E402
    BaseInstrumentor,
)

from ._otel._telemetry import Telemetry  # noqa: E402

__all__ = ["OllamaAnyioInstrumentor"]


def _version() -> str:
    try:
        return metadata.version("ollama-anyio")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


class OllamaAnyioInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces and meters every ollama-anyio call, of every client, async and blocking.

    ``instrument(tracer_provider=..., meter_provider=...)`` turns it on (the global providers
    by default), ``uninstrument()`` off; either applies to clients already built. Environment,
    read when instrumenting: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` puts
    message content on spans, ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``
    switches to the newest metric names.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The packages this instrumentation applies to: ollama-anyio itself."""
        return ("ollama-anyio",)

    def _instrument(self, **kwargs: Any) -> None:
        _observe.telemetry = Telemetry(
            kwargs.get("tracer_provider"), kwargs.get("meter_provider"), _version()
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        _observe.telemetry = None
