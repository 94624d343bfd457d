"""OpenTelemetry: spans and metrics on the GenAI conventions, checked with the SDK's in-memory
exporters, on asyncio, trio and the blocking client (both portals); the trace context across
the portal and worker threads; traceparent on the wire; and nothing loaded when off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, Literal

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ollama_anyio import AsyncClient, Client, NotFoundError, OllamaError
from ollama_anyio.otel import OllamaAnyioInstrumentor
from ollama_anyio.testing import Fault, OllamaEmulator, Reply, ToolCall

Backend = Literal["asyncio", "trio"]

ASK = [{"role": "user", "content": "Say hello"}]


class _Ends(SpanProcessor):
    """Counts ended spans, for a test to wait on a span that ends in another thread."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def on_end(self, span: ReadableSpan) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()


class Recorder:
    """The instrumentation switched on with in-memory exporters, and what they hold."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self._ends = _Ends()
        self.tracer_provider.add_span_processor(self._ends)
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.tracer = self.tracer_provider.get_tracer("test")

    def attributes(self, name: str) -> dict[str, Any]:
        """The attributes of the one span called ``name``, loosely typed for the checks."""
        return dict(self.span(name).attributes or {})

    def wait_for_spans(self, count: int) -> None:
        """Wait until ``count`` spans have ended (10 s at most: a hang fails the test)."""
        with self._ends.changed:
            assert self._ends.changed.wait_for(lambda: self._ends.count >= count, timeout=10)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.exporter.get_finished_spans())
        return spans if name is None else [s for s in spans if s.name == name]

    def span(self, name: str) -> ReadableSpan:
        (span,) = self.spans(name)
        return span

    def metrics(self) -> dict[str, list[Any]]:
        """Data points by metric name."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    recorder = Recorder()
    instrumentor = OllamaAnyioInstrumentor()
    yield recorder
    instrumentor.uninstrument()
    recorder.meter_provider.shutdown()
    recorder.tracer_provider.shutdown()


def instrument(recorder: Recorder) -> None:
    OllamaAnyioInstrumentor().instrument(
        tracer_provider=recorder.tracer_provider, meter_provider=recorder.meter_provider
    )


@pytest.fixture
def on(otel: Recorder) -> Recorder:
    """Instrumented with the default settings."""
    instrument(otel)
    return otel


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


# -- whole answers ---------------------------------------------------------------------------------


