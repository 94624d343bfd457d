"""The OpenTelemetry instrumentations published for ``ollama`` record the same spans on ours.

OpenLLMetry's ``opentelemetry-instrumentation-ollama`` wraps ``ollama._client.Client._request``
and ``AsyncClient._request``; OpenInference's ``openinference-instrumentation-ollama`` wraps
``Client.chat`` and ``AsyncClient.chat``. Each runs in a fresh interpreter twice, on the
official package and with ``install_as_ollama()`` called first, against the same emulator; the
spans, collected with the OpenTelemetry SDK's in-memory exporter, must be equal call by call.
Installed by ``nox -s dropin``; skipped without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from ollama_anyio.testing import ThreadedEmulator

SCRIPT = """
import asyncio, json, re, sys

kind, tool, url = sys.argv[1:4]
if kind == "ours":
    import ollama_anyio
    ollama_anyio.install_as_ollama()

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
if tool == "openllmetry":
    from opentelemetry.instrumentation.ollama import OllamaInstrumentor
else:
    from openinference.instrumentation.ollama import OllamaInstrumentor
OllamaInstrumentor().instrument(tracer_provider=provider)

import ollama

def steady(value):
    # What changes from run to run (the time, durations, a function's address) is left out.
    if isinstance(value, str) and " at 0x" in value:
        return re.sub(" at 0x[0-9a-f]+", "", value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return steady(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items()
                if k != "created_at" and not k.endswith("duration")}
    if isinstance(value, (list, tuple)):
        return [steady(v) for v in value]
    return value

def spans():
    found = [
        {
            "name": span.name,
            "kind": span.kind.name,
            "status": span.status.status_code.name,
            "parent": None if span.parent is None else "child",
            "attributes": steady(dict(span.attributes)),
        }
        for span in exporter.get_finished_spans()
    ]
    exporter.clear()
    return found

def weather(city: str) -> str:
    '''The weather in a city.

    Args:
        city: its name
    '''
    return "sunny"

HI = [{"role": "user", "content": "Why is the sky blue?"}]
client = ollama.Client(host=url)
results = {"client": ollama.Client.__module__}
client.chat("llama3.2", HI)
results["chat"] = spans()
results["chat stream text"] = "".join(
    part["message"]["content"] for part in client.chat("llama3.2", HI, stream=True)
)
results["chat stream"] = spans()
client.chat("llama3.2", [{"role": "user", "content": "Weather in Paris?"}], tools=[weather])
results["chat tools"] = spans()
client.generate("llama3.2", "Why is the sky blue?")
results["generate"] = spans()
results["generate stream text"] = "".join(
    part["response"] for part in client.generate("llama3.2", "Hi", stream=True)
)
results["generate stream"] = spans()
client.embed("all-minilm", "hello")
results["embed"] = spans()
ollama.chat("llama3.2", HI)
results["module chat"] = spans()

async def main():
    async_client = ollama.AsyncClient(host=url)
    await async_client.chat("llama3.2", HI)
    results["async chat"] = spans()
    parts = [part async for part in await async_client.chat("llama3.2", HI, stream=True)]
    results["async chat stream text"] = "".join(part["message"]["content"] for part in parts)
    results["async chat stream"] = spans()

asyncio.run(main())
print(json.dumps(results))
"""


def _spans(kind: str, tool: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), kind, tool, url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OLLAMA_HOST": url},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("tool", "module"),
    [
        ("openllmetry", "opentelemetry.instrumentation.ollama"),
        ("openinference", "openinference.instrumentation.ollama"),
    ],
)
def test_an_instrumentation_records_the_same_spans(
    ollama_emulator: ThreadedEmulator, tool: str, module: str
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    pytest.importorskip(module)
    theirs = _spans("official", tool, ollama_emulator.url)
    ours = _spans("ours", tool, ollama_emulator.url)
    assert theirs.pop("client") == "ollama._client"
    assert ours.pop("client") == "ollama_anyio"
    assert any(theirs[call] for call in theirs if not call.endswith("text"))  # spans were made
    for call in theirs:
        assert ours[call] == theirs[call], call
