"""Model management endpoints: names, copy, delete, blobs, create, pull and push errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import anyio

from ollama_anyio.testing import OllamaEmulator

from .conftest import http


async def post(emu: OllamaEmulator, path: str, body: Any) -> tuple[int, Any]:
    async with http(emu) as client:
        response = await client.post(path, json=body)
    try:
        return response.status_code, response.json()
    except json.JSONDecodeError:
        return response.status_code, [json.loads(x) for x in response.text.splitlines()] or None


async def test_names_are_case_insensitive_and_echoed(emu: OllamaEmulator) -> None:
    status, body = await post(
        emu, "/api/generate", {"model": "LLAMA3.2:Latest", "prompt": "x", "stream": False}
    )
    assert (status, body["model"]) == (200, "LLAMA3.2:Latest")
    status, body = await post(emu, "/api/show", {"model": "nope"})
    assert (status, body) == (404, {"error": "model 'nope:latest' not found"})
    status, body = await post(emu, "/api/show", {"name": "qwen3"})  # legacy alias
    assert status == 200
    assert "thinking" in body["capabilities"]


async def test_copy_and_delete(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        copied = await client.post(
            "/api/copy", json={"source": "llama3.2", "destination": "me/pet:v1"}
        )
        missing = await client.post("/api/copy", json={"source": "ghost", "destination": "x"})
        invalid = await client.post("/api/copy", json={"source": "llama3.2", "destination": "a b"})
        deleted = await client.request("DELETE", "/api/delete", json={"model": "me/pet:v1"})
        again = await client.request("DELETE", "/api/delete", json={"model": "me/pet:v1"})
        nameless = await client.request("DELETE", "/api/delete", json={})
    assert (copied.status_code, copied.content, copied.headers.get("content-type")) == (
        200,
        b"",
        None,
    )
    assert missing.json() == {"error": 'model "ghost" not found'}
    assert invalid.json() == {"error": 'destination "a b" is invalid'}
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert (again.status_code, again.json()) == (404, {"error": "model 'me/pet:v1' not found"})
    assert nameless.json() == {"error": "model is required"}


async def test_copied_model_is_listed_with_namespace(emu: OllamaEmulator) -> None:
    await post(emu, "/api/copy", {"source": "llama3.2", "destination": "me/pet:v1"})
    async with http(emu) as client:
        tags = (await client.get("/api/tags")).json()["models"]
    assert tags[0]["name"] == "me/pet:v1"  # newest first


async def test_blobs(emu: OllamaEmulator) -> None:
    data = b"some weights"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    async with http(emu) as client:
        absent = await client.head(f"/api/blobs/{digest}")
        created = await client.post(f"/api/blobs/{digest}", content=data)
        present = await client.head(f"/api/blobs/{digest}")
        existing = await client.post(f"/api/blobs/{digest}", content=data)
        dash = await client.post(f"/api/blobs/{digest.replace(':', '-')}x", content=data)
        wrong = await client.post("/api/blobs/sha256:" + "0" * 64, content=data)
        head_bad = await client.head("/api/blobs/md5:abc")
        post_bad = await client.post("/api/blobs/md5:abc", content=data)
    assert (absent.status_code, absent.content) == (404, b"")
    assert (created.status_code, created.content) == (201, b"")
    assert (present.status_code, existing.status_code) == (200, 200)
    assert dash.status_code == 400
    assert wrong.json() == {
        "error": f'digest mismatch, expected "sha256:{"0" * 64}", got "{digest}"'
    }
    assert (head_bad.status_code, head_bad.content) == (400, b"")
    assert post_bad.json() == {"error": "invalid digest format"}


async def test_create_from_model_with_everything(emu: OllamaEmulator) -> None:
    body = {
        "model": "my-namespace/assistant:v1",
        "from": "llama3.2",
        "system": "You are a helpful assistant.",
        "template": "{{ .Prompt }}",
        "license": ["MIT", "Apache-2.0"],
        "parameters": {"temperature": 0.7, "stop": ["<|eot_id|>"]},
        "messages": [{"role": "user", "content": "Who are you?"}],
        "stream": False,
    }
    status, result = await post(emu, "/api/create", body)
    assert (status, result) == (200, {"status": "success"})
    status, show = await post(emu, "/api/show", {"model": "my-namespace/assistant:v1"})
    assert show["system"] == "You are a helpful assistant."
    assert show["license"] == "MIT\nApache-2.0"
    assert show["messages"] == [{"role": "user", "content": "Who are you?"}]
    assert "PARAMETER temperature 0.7" in show["modelfile"]
    assert show["template"] == "{{ .Prompt }}"
    emu.script(lambda request: "ok")
    status, chat = await post(
        emu,
        "/api/chat",
        {
            "model": "my-namespace/assistant:v1",
            "stream": False,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert chat["message"]["content"] == "ok"


async def test_create_from_uploaded_files(emu: OllamaEmulator) -> None:
    blobs = {}
    async with http(emu) as client:
        for name in ("model.safetensors", "config.json", "tokenizer_config.json", "w.gguf"):
            data = name.encode() * 10
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            assert (await client.post(f"/api/blobs/{digest}", content=data)).status_code == 201
            blobs[name] = digest
    gguf = {"w.gguf": blobs.pop("w.gguf")}
    _, safetensors = await post(emu, "/api/create", {"model": "fred", "files": blobs})
    statuses = [line["status"] for line in safetensors]
    assert statuses[0] == "converting model"
    assert statuses[-2:] == ["writing manifest", "success"]
    assert "using autodetected template llama3-instruct" in statuses
    _, quantized = await post(
        emu, "/api/create", {"model": "q", "files": gguf, "quantize": "Q4_K_M"}
    )
    statuses = [line["status"] for line in quantized]
    assert statuses[0] == "parsing GGUF"
    assert "quantizing F16 model to Q4_K_M" in statuses
    validating = next(line for line in quantized if line["status"] == "validating GGUF model")
    assert validating["digest"] == "0" * 19
    assert set(validating) == {
        "status",
        "digest",
        "total",
        "completed",
    }
    _status, show = await post(emu, "/api/show", {"model": "q"})
    assert show["details"]["quantization_level"] == "Q4_K_M"


async def test_create_errors(emu: OllamaEmulator) -> None:
    assert await post(emu, "/api/create", {"model": "x"}) == (
        400,
        {"error": "neither 'from' or 'files' was specified"},
    )
    assert await post(emu, "/api/create", {"from": "llama3.2"}) == (
        400,
        {"error": "invalid model name"},
    )
    status, body = await post(
        emu, "/api/create", {"model": "x", "from": "llama3.2", "quantize": "q4_K_M"}
    )
    assert status == 400
    assert "quantization" in body["error"]
    status, body = await post(emu, "/api/create", {"model": "x", "from": "ghost", "stream": False})
    assert (status, body) == (500, {"error": "pull model manifest: file does not exist"})
    status, body = await post(emu, "/api/create", {"model": "x", "from": "gemma3"})
    statuses = [line["status"] for line in body]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"


async def test_pull_push_variants(emu: OllamaEmulator) -> None:
    _, again = await post(emu, "/api/pull", {"model": "llama3.2"})
    layers = [line for line in again if line["status"].startswith("pulling ") and "digest" in line]
    assert layers
    assert all(line["completed"] == line["total"] for line in layers)
    assert await post(emu, "/api/pull", {"model": "bad name"}) == (
        400,
        {"error": "invalid model name"},
    )
    assert await post(emu, "/api/push", {}) == (400, {"error": "model is required"})
    _, missing = await post(emu, "/api/push", {"model": "me/ghost"})
    assert missing[1] == {"status": "couldn't retrieve manifest"}
    assert "error" in missing[-1]
    async with http(emu) as client:
        single = await client.post("/api/pull", json={"model": "gemma3", "stream": False})
    assert single.headers["content-type"] == "application/json"
    assert single.content == b'{"status":"success"}'


async def test_status_and_recommendations(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        status = await client.get("/api/status")
        recommendations = await client.get("/api/experimental/model-recommendations")
    assert status.json() == {"cloud": {"disabled": False, "source": "none"}}
    assert recommendations.json()["recommendations"]


async def test_concurrent_requests_share_one_store(emu: OllamaEmulator) -> None:
    async def copy(index: int) -> None:
        await post(emu, "/api/copy", {"source": "llama3.2", "destination": f"copy{index}"})

    async with http(emu) as client:
        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(copy, index)
        names = {m["name"] for m in (await client.get("/api/tags")).json()["models"]}
    assert {f"copy{i}:latest" for i in range(20)} <= names
