"""Libraries built on the official client give the same results on ours (install_as_ollama).

langchain-ollama, llama-index's Ollama LLM and embeddings, and the ``llm`` CLI with its
Ollama plugin are run against the emulator twice, in fresh interpreters: once on the official
``ollama`` package, once with ``ollama_anyio.install_as_ollama()`` called first. Their
answers must be equal. These libraries are not test dependencies (they pull in some eighty
packages); each test is skipped unless its library is installed: ``nox -s compat``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ollama_anyio.testing import ThreadedEmulator

_PRELUDE = """
import asyncio, json, sys
if sys.argv[1] == "ours":
    import ollama_anyio
    ollama_anyio.install_as_ollama()
import ollama
url = sys.argv[2]
results = {"client": ollama.Client.__module__}

def without_timings(metadata):
    # The time and the durations change from run to run (a model loaded by the first run is
    # warm for the second); every other key must be the same.
    return {k: v for k, v in metadata.items() if k != "created_at" and not k.endswith("duration")}

def weather(location: str) -> str:
    '''Get the current weather for a location.

    Args:
        location: the city
    '''
    return "sunny"
"""

LANGCHAIN = """
from langchain_ollama import ChatOllama, OllamaEmbeddings, OllamaLLM

chat = ChatOllama(model="llama3.2", base_url=url)
reply = chat.invoke("Why is the sky blue?")
results["chat"] = [reply.content, reply.usage_metadata]
metadata = json.loads(json.dumps(reply.response_metadata, default=dict))
results["metadata"] = without_timings(metadata)
results["stream"] = [part.content for part in chat.stream("Why is the sky blue?")]
calls = chat.bind_tools([weather]).invoke("What is the weather in San Francisco, CA?")
results["tools"] = [(call["name"], call["args"]) for call in calls.tool_calls]
thinker = ChatOllama(model="qwen3", base_url=url, reasoning=True).invoke("What is 2+2?")
results["thinking"] = [thinker.content, thinker.additional_kwargs.get("reasoning_content")]
results["json"] = ChatOllama(model="llama3.2", base_url=url, format="json").invoke(
    "Return a JSON object with keys name and age"
).content
results["llm"] = OllamaLLM(model="llama3.2", base_url=url).invoke("Name a colour.")
embeddings = OllamaEmbeddings(model="nomic-embed-text", base_url=url)
results["embed"] = [embeddings.embed_query("hi")[:4], embeddings.embed_documents(["a", "b"])[1][:4]]

async def main():
    reply = await chat.ainvoke("Hi")
    return [reply.content, [part.content async for part in chat.astream("Hi")]]

results["async"] = asyncio.run(main())
"""

LLAMA_INDEX = """
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.embeddings.ollama import OllamaEmbedding
from llama_index.llms.ollama import Ollama

llm = Ollama(model="llama3.2", base_url=url, request_timeout=30)
completion = llm.complete("Why is the sky blue?")
results["complete"] = [completion.text, sorted(completion.raw)]
reply = llm.chat([ChatMessage(role="user", content="Why is the sky blue?")])
raw = json.loads(json.dumps(reply.raw, default=dict))  # its Message is a model: dict() of it
results["chat"] = [reply.message.content, without_timings(raw)]
results["stream"] = [part.delta for part in llm.stream_complete("Why is the sky blue?")]
answer = llm.chat_with_tools([FunctionTool.from_defaults(fn=weather)], user_msg="Weather in Tokyo?")
calls = llm.get_tool_calls_from_response(answer, error_on_no_tool_call=False)
results["tools"] = [(call.tool_name, call.tool_kwargs) for call in calls]
results["achat"] = asyncio.run(llm.achat([ChatMessage(role="user", content="Hi")])).message.content
embedding = OllamaEmbedding(model_name="nomic-embed-text", base_url=url)
results["embed"] = embedding.get_text_embedding("hello")[:4]
"""

LLM_CLI = """
from click.testing import CliRunner
from llm.cli import cli

runner = CliRunner()
for args in (
    ["models"],
    ["-m", "ollama/llama3.2", "Why is the sky blue?"],
    ["-m", "ollama/llama3.2", "--no-stream", "-o", "temperature", "0.1", "Name a colour"],
    ["-m", "ollama/llama3.2", "--schema", "name,age int", "Invent a person"],
    ["-m", "ollama/qwen3", "What is 2+2?"],
    ["embed", "-m", "ollama/nomic-embed-text", "-c", "hello"],
):
    outcome = runner.invoke(cli, args, catch_exceptions=False)
    lines = [line for line in outcome.output.splitlines() if args[0] != "models" or "llama" in line]
    results[" ".join(args)] = [outcome.exit_code, lines]
"""


def _run(kind: str, script: str, url: str, env: dict[str, str]) -> dict[str, Any]:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(script) + "\nprint(json.dumps(results))\n"
    done = subprocess.run(
        [sys.executable, "-c", code, kind, url],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _compare(script: str, url: str, tmp_path: Path) -> None:
    env = {**os.environ, "OLLAMA_HOST": url, "LLM_USER_PATH": str(tmp_path)}
    theirs = _run("official", script, url, env)
    ours = _run("ours", script, url, env)
    assert theirs.pop("client") == "ollama._client"
    assert ours.pop("client") == "ollama_anyio"
    assert ours == theirs
    assert len(ours) >= 5


def test_langchain_ollama_gives_the_same_results(
    ollama_emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    pytest.importorskip("langchain_ollama")
    _compare(LANGCHAIN, ollama_emulator.url, tmp_path)


def test_llama_index_gives_the_same_results(
    ollama_emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    pytest.importorskip("llama_index.llms.ollama")
    pytest.importorskip("llama_index.embeddings.ollama")
    _compare(LLAMA_INDEX, ollama_emulator.url, tmp_path)


def test_the_llm_cli_with_llm_ollama_gives_the_same_results(
    ollama_emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    pytest.importorskip("llm_ollama")
    _compare(LLM_CLI, ollama_emulator.url, tmp_path)
