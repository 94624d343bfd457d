"""Every endpoint of the official ``ollama`` client against the emulator, sync and async."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import ollama
import pytest

from ollama_anyio.testing import OllamaEmulator, Reply, ThreadedEmulator, ToolCall

from .conftest import SSL


@pytest.fixture
def client(ollama_emulator: ThreadedEmulator) -> Iterator[ollama.Client]:
    client = ollama.Client(host=ollama_emulator.url, verify=SSL)
    yield client
    # The official client has no close(); its pooled sockets would leak a ResourceWarning.
    client._client.close()


def test_chat_and_streaming_chat(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    whole = client.chat(model="llama3.2", messages=messages)
    parts = list(client.chat(model="llama3.2", messages=messages, stream=True))
    assert whole.message.role == "assistant"
    assert whole.message.content
    assert whole.done_reason == "stop"
    assert whole.eval_count
    assert whole.prompt_eval_count
    assert "".join(p.message.content or "" for p in parts) == whole.message.content
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    assert all(p.model == "llama3.2" for p in parts)


def test_generate_and_streaming_generate(client: ollama.Client) -> None:
    whole = client.generate(model="llama3.2", prompt="Tell me about llamas")
    parts = list(client.generate(model="llama3.2", prompt="Tell me about llamas", stream=True))
    assert whole.response == "".join(p.response or "" for p in parts)
    assert whole.context
    assert parts[-1].context == whole.context
    assert parts[-1].done
    assert parts[-1].done_reason == "stop"


def test_scripted_tool_calls(ollama_emulator: ThreadedEmulator, client: ollama.Client) -> None:
    ollama_emulator.script(Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2})]))

    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: The first
            b: The second
        """
        return a + b

    response = client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "1+2?"}], tools=[add]
    )
    calls = response.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("add", {"a": 1, "b": 2})
    ]


def test_embed_and_embeddings(client: ollama.Client) -> None:
    one = client.embed(model="all-minilm", input="hello")
    two = client.embed(model="nomic-embed-text", input=["a", "b"], dimensions=64)
    legacy = client.embeddings(model="all-minilm", prompt="hello")
    assert len(one.embeddings) == 1
    assert len(one.embeddings[0]) == 384
    assert [len(v) for v in two.embeddings] == [64, 64]
    assert len(legacy.embedding) == 384
    assert sum(v * v for v in one.embeddings[0]) == pytest.approx(1.0, abs=1e-5)


def test_list_show_ps(client: ollama.Client) -> None:
    names = [m.model for m in client.list().models]
    assert set(names) >= {"llama3.2:latest", "qwen3:latest", "nomic-embed-text:latest"}
    show = client.show("llama3.2")
    assert show.capabilities == ["completion", "tools"]
    assert show.details is not None
    assert show.details.family == "llama"
    assert show.modelinfo
    assert show.modelinfo["general.architecture"] == "llama"
    assert client.ps().models == []
    client.generate(model="llama3.2", prompt="hi", keep_alive=-1)
    (loaded,) = client.ps().models
    assert loaded.model == "llama3.2:latest"
    assert loaded.expires_at is not None
    assert loaded.expires_at.year > 2300


def test_pull_push(client: ollama.Client) -> None:
    assert client.pull("gemma3").status == "success"
    statuses = [p.status for p in client.pull("llama3.2:1b", stream=True)]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert "gemma3:latest" in [m.model for m in client.list().models]
    assert client.push("llama3.2").status == "success"
    with pytest.raises(ollama.ResponseError) as info:
        client.pull("no-such-model")
    assert info.value.status_code == 500
    assert info.value.error == "pull model manifest: file does not exist"


def test_create_blob_copy_delete(client: ollama.Client, tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    digest = client.create_blob(weights)
    assert digest == "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()
    assert client.create(model="from-blob", files={"model.gguf": digest}).status == "success"
    created = client.create(model="mario", from_="llama3.2", system="You are Mario")
    assert created.status == "success"
    assert "SYSTEM You are Mario" in (client.show("mario").modelfile or "")
    assert client.copy("mario", "luigi").status == "success"
    assert client.delete("mario").status == "success"
    names = {m.model for m in client.list().models}
    assert {"luigi:latest", "from-blob:latest"} <= names
    assert "mario:latest" not in names


def test_errors_keep_status_and_text(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as chat_error:
        client.chat(model="llama3.3", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(ollama.ResponseError) as think_error:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], think=True)
    with pytest.raises(ollama.ResponseError) as embed_error:
        client.embed(model="all-minilm:v9", input="x")
    assert (chat_error.value.status_code, chat_error.value.error) == (
        404,
        "model 'llama3.3' not found",
    )
    assert think_error.value.error == '"llama3.2" does not support thinking'
    assert embed_error.value.error == 'model "all-minilm:v9" not found, try pulling it first'


async def test_async_client_every_endpoint(emu: OllamaEmulator, tmp_path: Path) -> None:
    client = ollama.AsyncClient(host=emu.url, verify=SSL)
    try:
        await _every_endpoint(client, tmp_path)
    finally:
        await client._client.aclose()


async def _every_endpoint(client: ollama.AsyncClient, tmp_path: Path) -> None:
    chat = await client.chat(model="qwen3", messages=[{"role": "user", "content": "hi"}])
    assert chat.message.thinking
    assert chat.message.content
    stream = await client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    parts = [part async for part in stream]
    assert parts[-1].done
    generated = await client.generate(model="llama3.2", prompt="hi")
    assert generated.response
    gen_stream = await client.generate(model="llama3.2", prompt="hi", stream=True)
    assert "".join([p.response or "" async for p in gen_stream]) == generated.response
    assert len((await client.embed(model="all-minilm", input="x")).embeddings[0]) == 384
    assert len((await client.embeddings(model="all-minilm", prompt="x")).embedding) == 384
    assert (await client.list()).models
    assert (await client.show("qwen3")).capabilities == ["completion", "tools", "thinking"]
    loaded = {m.model for m in (await client.ps()).models}
    assert loaded == {"qwen3:latest", "llama3.2:latest", "all-minilm:latest"}
    assert (await client.pull("gemma3")).status == "success"
    assert (await client.push("gemma3")).status == "success"
    path = tmp_path / "blob.bin"
    path.write_bytes(b"adapter")
    digest = await client.create_blob(path)
    created = await client.create(model="a", from_="llama3.2", adapters={"x.gguf": digest})
    assert created.status == "success"
    assert (await client.copy("a", "b")).status == "success"
    assert (await client.delete("a")).status == "success"
