"""SmolLM2-135M behind the emulator: real tokens, through our client and the official one.

Generated text differs between machines and llama.cpp versions, so these tests check the
structure of the answers (counts that agree, reasons, valid JSON, unit vectors), never the text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
import ollama
import pytest

from ollama_anyio import AsyncClient, ResponseError
from ollama_anyio.testing import LlamaCppEngine, OllamaEmulator
from ollama_anyio.testing._llama import real_models

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every test on both backends."""
    return str(request.param)


async def test_a_streamed_chat_agrees_with_its_counts_and_reason(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url) as client:
        parts = [
            part
            async for part in await client.chat(
                "smollm2", QUESTION, stream=True, options={"num_predict": 32, "temperature": 0}
            )
        ]
    final = parts[-1]
    pieces = [part.message.content for part in parts[:-1]]
    assert [part.done for part in parts] == [False] * len(pieces) + [True]
    assert all(pieces)
    assert len("".join(pieces).split()) >= 3  # generated words, whatever they are
    assert final.done_reason in ("stop", "length")
    assert final.eval_count is not None
    assert len(pieces) <= final.eval_count <= 32
    assert (final.done_reason == "length") == (final.eval_count == 32)
    assert final.prompt_eval_count
    assert final.eval_duration
    assert final.prompt_eval_duration


async def test_num_predict_stops_generation_with_length(emu: OllamaEmulator) -> None:
    essay = {"num_predict": 5, "temperature": 0}
    async with AsyncClient(emu.url) as client:
        reply = await client.generate(
            "smollm2", "Write a long essay on the history of Rome.", options=essay
        )
        raw = await client.generate(
            "smollm2", "Once upon a time, in a land far away,", raw=True, options=essay
        )
    # Five tokens are too few to finish either answer: the limit ends both.
    assert (reply.done_reason, reply.eval_count) == ("length", 5)
    assert reply.response
    assert reply.context
    assert len(reply.context) > 5  # the prompt's tokens, then the answer's
    assert (raw.done_reason, raw.eval_count) == ("length", 5)
    assert raw.response
    assert not raw.context


async def test_a_schema_constrained_answer_validates(emu: OllamaEmulator) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "hobbies": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age", "hobbies"],
    }
    ask = [{"role": "user", "content": "Describe a person as JSON with name, age and hobbies."}]
    async with AsyncClient(emu.url) as client:
        # At temperature 0 this model repeats one hobby: the bound on the array ends it.
        reply = await client.chat(
            "smollm2", ask, format=schema, options={"temperature": 0, "num_predict": 400}
        )
        loose = await client.generate(
            "smollm2", "A JSON object about a cat:", format="json", options={"num_predict": 80}
        )
    assert reply.done_reason == "stop"
    value = json.loads(reply.message.content)
    assert set(value) == {"name", "age", "hobbies"}
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int)
    assert all(isinstance(h, str) for h in value["hobbies"])
    assert len(value["hobbies"]) <= 16
    # Free JSON may run to the limit (an endless string); when it stops, it parses.
    assert loose.done_reason in ("stop", "length")
    if loose.done_reason == "stop":
        assert loose.response is not None
        json.loads(loose.response)
    else:
        assert loose.eval_count == 80


async def test_embeddings_are_unit_vectors_of_576_dimensions(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url) as client:
        result = await client.embed("smollm2", ["The sky is blue.", "Bread rises."])
        legacy = await client.embeddings("smollm2", "The sky is blue.")
    first, second = result.embeddings
    assert len(first) == len(second) == 576
    for vector in (first, second):
        assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-4)
    assert first != second
    assert result.prompt_eval_count
    assert len(legacy.embedding) == 576


async def test_a_seed_repeats_the_answer(emu: OllamaEmulator) -> None:
    options = {"seed": 7, "temperature": 1.0, "num_predict": 12}
    async with AsyncClient(emu.url) as client:
        first = await client.generate("smollm2", "Name three colours.", options=options)
        again = await client.generate("smollm2", "Name three colours.", options=options)
    assert first.response == again.response


async def test_missing_capabilities_are_the_servers_400s(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url) as client:
        with pytest.raises(ResponseError) as thinking:
            await client.chat("smollm2", QUESTION, think=True)

        def weather(city: str) -> str:
            """The weather in a city.

            Args:
                city: the city.
            """
            return city

        with pytest.raises(ResponseError) as tools:
            await client.chat("smollm2", QUESTION, tools=[weather])
        show = await client.show("smollm2")
    assert (thinking.value.status_code, thinking.value.error) == (
        400,
        '"smollm2" does not support thinking',
    )
    assert tools.value.status_code == 400
    assert "does not support tools" in tools.value.error
    assert show.details is not None
    assert (show.details.family, show.details.quantization_level) == ("llama", "Q4_1")
    assert show.capabilities == ["completion"]


async def test_the_official_client_streams_a_real_answer(emu: OllamaEmulator) -> None:
    def stream() -> list[Any]:
        client = ollama.Client(host=emu.url)
        try:
            return list(client.chat("smollm2", QUESTION, stream=True, options={"num_predict": 16}))
        finally:
            client._client.close()  # the official client has no close() of its own

    parts = await anyio.to_thread.run_sync(stream)
    assert parts[-1].done
    assert parts[-1].done_reason in ("stop", "length")
    assert len(parts) - 1 <= parts[-1].eval_count <= 16  # a chunk per token with text
    assert "".join(part.message.content for part in parts[:-1]).strip()


async def test_ps_reports_what_ollama_would_on_a_cpu(emu: OllamaEmulator) -> None:
    async with AsyncClient(emu.url) as client:
        await client.generate("smollm2", "Hi", options={"num_predict": 1})
        (loaded,) = (await client.ps()).models
        (listed,) = (await client.list()).models
    # The weights and an f16 KV cache of 4096 tokens (30 layers, 3 KV heads of 64), in RAM.
    assert listed.size is not None
    assert loaded.size == listed.size + 4096 * 2 * 30 * 3 * 64 * 2
    assert loaded.size_vram == 0
    assert loaded.context_length == 4096


async def test_parallel_slots_answer_while_another_request_streams(
    smollm2_two_slots: OllamaEmulator,
) -> None:
    long = {"num_predict": 400, "temperature": 0}
    async with AsyncClient(smollm2_two_slots.url) as client:
        stream = await client.generate("smollm2", "Write a long story.", stream=True, options=long)
        async with stream:
            first = await stream.__anext__()
            # With one slot this request would wait for the story's end; with two it runs now.
            short = await client.generate("smollm2", "Hi", options={"num_predict": 3})
            assert not first.done
            assert short.done
            assert short.eval_count
        (loaded,) = (await client.ps()).models
        (listed,) = (await client.list()).models
    # Each slot holds the KV cache of a whole num_ctx, as Ollama allocates them.
    assert listed.size is not None
    assert loaded.size == listed.size + 2 * 4096 * 2 * 30 * 3 * 64 * 2


def test_ollama_num_parallel_gives_the_served_model_its_slots(
    monkeypatch: pytest.MonkeyPatch, smollm2: LlamaCppEngine
) -> None:
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "3")
    catalogue, engines = real_models(["llama3.2", "smollm2"])
    assert catalogue == ["llama3.2"]
    (engine,) = engines.values()
    assert isinstance(engine, LlamaCppEngine)
    assert engine.parallel == 3
    engine.close()  # nothing loaded yet: closing is free
