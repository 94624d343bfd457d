"""The emulator's answers have the shapes of the SPEC fixtures, field by field."""

from __future__ import annotations

import json
import re
from typing import Any

from ollama_anyio.testing import OllamaEmulator, Reply

from .conftest import FIXTURES, fixture_json, fixture_lines, http

UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def lines(body: bytes) -> list[Any]:
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.splitlines()]


async def post(emu: OllamaEmulator, path: str, body: dict[str, Any]) -> bytes:
    async with http(emu) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.content


def same_keys(ours: dict[str, Any], theirs: dict[str, Any], *nested: str) -> None:
    assert list(ours) == list(theirs) or set(ours) == set(theirs), set(ours) ^ set(theirs)
    for key in nested:
        assert set(ours[key]) == set(theirs[key]), key


async def test_chat_stream_shape(emu: OllamaEmulator) -> None:
    body = fixture_json("chat-request.json")
    ours = lines(await post(emu, "/api/chat", body))
    theirs = fixture_lines("chat-stream.ndjson")
    for chunk in ours[:-1]:
        same_keys(chunk, theirs[0], "message")
        assert chunk["model"] == body["model"]
        assert UTC.match(chunk["created_at"])
    same_keys(ours[-1], theirs[-1], "message")
    assert ours[-1]["message"] == {"role": "assistant", "content": ""}


async def test_generate_stream_and_single_shapes(emu: OllamaEmulator) -> None:
    ours = lines(await post(emu, "/api/generate", fixture_json("generate-request.json")))
    theirs = fixture_lines("generate-stream.ndjson")
    for chunk in ours[:-1]:
        same_keys(chunk, theirs[0])
    same_keys(ours[-1], theirs[-1])
    single = await post(emu, "/api/generate", fixture_json("generate-nostream-request.json"))
    assert not single.endswith(b"\n")
    assert b": " not in single
    same_keys(json.loads(single), fixture_json("generate-response.json"))
    chat = await post(emu, "/api/chat", fixture_json("chat-nostream-request.json"))
    same_keys(json.loads(chat), fixture_json("chat-response.json"), "message")


async def test_thinking_shapes(emu: OllamaEmulator) -> None:
    ours = lines(await post(emu, "/api/chat", fixture_json("chat-thinking-request.json")))
    theirs = fixture_lines("chat-thinking-stream.ndjson")
    same_keys(ours[0], theirs[0], "message")
    assert ours[0]["message"]["content"] == ""
    answer = next(c for c in ours if c["message"]["content"])
    same_keys(answer, theirs[-2], "message")
    single = await post(emu, "/api/chat", fixture_json("chat-thinking-nostream-request.json"))
    same_keys(json.loads(single), fixture_json("chat-thinking-response.json"), "message")


async def test_tool_call_shapes(emu: OllamaEmulator) -> None:
    ours = lines(await post(emu, "/api/chat", fixture_json("chat-tools-stream-request.json")))
    theirs = fixture_lines("chat-tool-calls-stream.ndjson")
    same_keys(ours[0], theirs[0], "message")
    calls = [c["message"]["tool_calls"] for c in ours[:-1]]
    expected = [c["message"]["tool_calls"] for c in theirs[:-1]]
    assert [[c["function"] for c in cs] for cs in calls] == [
        [c["function"] for c in cs] for cs in expected
    ]
    for (call,) in calls:
        same_keys(call, expected[0][0], "function")
        assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    emu.script(
        Reply(
            tool_calls=[
                {
                    "name": "get_current_weather",
                    "arguments": {"location": "Paris, FR", "format": "celsius"},
                }
            ]
        )
    )
    single = json.loads(await post(emu, "/api/chat", fixture_json("chat-tools-request.json")))
    expected = fixture_json("chat-tool-calls.json")
    same_keys(single, expected, "message")
    assert (
        single["message"]["tool_calls"][0]["function"]
        == expected["message"]["tool_calls"][0]["function"]
    )


async def test_logprob_shapes(emu: OllamaEmulator) -> None:
    ours = lines(await post(emu, "/api/chat", fixture_json("chat-logprobs-request.json")))
    theirs = fixture_lines("chat-logprobs-stream.ndjson")
    same_keys(ours[0], theirs[0], "message")
    (entry,) = ours[0]["logprobs"]
    same_keys(entry, theirs[0]["logprobs"][0])
    assert len(entry["top_logprobs"]) == 2
    assert entry["bytes"] == list(entry["token"].encode())
    body = fixture_json("generate-logprobs-request.json")
    single = json.loads(await post(emu, "/api/generate", body))
    same_keys(single, fixture_json("generate-logprobs-response.json"))
    assert single["done_reason"] == "length"
    assert len(single["logprobs"]) == 2


