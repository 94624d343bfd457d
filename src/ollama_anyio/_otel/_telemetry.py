"""Spans and metrics of every call, while the instrumentor has put a `Telemetry` in place.

The endpoints hand each call here when `_observe.telemetry` is set (one check when it is
not): `call` wraps a call answered whole, `stream` gives a streamed call a `StreamWatch` fed
by the stream as chunks arrive, and `span` opens the spans of the tool runner and the batch
helpers. The send loop asks `inject` for the trace context of each request and tells
`exchange_ended` how it went.

Spans are made current while the call runs, so a request's ``traceparent``, the spans of a
call made from a tool, and the children of a batch descend from them; a stream's span is made
current around its request only, as the stream is read later, in the consumer's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._accumulate import Accumulator
from ._attributes import (
    INFERENCE,
    PROVIDER,
    error_type,
    input_messages,
    operation_of,
    output_messages,
    request_attributes,
    response_attributes,
    server_of,
    system_instructions,
    tool_definitions,
)

__all__ = ["CAPTURE_VARIABLE", "STABILITY_VARIABLE", "StreamWatch", "Telemetry"]

T = TypeVar("T")

CAPTURE_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
STABILITY_VARIABLE = "OTEL_SEMCONV_STABILITY_OPT_IN"
_LATEST = "gen_ai_latest_experimental"
# The conventions' bucket boundaries: seconds for durations, tokens for token counts.
_SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKENS = [4**power for power in range(14)]  # 1, 4, 16, ... 67108864
# Attributes of the request that metrics carry too (the rest would multiply their series).
_METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "server.address",
    "server.port",
    "gen_ai.response.model",
    "error.type",
)


def _is_cancellation(error: BaseException) -> bool:
    if isinstance(error, asyncio.CancelledError):
        return True
    kind = type(error)
    return kind.__name__ == "Cancelled" and kind.__module__.startswith("trio")


def _capture_setting(latest: bool) -> bool:
    """Whether message content goes on spans (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_
    CONTENT``): ``true`` in the older conventions; ``SPAN_ONLY`` or ``SPAN_AND_EVENT`` (or
    ``true``) under ``gen_ai_latest_experimental``."""
    value = os.environ.get(CAPTURE_VARIABLE, "").strip().lower()
    if value in ("true", "1"):
        return True
    return latest and value in ("span_only", "span_and_event")


class Telemetry:
    """The tracer, the instruments, and the settings read when instrumenting.

    Args:
        tracer_provider, meter_provider: the providers (default: the global ones).
        version: ollama-anyio's version, the instrumentation scope's.
    """

    def __init__(self, tracer_provider: Any, meter_provider: Any, version: str) -> None:
        opt_in = os.environ.get(STABILITY_VARIABLE, "")
        self.latest = _LATEST in [part.strip() for part in opt_in.split(",")]
        self.capture = _capture_setting(self.latest)
        self.tracer = trace.get_tracer("ollama_anyio", version, tracer_provider)
        meter = metrics.get_meter("ollama_anyio", version, meter_provider)
        self._servers: dict[str, tuple[str, int]] = {}

        def seconds(name: str, description: str) -> Any:
            return meter.create_histogram(
                name,
                unit="s",
                description=description,
                explicit_bucket_boundaries_advisory=_SECONDS,
            )

        def tokens(name: str, description: str) -> Any:
            return meter.create_histogram(
                name,
                unit="{token}",
                description=description,
                explicit_bucket_boundaries_advisory=_TOKENS,
            )

        self._duration = seconds("gen_ai.client.operation.duration", "GenAI operation duration")
        if self.latest:
            self._inference_duration = seconds(
                "gen_ai.client.inference.duration", "GenAI client inference operation duration"
            )
            self._embeddings_duration = seconds(
                "gen_ai.client.embeddings.duration", "GenAI client embeddings operation duration"
            )
            self.first_chunk = seconds(
                "gen_ai.client.inference.time_to_first_chunk",
                "Time to receive the first chunk of a streamed response",
            )
            self.per_chunk = seconds(
                "gen_ai.client.inference.time_per_output_chunk",
                "Time from the end of the previous chunk to the end of this one",
            )
            self._input_counter = meter.create_counter(
                "gen_ai.client.inference.usage.input_tokens", unit="{token}"
            )
            self._output_counter = meter.create_counter(
                "gen_ai.client.inference.usage.output_tokens", unit="{token}"
            )
            self._input_tokens = tokens(
                "gen_ai.client.inference.operation.input_tokens", "Input tokens per inference"
            )
            self._output_tokens = tokens(
                "gen_ai.client.inference.operation.output_tokens", "Output tokens per inference"
            )
            self._embedding_tokens = tokens(
                "gen_ai.client.embeddings.operation.input_tokens", "Input tokens per embeddings"
            )
        else:
            self._usage = tokens("gen_ai.client.token.usage", "Number of input and output tokens")
            self.first_chunk = seconds(
                "gen_ai.client.operation.time_to_first_chunk",
                "Time to receive the first chunk of a streamed response",
            )
            self.per_chunk = seconds(
                "gen_ai.client.operation.time_per_output_chunk",
                "Time from the end of the previous chunk to the end of this one",
            )

    # -----------------------------------------------------------------------------------------
    # What the send loop asks (`_observe`)

    def inject(self, headers: dict[str, str]) -> None:
        propagate.inject(headers)

    def exchange_ended(self, event: Any, id_header: str | None) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        request_id = event.request_id
        if request_id is not None and id_header is not None:
            # The HTTP conventions' form for a request header: its lower-case name, a list.
            span.set_attribute(f"http.request.header.{id_header.lower()}", [request_id])
        if event.status_code is not None:
            span.set_attribute("http.response.status_code", event.status_code)
        if event.retries:
            span.set_attribute("http.request.resend_count", event.retries)

    # -----------------------------------------------------------------------------------------
    # Calls

    def _server(self, url: str) -> tuple[str, int]:
        root = url.split("/api/", 1)[0]
        server = self._servers.get(root)
        if server is None:
            server = server_of(url)
            if len(self._servers) < 64:
                self._servers[root] = server
        return server

    def _begin(
        self, method: str, url: str, path: str, body: Any, stream: bool
    ) -> tuple[Any, str, dict[str, Any]]:
        """Start a call's span (not made current); its operation and base attributes."""
        operation = operation_of(path)
        model, attributes = request_attributes(operation, body, stream)
        address, port = self._server(url)
        base: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
            "server.address": address,
            "server.port": port,
        }
        base.update(attributes)
        if self.capture:
            for key, value in (
                ("gen_ai.input.messages", input_messages(operation, body)),
                ("gen_ai.system_instructions", system_instructions(operation, body)),
                ("gen_ai.tool.definitions", tool_definitions(operation, body)),
            ):
                if value is not None:
                    base[key] = value
        name = operation if model is None else f"{operation} {model}"
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=base)
        return span, operation, base

    async def call(
        self,
        method: str,
        url: str,
        path: str,
        body: Any,
        run: Callable[[], Awaitable[T]],
    ) -> T:
        """Run one call answered whole (``run``) inside its span, and record its metrics."""
        span, operation, attributes = self._begin(method, url, path, body, False)
        started = time.perf_counter()
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                result = await run()
        except BaseException as exc:
            self.fail(span, exc, attributes, started)
            raise
        self.finish(span, operation, attributes, started, result)
        return result

    def stream(self, url: str, path: str, body: Any) -> StreamWatch:
        """The watch of a streamed call, whose span starts now."""
        span, operation, attributes = self._begin("POST", url, path, body, True)
        return StreamWatch(self, span, operation, attributes)

    def fail(
        self, span: Any, error: BaseException, attributes: dict[str, Any], started: float
    ) -> None:
        cancelled = _is_cancellation(error)
        kind = error_type(error, cancelled)
        span.set_attribute("error.type", kind)
        if not cancelled:
            span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, "cancelled" if cancelled else str(error)))
        if attributes["gen_ai.operation.name"] in INFERENCE:
            span.set_attribute("gen_ai.response.finish_reasons", ["error"])
        self.record_duration({**attributes, "error.type": kind}, started)
        span.end()

    def finish(
        self,
        span: Any,
        operation: str,
        attributes: dict[str, Any],
        started: float,
        answer: Any,
        final: Any = None,
    ) -> None:
        """End a span that succeeded: the answer's attributes, content, and metrics."""
        answered = response_attributes(operation, answer)
        if answered and span.is_recording():
            span.set_attributes(answered)
        if self.capture:
            output = output_messages(operation, final if final is not None else answer)
            if output is not None:
                span.set_attribute("gen_ai.output.messages", output)
        merged = {**attributes, **answered}
        self.record_duration(merged, started)
        self.record_tokens(operation, merged, answered)
        span.end()

    def metric_attributes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        return {key: attributes[key] for key in _METRIC_KEYS if key in attributes}

    def record_duration(self, attributes: dict[str, Any], started: float) -> None:
        elapsed = time.perf_counter() - started
        labels = self.metric_attributes(attributes)
        operation = attributes["gen_ai.operation.name"]
        if self.latest and operation in INFERENCE:
            self._inference_duration.record(elapsed, labels)
        elif self.latest and operation == "embeddings":
            self._embeddings_duration.record(elapsed, labels)
        else:
            self._duration.record(elapsed, labels)

    def record_tokens(
        self, operation: str, attributes: dict[str, Any], answered: dict[str, Any]
    ) -> None:
        input_tokens = answered.get("gen_ai.usage.input_tokens")
        output_tokens = answered.get("gen_ai.usage.output_tokens")
        if input_tokens is None and output_tokens is None:
            return
        labels = self.metric_attributes(attributes)
        if not self.latest:
            if input_tokens is not None:
                self._usage.record(input_tokens, {**labels, "gen_ai.token.type": "input"})
            if output_tokens is not None:
                self._usage.record(output_tokens, {**labels, "gen_ai.token.type": "output"})
        elif operation == "embeddings":
            if input_tokens is not None:
                self._embedding_tokens.record(input_tokens, labels)
        else:
            if input_tokens is not None:
                self._input_tokens.record(input_tokens, labels)
                self._input_counter.add(input_tokens, labels)
            if output_tokens is not None:
                self._output_tokens.record(output_tokens, labels)
                self._output_counter.add(output_tokens, labels)

    # -----------------------------------------------------------------------------------------
    # Spans around several calls: the tool runner, a tool, a batch

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: dict[str, Any], kind: SpanKind = SpanKind.INTERNAL
    ) -> Generator[Any, None, None]:
        """A span made current for the block; an exception out of it is recorded."""
        span = self.tracer.start_span(name, kind=kind, attributes=attributes)
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                yield span
        except BaseException as exc:
            cancelled = _is_cancellation(exc)
            span.set_attribute("error.type", error_type(exc, cancelled))
            if not cancelled:
                span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, "cancelled" if cancelled else str(exc)))
            raise
        finally:
            span.end()

    def run_span(self, model: str) -> contextlib.AbstractContextManager[Any]:
        """The span of a tool run: ``invoke_agent``, the parent of its chat and tool spans."""
        return self.span(
            "invoke_agent",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": model,
            },
        )

    def tool_span(self, call: Any) -> contextlib.AbstractContextManager[Any]:
        """The ``execute_tool`` span of one tool call of the runner."""
        function = call.function
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": function.name,
            "gen_ai.tool.type": "function",
        }
        if call.id:
            attributes["gen_ai.tool.call.id"] = call.id
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = _dumps(function.arguments)
        return self.span(f"execute_tool {function.name}", attributes)

    def tool_result(self, span: Any, result: Any) -> None:
        """A tool's result, on its span when content is captured."""
        if self.capture:
            span.set_attribute(
                "gen_ai.tool.call.result", result if isinstance(result, str) else _dumps(result)
            )

    def batch_span(
        self, operation: str, model: str, count: int
    ) -> contextlib.AbstractContextManager[Any]:
        """The parent span of a batch helper's calls (``batch.chat``, ...): no GenAI
        operation of its own, so that the calls are counted once."""
        return self.span(
            f"{operation} {model}" if model else operation,
            {
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": model,
                "ollama_anyio.batch.size": count,
            },
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class StreamWatch:
    """A streamed call's span, fed by its `AsyncStream`: chunks as they come, then its end.

    The span ends once: at the final chunk's stream end, at a failure or cancellation (with
    ``error.type``), or when the stream is closed or dropped before its end (finish reason
    ``error``, no ``error.type``: the consumer chose to stop).
    """

    __slots__ = (
        "_accumulator",
        "_attributes",
        "_labels",
        "_last",
        "_operation",
        "_previous",
        "_span",
        "_started",
        "_telemetry",
        "ended",
    )

    def __init__(
        self, telemetry: Telemetry, span: Any, operation: str, attributes: dict[str, Any]
    ) -> None:
        self._telemetry = telemetry
        self._span = span
        self._operation = operation
        self._attributes = attributes
        self._labels = telemetry.metric_attributes(attributes)  # once: chunks reuse them
        self._started = time.perf_counter()
        self._previous: float | None = None
        self._last: Any = None
        self._accumulator: Accumulator[Any] | None = Accumulator() if telemetry.capture else None
        self.ended = False

    @contextlib.contextmanager
    def current(self) -> Generator[None, None, None]:
        """Make the span current (around the stream's request: its ``traceparent``)."""
        token = otel_context.attach(trace.set_span_in_context(self._span))
        try:
            yield
        finally:
            otel_context.detach(token)

    def chunks(self, batch: list[Any]) -> None:
        """Chunks decoded from one read (they arrived together)."""
        if not batch:
            return
        now = time.perf_counter()
        telemetry = self._telemetry
        labels = self._labels
        if self._previous is None:
            first = now - self._started
            telemetry.first_chunk.record(first, labels)
            self._span.set_attribute("gen_ai.response.time_to_first_chunk", first)
        else:
            telemetry.per_chunk.record(now - self._previous, labels)
        for _ in range(len(batch) - 1):  # read together: no time between them
            telemetry.per_chunk.record(0.0, labels)
        self._previous = now
        self._last = batch[-1]
        if self._accumulator is not None:
            for chunk in batch:
                self._accumulator.feed(chunk)

    def finished(self) -> None:
        """The stream ended with its final chunk."""
        if self.ended:
            return
        self.ended = True
        final = None
        if self._accumulator is not None and self._accumulator.done:
            final = self._accumulator.result()
        self._telemetry.finish(
            self._span, self._operation, self._attributes, self._started, self._last, final
        )

    def failed(self, error: BaseException) -> None:
        """The stream failed or its reader was cancelled."""
        if self.ended:
            return
        self.ended = True
        self._telemetry.fail(self._span, error, self._attributes, self._started)

    def closed(self) -> None:
        """The stream was closed (or dropped) before its end."""
        if self.ended:
            return
        self.ended = True
        span = self._span
        if self._last is not None:
            answered = response_attributes(self._operation, self._last)
            answered.pop("gen_ai.response.finish_reasons", None)
            if answered:
                span.set_attributes(answered)
        if self._operation in INFERENCE:
            span.set_attribute("gen_ai.response.finish_reasons", ["error"])
        self._telemetry.record_duration(self._attributes, self._started)
        span.end()
