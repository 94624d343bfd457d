"""Testing an application with the ollama_emulator pytest fixture (installed with the package).

Run with: pytest examples/test_app_with_emulator.py
"""

import pytest

import ollama_anyio
from ollama_anyio.testing import Reply, ThreadedEmulator


def summarise(client: ollama_anyio.Client, text: str) -> str:
    """The application code under test."""
    reply = client.chat("llama3.2", [{"role": "user", "content": f"Summarise: {text}"}])
    return reply.message.content.strip()


def test_summarise_sends_the_text_and_returns_the_answer(
    ollama_emulator: ThreadedEmulator,
) -> None:
    ollama_emulator.script(Reply(content="  A short summary.  "))
    with ollama_anyio.Client(ollama_emulator.url) as client:
        assert summarise(client, "A long text.") == "A short summary."
    [request] = ollama_emulator.requests
    assert request.json["messages"][0]["content"] == "Summarise: A long text."


def test_a_server_error_reaches_the_caller(ollama_emulator: ThreadedEmulator) -> None:
    with ollama_anyio.Client(ollama_emulator.url) as client:
        with pytest.raises(ollama_anyio.ResponseError) as caught:
            client.chat("no-such-model", [{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 404
