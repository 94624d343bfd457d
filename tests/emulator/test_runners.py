"""The ways to run the emulator: thread form, pytest fixture, command line; the public API."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import ollama_anyio.testing
from ollama_anyio.testing import OllamaEmulator, ThreadedEmulator, run_emulator_in_thread

from .conftest import SSL, http_sync

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_thread_form_on_both_backends(backend: str) -> None:
    with OllamaEmulator.start_in_thread(backend=backend, models=["all-minilm"]) as emu:
        with http_sync(emu) as client:
            tags = client.get("/api/tags").json()
            with client.stream(
                "POST", "/api/chat", json={"model": "all-minilm", "messages": []}
            ) as r:
                r.read()
        emu.wait_for_requests(2)
        assert [m["name"] for m in tags["models"]] == ["all-minilm:latest"]
        url = emu.url
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=SSL) as client:
        client.get(url)


def test_thread_form_counts_disconnects() -> None:
    from ollama_anyio.testing import Fault

    with run_emulator_in_thread() as emu:
        emu.faults.add(Fault.hang(after=1))
        with http_sync(emu) as client:
            body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
            with client.stream("POST", "/api/chat", json=body) as response:
                next(response.iter_lines())
        emu.wait_for_disconnects(1)
        assert emu.disconnects == 1
        assert emu.errors == []


def test_pytest_fixture(ollama_emulator: ThreadedEmulator) -> None:
    ollama_emulator.script("scripted")
    with http_sync(ollama_emulator) as client:
        body = {"model": "llama3.2", "prompt": "x", "stream": False}
        assert client.post("/api/generate", json=body).json()["response"] == "scripted"
    assert ollama_emulator.store.names()
    assert ollama_emulator.port > 0


@pytest.mark.parametrize(
    ("backend", "stop"), [("asyncio", signal.SIGTERM), ("trio", signal.SIGINT)]
)
def test_command_line(backend: str, stop: signal.Signals) -> None:
    command = [sys.executable, "-m", "ollama_anyio.testing", "--port", "0", "--backend", backend]
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, verify=SSL) as client:
            assert client.get("/api/version").json() == {"version": "0.12.6"}
        process.send_signal(stop)
        assert process.wait(timeout=10) == 0


def test_public_api() -> None:
    exported = ollama_anyio.testing.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert getattr(ollama_anyio.testing, name).__module__ == "ollama_anyio.testing"
    # (pytest's assertion rewriting adds "@py_..." names to modules it loads as plugins)
    public = {n for n in dir(ollama_anyio.testing) if not n.startswith(("_", "@"))}
    assert public == set(exported)