async def test_a_chat_call_is_a_client_span_with_the_conventions_attributes(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    raw = await emu_client.with_raw_response.chat(
        "llama3.2",
        ASK,
        options={"temperature": 0.5, "top_p": 0.9, "top_k": 40, "num_predict": 64, "seed": 7}
        | {"stop": ["END"]},
    )
    span = on.span("chat llama3.2")
    attributes = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "ollama"
    assert attributes["gen_ai.request.model"] == "llama3.2"
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.top_p"] == 0.9
    assert attributes["gen_ai.request.top_k"] == 40
    assert attributes["gen_ai.request.max_tokens"] == 64
    assert attributes["gen_ai.request.seed"] == 7
    assert attributes["gen_ai.request.stop_sequences"] == ("END",)
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == emu.port
    answer = raw.parsed
    assert attributes["gen_ai.response.model"] == answer.model
    assert attributes["gen_ai.response.finish_reasons"] == (answer.done_reason,)
    assert attributes["gen_ai.usage.input_tokens"] == answer.prompt_eval_count
    assert attributes["gen_ai.usage.output_tokens"] == answer.eval_count
    # The request id: the one sent, the one on the raw response, the one on the span.
    assert raw.request_id is not None
    assert emu.requests[-1].header("x-request-id") == raw.request_id
    assert attributes["http.request.header.x-request-id"] == (raw.request_id,)
    assert "gen_ai.input.messages" not in attributes  # content only when asked for
    assert "gen_ai.output.messages" not in attributes
    metrics = on.metrics()
    (duration,) = metrics["gen_ai.client.operation.duration"]
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == tuple(0.01 * 2**n for n in range(14))  # conventions
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.response.model"] == answer.model
    assert "error.type" not in duration.attributes
    usage = {p.attributes["gen_ai.token.type"]: p.sum for p in metrics["gen_ai.client.token.usage"]}
    assert usage == {"input": answer.prompt_eval_count, "output": answer.eval_count}
    token_bounds = metrics["gen_ai.client.token.usage"][0].explicit_bounds
    assert (token_bounds[0], token_bounds[-1], len(token_bounds)) == (1, 67108864, 14)
    assert "gen_ai.client.operation.time_to_first_chunk" not in metrics  # not a stream


async def test_generate_is_a_text_completion_and_embed_an_embeddings_span(
    on: Recorder, emu_client: AsyncClient
) -> None:
    await emu_client.generate("llama3.2", "Why is the sky blue?", system="Be brief")
    await emu_client.pull("gpt-oss")
    await emu_client.chat("gpt-oss", ASK, think="low")
    answer = await emu_client.embed("all-minilm", ["a", "b"], dimensions=8)
    await emu_client.embeddings("all-minilm", "c")
    completion = on.span("text_completion llama3.2")
    assert completion.attributes is not None
    assert completion.attributes["gen_ai.operation.name"] == "text_completion"
    assert on.attributes("chat gpt-oss")["gen_ai.request.reasoning.level"] == "low"
    embeds = on.spans("embeddings all-minilm")
    assert len(embeds) == 2
    attributes = dict(embeds[0].attributes or {})
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.embeddings.dimension.count"] == 8
    assert attributes["gen_ai.usage.input_tokens"] == answer.prompt_eval_count
    assert "gen_ai.usage.output_tokens" not in attributes


async def test_model_management_calls_have_spans_named_for_their_operation(
    on: Recorder, emu_client: AsyncClient
) -> None:
    await emu_client.pull("llama3.2")
    await emu_client.show("llama3.2")
    await emu_client.copy("llama3.2", "mine")
    await emu_client.delete("mine")
    await emu_client.list()
    await emu_client.ps()
    await emu_client.version()
    names = [span.name for span in on.spans()]
    assert names == [
        "pull llama3.2",
        "show llama3.2",
        "copy llama3.2",
        "delete mine",
        "list",
        "ps",
        "version",
    ]
    assert all(s.kind is SpanKind.CLIENT for s in on.spans())


async def test_an_error_answer_records_error_type_status_and_the_request_id(
    on: Recorder, emu_client: AsyncClient
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await emu_client.chat("no-such-model", ASK)
    span = on.span("chat no-such-model")
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "NotFoundError"
    assert attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.ERROR
    assert caught.value.request_id is not None
    assert attributes["http.request.header.x-request-id"] == (caught.value.request_id,)
    (duration,) = on.metrics()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "NotFoundError"


async def test_the_span_names_the_request_id_header_the_client_uses(
    on: Recorder, emu: OllamaEmulator
) -> None:
    headers = {"X-Correlation-Id": "job-7"}
    async with AsyncClient(emu.url, request_id_header="X-Correlation-Id", headers=headers) as c:
        await c.version()
    assert on.attributes("version")["http.request.header.x-correlation-id"] == ("job-7",)


async def test_a_retried_request_is_one_span_with_its_resend_count(
    on: Recorder, emu: OllamaEmulator
) -> None:
    emu.faults.add(Fault.busy(2, path="/api/chat"))
    async with AsyncClient(emu.url, retry_backoff=0) as client:
        await client.chat("llama3.2", ASK)
    (span,) = on.spans()
    assert span.attributes is not None
    assert span.attributes["http.request.resend_count"] == 2
    assert "error.type" not in span.attributes


async def test_a_connection_failure_records_its_error_type(on: Recorder) -> None:
    async with AsyncClient("http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ConnectionError):
            await client.list()
    span = on.span("list")
    assert span.attributes is not None
    assert span.attributes["error.type"] == "OllamaConnectionError"


async def test_a_cancelled_call_ends_its_span_with_error_type_cancelled(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.faults.add(Fault.hang(path="/api/chat"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(emu_client.chat, "llama3.2", ASK)
        await emu.wait_for_requests(1)
        tasks.cancel_scope.cancel()
    span = on.span("chat llama3.2")
    assert span.attributes is not None
    assert span.attributes["error.type"] == "cancelled"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert span.end_time is not None


# -- streams ---------------------------------------------------------------------------------------


async def test_a_stream_span_lasts_until_its_end_with_chunk_timings(
    on: Recorder, emu_client: AsyncClient
) -> None:
    stream = await emu_client.chat("llama3.2", ASK, stream=True)
    assert on.spans() == []  # started with the call, ended with the stream
    chunks = [chunk async for chunk in stream]
    span = on.span("chat llama3.2")
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == (chunks[-1].done_reason,)
    assert attributes["gen_ai.usage.output_tokens"] == chunks[-1].eval_count
    metrics = on.metrics()
    (first,) = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1
    (per_chunk,) = metrics["gen_ai.client.operation.time_per_output_chunk"]
    assert per_chunk.count == len(chunks) - 1
    assert metrics["gen_ai.client.operation.duration"][0].count == 1


async def test_a_stream_left_early_ends_its_span_without_an_error(
    on: Recorder, emu_client: AsyncClient
) -> None:
    async with await emu_client.generate("llama3.2", "Count", stream=True) as parts:
        async for _ in parts:
            break
    span = on.span("text_completion llama3.2")
    attributes = dict(span.attributes or {})
    assert "error.type" not in attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)  # no finish reason came
    assert span.status.status_code is StatusCode.UNSET


async def test_a_stream_never_read_ends_its_span_when_closed(
    on: Recorder, emu_client: AsyncClient
) -> None:
    stream = await emu_client.chat("llama3.2", ASK, stream=True)
    await stream.aclose()
    assert on.span("chat llama3.2").end_time is not None


async def test_a_stream_cancelled_while_read_records_error_type_cancelled(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.faults.add(Fault.hang(after=1, path="/api/chat"))
    with anyio.CancelScope() as scope:
        async with await emu_client.chat("llama3.2", ASK, stream=True) as parts:
            async for _ in parts:
                scope.cancel()  # the next read is cancelled
    span = on.span("chat llama3.2")
    assert span.attributes is not None
    assert span.attributes["error.type"] == "cancelled"


async def test_a_stream_that_fails_records_the_failure(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.faults.add(Fault.truncate(after=2, path="/api/chat"))
    with pytest.raises(OllamaError) as caught:
        async with await emu_client.chat("llama3.2", ASK, stream=True) as parts:
            async for _ in parts:
                pass
    span = on.span("chat llama3.2")
    assert span.attributes is not None
    assert span.attributes["error.type"] == type(caught.value).__qualname__
    assert span.status.status_code is StatusCode.ERROR


# -- trace context: on the wire, and parents -------------------------------------------------------


async def test_traceparent_names_the_calls_span_on_the_wire(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    await emu_client.list()
    stream = await emu_client.chat("llama3.2", ASK, stream=True)
    async with stream:
        async for _ in stream:
            pass
    for request, span in zip(emu.requests, on.spans(), strict=True):
        context = span.context
        assert context is not None
        sent = request.header("traceparent") or ""
        assert sent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


async def test_spans_are_children_of_the_callers_span_in_concurrent_tasks(
    on: Recorder, emu_client: AsyncClient
) -> None:
    parents: dict[str, int] = {}

    async def one(name: str) -> None:
        with on.tracer.start_as_current_span(name) as parent:
            parents[name] = parent.get_span_context().span_id
            await emu_client.chat("llama3.2", [{"role": "user", "content": name}])

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(one, "a")
        tasks.start_soon(one, "b")
    chats = on.spans("chat llama3.2")
    assert sorted(parent_of(s) for s in chats) == sorted(parents.values())  # type: ignore[type-var]


async def test_batch_helpers_have_a_parent_span_and_a_child_per_request(
    on: Recorder, emu_client: AsyncClient
) -> None:
    await emu_client.batch.chat("llama3.2", [ASK, ASK, ASK], concurrency=2)
    await emu_client.batch.embed("all-minilm", ["a", "b", "c"], batch_size=2)
    batch = on.span("batch.chat llama3.2")
    assert batch.attributes is not None
    assert batch.attributes["ollama_anyio.batch.size"] == 3
    assert "gen_ai.operation.name" not in batch.attributes  # its calls are the operations
    chats = on.spans("chat llama3.2")
    assert len(chats) == 3
    assert all(parent_of(c) == span_id(batch) for c in chats)
    embed_batch = on.span("batch.embed all-minilm")
    embeds = on.spans("embeddings all-minilm")
    assert len(embeds) == 2
    assert all(parent_of(e) == span_id(embed_batch) for e in embeds)


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


def explode(city: str) -> str:
    """A tool that fails.

    Args:
        city: any city
    """
    raise ValueError(f"no data for {city}")


async def test_the_tool_runner_has_a_run_span_with_chat_and_execute_tool_children(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Oslo"}),
                ToolCall("explode", {"city": "Rome"}),
            ]
        )
    )
    await emu_client.tools.run("llama3.2", ASK, [get_weather, explode])
    run = on.span("invoke_agent")
    chats = on.spans("chat llama3.2")
    assert len(chats) == 2
    assert all(parent_of(c) == span_id(run) for c in chats)
    weather = on.span("execute_tool get_weather")
    failed = on.span("execute_tool explode")
    assert parent_of(weather) == parent_of(failed) == span_id(run)
    assert weather.attributes is not None
    assert weather.attributes["gen_ai.operation.name"] == "execute_tool"
    assert weather.attributes["gen_ai.tool.name"] == "get_weather"
    assert weather.attributes["gen_ai.tool.type"] == "function"
    assert "gen_ai.tool.call.arguments" not in weather.attributes
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "ValueError"  # reported to the model, recorded
    assert run.attributes is not None
    assert "error.type" not in run.attributes


async def test_spans_a_tool_makes_in_its_worker_thread_are_children_of_its_span(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: the city's name
        """
        with on.tracer.start_as_current_span("database query"):
            return f"{city}: 3 rows"

    emu.script(Reply(tool_calls=[ToolCall("lookup", {"city": "Oslo"})]))
    await emu_client.tools.run("llama3.2", ASK, [lookup])
    assert parent_of(on.span("database query")) == span_id(on.span("execute_tool lookup"))


async def test_a_streamed_tool_run_nests_the_same_way(
    on: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]))
    async with await emu_client.tools.run("llama3.2", ASK, [get_weather], stream=True) as events:
        async for _ in events:
            pass
    run = on.span("invoke_agent")
    assert all(parent_of(c) == span_id(run) for c in on.spans("chat llama3.2"))
    assert parent_of(on.span("execute_tool get_weather")) == span_id(run)


# -- content ---------------------------------------------------------------------------------------


async def test_content_is_captured_only_when_asked_in_the_conventions_form(
    otel: Recorder, emu_client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrument(otel)
    answer = await emu_client.chat("llama3.2", [{"role": "system", "content": "Terse."}, *ASK])
    stream = await emu_client.generate("llama3.2", "Hi", system="Be brief", stream=True)
    text = "".join([part.response or "" async for part in stream])
    chat = otel.attributes("chat llama3.2")
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Say hello"}]},
    ]
    assert json.loads(chat["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": answer.message.content}],
            "finish_reason": answer.done_reason,
        }
    ]
    await emu_client.chat("llama3.2", ASK, tools=[get_weather])
    offered = otel.spans("chat llama3.2")[-1]  # the second chat of the test
    definitions = json.loads(str((offered.attributes or {})["gen_ai.tool.definitions"]))
    assert [(d["type"], d["name"]) for d in definitions] == [("function", "get_weather")]
    assert definitions[0]["parameters"]["required"] == ["city"]
    completion = otel.attributes("text_completion llama3.2")
    assert json.loads(completion["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be brief"}
    ]
    (output,) = json.loads(completion["gen_ai.output.messages"])
    assert output["parts"] == [{"type": "text", "content": text}]  # the stream, accumulated


async def test_the_latest_metric_names_under_the_stability_opt_in(
    otel: Recorder, emu_client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    instrument(otel)
    answer = await emu_client.chat("llama3.2", ASK)
    async with await emu_client.chat("llama3.2", ASK, stream=True) as parts:
        async for _ in parts:
            pass
    await emu_client.embed("all-minilm", "a")
    await emu_client.list()
    metrics = otel.metrics()
    assert metrics["gen_ai.client.inference.duration"][0].count == 2
    assert metrics["gen_ai.client.embeddings.duration"][0].count == 1
    assert metrics["gen_ai.client.operation.duration"][0].attributes["gen_ai.operation.name"] == (
        "list"
    )
    assert metrics["gen_ai.client.inference.time_to_first_chunk"][0].count == 1
    assert "gen_ai.client.inference.time_per_output_chunk" in metrics
    assert metrics["gen_ai.client.inference.usage.input_tokens"][0].value == (
        2 * (answer.prompt_eval_count or 0)
    )
    assert metrics["gen_ai.client.inference.operation.output_tokens"][0].count == 2
    assert metrics["gen_ai.client.embeddings.operation.input_tokens"][0].count == 1
    assert "gen_ai.client.token.usage" not in metrics


async def test_uninstrument_stops_spans_and_traceparent(
    otel: Recorder, emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    instrument(otel)
    OllamaAnyioInstrumentor().uninstrument()
    await emu_client.list()
    assert otel.spans() == []
    assert emu.requests[-1].header("traceparent") is None
    assert emu.requests[-1].header("x-request-id") is not None  # ids are not OpenTelemetry's


# -- the blocking client: across the portal, from worker threads -----------------------------------


def test_a_blocking_call_is_a_child_of_the_callers_span_from_any_thread(
    on: Recorder, portal_backend: Backend
) -> None:
    with OllamaEmulator.start_in_thread() as emu, Client(emu.url, backend=portal_backend) as client:
        parents: dict[str, int] = {}

        def call(name: str) -> None:
            with on.tracer.start_as_current_span(name) as parent:
                parents[name] = parent.get_span_context().span_id
                client.chat("llama3.2", [{"role": "user", "content": name}])
                with client.generate("llama3.2", name, stream=True) as parts:
                    for _ in parts:
                        break

        call("main")
        workers = [threading.Thread(target=call, args=(f"worker {n}",)) for n in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    chats = on.spans("chat llama3.2")
    completions = on.spans("text_completion llama3.2")
    assert sorted(parent_of(s) for s in chats) == sorted(parents.values())  # type: ignore[type-var]
    assert sorted(parent_of(s) for s in completions) == sorted(parents.values())  # type: ignore[type-var]
    # Left early by the reader: ended as a close, not as a cancelled call.
    assert all("error.type" not in (s.attributes or {}) for s in completions)
    assert all(s.end_time is not None for s in completions)


def test_a_blocking_stream_never_started_or_dropped_ends_its_span(
    on: Recorder, portal_backend: Backend
) -> None:
    with OllamaEmulator.start_in_thread() as emu, Client(emu.url, backend=portal_backend) as client:
        client.chat("llama3.2", ASK, stream=True).close()  # never read
        parts = client.chat("llama3.2", ASK, stream=True)
        next(parts)
        del parts  # dropped half-read: its producer is stopped in the portal, soon
        on.wait_for_spans(2)
    spans = on.spans("chat llama3.2")
    assert len(spans) == 2
    assert all("error.type" not in (s.attributes or {}) for s in spans)


def test_a_blocking_call_from_a_trio_program_keeps_its_parent(
    on: Recorder, portal_backend: Backend
) -> None:
    with OllamaEmulator.start_in_thread() as emu, Client(emu.url, backend=portal_backend) as client:

        async def main() -> int:
            with on.tracer.start_as_current_span("trio caller") as parent:
                client.version()  # crosses from a helper thread (trio refuses to block)
                return parent.get_span_context().span_id

        parent_id = anyio.run(main, backend="trio")
    assert parent_of(on.span("version")) == parent_id


def test_a_blocking_tool_run_nests_its_tool_spans(on: Recorder, portal_backend: Backend) -> None:
    with OllamaEmulator.start_in_thread() as emu, Client(emu.url, backend=portal_backend) as client:
        emu.script(Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]))
        with on.tracer.start_as_current_span("app") as app:
            client.tools.run("llama3.2", ASK, [get_weather])
    run = on.span("invoke_agent")
    assert parent_of(run) == app.get_span_context().span_id
    assert parent_of(on.span("execute_tool get_weather")) == span_id(run)


# -- zero cost when off; the opentelemetry-instrument command --------------------------------------


def test_importing_ollama_anyio_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, ollama_anyio\n"
        "ollama_anyio.AsyncClient('http://127.0.0.1:1'); ollama_anyio.Client\n"
        "names = ('opentelemetry', 'ollama_anyio._otel')\n"
        "loaded = [m for m in sys.modules if m.startswith(names)]\n"
        "print(sorted(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_opentelemetry_instrument_loads_the_instrumentor() -> None:
    command = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    code = (
        "from ollama_anyio._http import _observe\n"
        "from ollama_anyio.otel import OllamaAnyioInstrumentor\n"
        "on = OllamaAnyioInstrumentor().is_instrumented_by_opentelemetry\n"
        "print(type(_observe.telemetry).__name__, on)"
    )
    environment = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    out = subprocess.run(
        [command, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=environment,
    )
    assert out.stdout.strip() == "Telemetry True"