async def test_embed_shapes(emu: OllamaEmulator) -> None:
    one = json.loads(await post(emu, "/api/embed", fixture_json("embed-request.json")))
    same_keys(one, fixture_json("embed-response.json"))
    many = json.loads(await post(emu, "/api/embed", fixture_json("embed-multi-request.json")))
    assert len(many["embeddings"]) == len(fixture_json("embed-multi-request.json")["input"])
    empty = await post(emu, "/api/embed", {"model": "all-minilm"})
    assert json.loads(empty) == fixture_json("embed-empty-response.json")
    legacy = json.loads(await post(emu, "/api/embeddings", fixture_json("embeddings-request.json")))
    same_keys(legacy, fixture_json("embeddings-response.json"))


async def test_tags_show_ps_shapes(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        tags = (await client.get("/api/tags")).json()
        show = (await client.post("/api/show", json={"model": "llama3.2"})).json()
        verbose = (
            await client.post("/api/show", json={"model": "llama3.2", "verbose": True})
        ).json()
        await client.post("/api/generate", json={"model": "llama3.2"})
        ps = (await client.get("/api/ps")).json()
    their_tag = fixture_json("tags-response.json")["models"][1]
    entry = next(m for m in tags["models"] if m["name"] == "llama3.2:latest")
    same_keys(entry, their_tag, "details")
    assert HEX64.match(entry["digest"])
    assert LOCAL.match(entry["modified_at"])
    same_keys(show, fixture_json("show-response.json"), "details")
    assert show["model_info"]["tokenizer.ggml.tokens"] is None
    assert isinstance(verbose["model_info"]["tokenizer.ggml.tokens"], list)
    assert list(show["model_info"]) == sorted(show["model_info"])
    (running,) = ps["models"]
    same_keys(running, fixture_json("ps-response.json")["models"][0], "details")
    assert LOCAL.match(running["expires_at"])


async def test_progress_shapes(emu: OllamaEmulator) -> None:
    pulled = lines(await post(emu, "/api/pull", {"model": "llama3.2:1b"}))
    theirs = fixture_lines("pull-progress.ndjson")
    assert pulled[0] == theirs[0]
    assert pulled[-3:] == theirs[-3:]
    shapes = {tuple(sorted(line)) for line in pulled}
    assert shapes == {tuple(sorted(line)) for line in theirs}
    pushed = lines(
        await post(emu, "/api/push", fixture_json("push-request.json") | {"model": "llama3.2"})
    )
    their_push = fixture_lines("push-progress.ndjson")
    assert pushed[0] == their_push[0]
    assert pushed[-2:] == their_push[-2:]
    assert {tuple(sorted(x)) for x in pushed} == {tuple(sorted(x)) for x in their_push}
    created = lines(await post(emu, "/api/create", fixture_json("create-request.json")))
    their_create = fixture_lines("create-progress.ndjson")
    # The system layer digest is the SHA-256 of the text, as on a real server.
    assert their_create[4] in created
    assert created[-2:] == their_create[-2:]
    assert all(set(line) == {"status"} for line in created)


async def test_load_unload_shapes(emu: OllamaEmulator) -> None:
    for name in ("chat-load", "chat-unload", "generate-load", "generate-unload"):
        path = "/api/chat" if name.startswith("chat") else "/api/generate"
        ours = json.loads(await post(emu, path, fixture_json(f"{name}-request.json")))
        theirs = fixture_json(f"{name}-response.json")
        assert {k: v for k, v in ours.items() if k != "created_at"} == {
            k: v for k, v in theirs.items() if k != "created_at"
        }


async def test_error_bodies_match_fixtures_byte_for_byte() -> None:
    async with OllamaEmulator(models=["llama3.2"]) as emu, http(emu) as client:
        cases = [
            (
                "/api/chat",
                {"model": "llama3.3", "messages": [{"role": "user", "content": "hi"}]},
                "error-404.json",
                404,
            ),
            ("/api/embed", {"model": "all-minilm", "input": "x"}, "error-404-embed.json", 404),
            (
                "/api/chat",
                {
                    "model": "llama3.2",
                    "messages": [{"role": "user", "content": "x"}],
                    "think": True,
                },
                "error-400-thinking-unsupported.json",
                400,
            ),
            ("/api/chat", {"messages": []}, "error-400-model-required.json", 400),
            (
                "/api/generate",
                {"model": "llama3.2", "keep_alive": "5"},
                "error-400-keep-alive.json",
                400,
            ),
        ]
        for path, body, fixture, status in cases:
            response = await client.post(path, json=body)
            assert response.status_code == status
            assert (
                response.content
                == json.dumps(fixture_json(fixture), separators=(",", ":")).encode()
            )
        pull = await client.post("/api/pull", json={"model": "no-such-model"})
        assert pull.content == (FIXTURES / "error-in-pull-stream.ndjson").read_bytes()
        assert pull.headers["content-type"] == "application/x-ndjson"


async def test_tools_unsupported_uses_fully_qualified_name(emu: OllamaEmulator) -> None:
    body = fixture_json("chat-tools-request.json") | {"model": "LLaVA"}
    async with http(emu) as client:
        response = await client.post("/api/chat", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": "registry.ollama.ai/library/llava:latest does not support tools"
    }
    assert fixture_json("error-400-tools-unsupported.json")["error"].endswith(
        "does not support tools"
    )
