"""OpenTelemetry instrumentation on the GenAI semantic conventions (needs the ``otel`` extra).

Imported only by `ollama_anyio.otel` when a user instruments; ``import ollama_anyio`` never
loads it, nor opentelemetry.
"""
