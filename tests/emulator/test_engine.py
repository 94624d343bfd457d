"""The deterministic engine through the API: scripts, thinking, formats, limits, embeddings."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from ollama_anyio.testing import OllamaEmulator, Reply

from .conftest import http


async def chat(emu: OllamaEmulator, **body: Any) -> dict[str, Any]:
    body = {"model": "llama3.2", "stream": False, **body}
    body.setdefault("messages", [{"role": "user", "content": "Hello there"}])
    async with http(emu) as client:
        response = await client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_replies_are_deterministic_and_depend_on_the_prompt(emu: OllamaEmulator) -> None:
    first = await chat(emu)
    again = await chat(emu)
    other = await chat(emu, messages=[{"role": "user", "content": "Something else"}])
    assert first["message"] == again["message"]
    assert first["message"]["content"] != other["message"]["content"]


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        (
            "Why is the sky blue?",
            "The sky appears blue because air molecules scatter short wavelengths of sunlight.",
        ),
        ("Hello", "Hello! How can I help you today?"),
        ("How does bread rise?", "Bread rises because yeast ferments sugars and releases"),
        ("Tell me about Paris", "Paris"),
        ("Explain quantum computing", "quantum computing"),
    ],
)
async def test_the_canned_answer_is_one_sentence_about_the_prompt(
    emu: OllamaEmulator, prompt: str, answer: str
) -> None:
    reply = await chat(emu, messages=[{"role": "user", "content": prompt}])
    content = reply["message"]["content"]
    assert answer in content
    # One sentence: no unrelated trivia after it (the emulator once added a random second).
    assert content.count(". ") == 0
    assert content.endswith((".", "!", "?"))
    assert "Coffee" not in content


async def test_script_queue_strings_replies_and_callables(emu: OllamaEmulator) -> None:
    seen: list[dict[str, Any]] = []

    def echo(request: dict[str, Any]) -> str:
        seen.append(request)
        return "echo: " + str(request["messages"][-1]["content"])

    emu.script("first", Reply(content="second", done_reason="length"), echo)
    assert (await chat(emu))["message"]["content"] == "first"
    second = await chat(emu)
    assert (second["message"]["content"], second["done_reason"]) == ("second", "length")
    assert (await chat(emu))["message"]["content"] == "echo: Hello there"
    assert seen[0]["model"] == "llama3.2"
    assert (await chat(emu))["message"]["content"] != "first"  # queue exhausted: default engine


async def test_thinking_on_by_default_for_thinking_models(emu: OllamaEmulator) -> None:
    default = await chat(emu, model="qwen3")
    off = await chat(emu, model="qwen3", think=False)
    level = await chat(emu, model="qwen3", think="low")
    assert default["message"]["thinking"]
    assert level["message"]["thinking"]
    assert "thinking" not in off["message"]
    emu.script(Reply(content="4", thinking="2+2=4"))
    async with http(emu) as client:
        response = await client.post("/api/generate", json={"model": "qwen3", "prompt": "2+2"})
    chunks = [json.loads(line) for line in response.text.splitlines()]
    assert "".join(c.get("thinking", "") for c in chunks) == "2+2=4"
    assert "".join(c["response"] for c in chunks) == "4"
    assert chunks[0]["response"] == ""


@pytest.mark.parametrize(
    ("think", "message"),
    [
        ("", 'invalid think value: "" (must be a level name, true, or false)'),
        (3, "think must be a boolean or a string (a level name, true, or false)"),
    ],
)
async def test_invalid_think_values(emu: OllamaEmulator, think: Any, message: str) -> None:
    async with http(emu) as client:
        response = await client.post(
            "/api/chat", json={"model": "qwen3", "messages": [], "think": think}
        )
    assert (response.status_code, response.json()) == (400, {"error": message})


async def test_json_format_and_schema(emu: OllamaEmulator) -> None:
    plain = await chat(emu, format="json")
    assert isinstance(json.loads(plain["message"]["content"]), dict)
    schema = {
        "type": "object",
        "properties": {
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "available": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "kind": {"enum": ["a", "b"]},
            "friend": {"$ref": "#/$defs/person"},
        },
        "required": ["age", "available"],
        "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    value = json.loads((await chat(emu, format=schema))["message"]["content"])
    assert 0 <= value["age"] <= 120
    assert isinstance(value["available"], bool)
    assert len(value["tags"]) == 3
    assert all(isinstance(t, str) for t in value["tags"])
    assert value["kind"] in ("a", "b")
    assert isinstance(value["friend"]["name"], str)
    async with http(emu) as client:
        bad = await client.post(
            "/api/generate", json={"model": "llama3.2", "prompt": "x", "format": 5}
        )
    assert bad.status_code == 500
    assert bad.json()["error"].startswith("invalid format: 5;")


async def test_num_predict_and_stop(emu: OllamaEmulator) -> None:
    emu.script("one two three four five", "alpha beta STOP gamma")
    short = await chat(emu, options={"num_predict": 2})
    stopped = await chat(emu, options={"stop": ["STOP"]})
    assert (short["message"]["content"], short["done_reason"]) == ("one two", "length")
    assert (stopped["message"]["content"], stopped["done_reason"]) == ("alpha beta ", "stop")
    async with http(emu) as client:
        bad = await client.post(
            "/api/chat",
            json={
                "model": "llama3.2",
                "messages": [{"role": "user", "content": "x"}],
                "options": {"stop": "x"},
            },
        )
    assert (bad.status_code, bad.json()) == (500, {"error": 'option "stop" must be of type array'})


async def test_logprobs_validation(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        bad = await client.post(
            "/api/chat", json={"model": "llama3.2", "messages": [], "top_logprobs": 21}
        )
    assert bad.json() == {"error": "top_logprobs must be between 0 and 20"}
    result = await chat(emu, logprobs=True, top_logprobs=5)
    assert all(len(e["top_logprobs"]) == 5 and e["logprob"] <= 0 for e in result["logprobs"])
    assert "".join(e["token"] for e in result["logprobs"]) == result["message"]["content"]


async def test_default_tool_call_then_answer_from_tool_result(emu: OllamaEmulator) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    ask = {"role": "user", "content": "Weather in Paris?"}
    first = await chat(emu, messages=[ask], tools=tools)
    (call,) = first["message"]["tool_calls"]
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}
    history = [
        ask,
        first["message"],
        {"role": "tool", "content": "21 C", "tool_name": "get_weather"},
    ]
    second = await chat(emu, messages=history, tools=tools)
    assert "21 C" in second["message"]["content"]
    assert "tool_calls" not in second["message"]


async def test_embedding_models_cannot_chat_and_generate_checks(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        chat_error = await client.post(
            "/api/chat",
            json={"model": "all-minilm", "messages": [{"role": "user", "content": "x"}]},
        )
        generate_error = await client.post(
            "/api/generate", json={"model": "nomic-embed-text", "prompt": "x"}
        )
        raw = await client.post(
            "/api/generate", json={"model": "llama3.2", "prompt": "x", "raw": True, "system": "s"}
        )
        empty = await client.post("/api/generate", json={"prompt": "x"})
        images = await client.post(
            "/api/generate", json={"model": "llava", "prompt": "x", "images": ["%%%"]}
        )
    assert chat_error.json() == {"error": '"all-minilm" does not support chat'}
    assert generate_error.json() == {"error": '"nomic-embed-text" does not support generate'}
    assert (raw.status_code, raw.json()["error"]) == (
        400,
        "raw mode does not support template, system, or context",
    )
    assert (empty.status_code, empty.json()) == (404, {"error": "model '' not found"})
    assert images.json() == {"error": "illegal base64 data at input byte 0"}


async def test_keep_alive_and_ps(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        await client.post("/api/generate", json={"model": "llama3.2", "keep_alive": "1h"})
        await client.post(
            "/api/embed", json={"model": "all-minilm", "input": "x", "keep_alive": -1}
        )
        await client.post("/api/chat", json={"model": "qwen3", "messages": [], "keep_alive": 60})
        names = [m["name"] for m in (await client.get("/api/ps")).json()["models"]]
        assert names == ["all-minilm:latest", "llama3.2:latest", "qwen3:latest"]
        unloaded = await client.post("/api/generate", json={"model": "llama3.2", "keep_alive": 0})
        assert unloaded.json()["done_reason"] == "unload"
        await client.post(
            "/api/chat",
            json={
                "model": "qwen3",
                "stream": False,
                "keep_alive": 0.0,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        names = [m["name"] for m in (await client.get("/api/ps")).json()["models"]]
        assert names == ["all-minilm:latest"]
        bad = await client.post(
            "/api/chat", json={"model": "qwen3", "messages": [], "keep_alive": True}
        )
        assert bad.json() == {"error": "Unsupported type: 'bool'"}


async def test_embed_dimensions_truncate_and_legacy(emu: OllamaEmulator) -> None:
    long_text = "word " * 600
    async with http(emu) as client:
        full = (
            await client.post("/api/embed", json={"model": "nomic-embed-text", "input": "hi"})
        ).json()
        cut = (
            await client.post(
                "/api/embed", json={"model": "nomic-embed-text", "input": "hi", "dimensions": 8}
            )
        ).json()
        fits = (
            await client.post("/api/embed", json={"model": "all-minilm", "input": long_text})
        ).json()
        too_long = await client.post(
            "/api/embed", json={"model": "all-minilm", "input": long_text, "truncate": False}
        )
        bad_input = await client.post("/api/embed", json={"model": "all-minilm", "input": 5})
        legacy = (
            await client.post("/api/embeddings", json={"model": "nomic-embed-text", "prompt": "hi"})
        ).json()
    (vector,) = full["embeddings"]
    assert len(vector) == 768
    assert math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-5)
    (small,) = cut["embeddings"]
    assert len(small) == 8
    assert math.isclose(math.hypot(*small), 1.0, abs_tol=1e-5)
    assert fits["prompt_eval_count"] == 512
    assert too_long.json() == {"error": "the input length exceeds the context length"}
    assert bad_input.json() == {"error": "invalid input type"}
    assert len(legacy["embedding"]) == 768
    assert not math.isclose(math.hypot(*legacy["embedding"]), 1.0)
