"""The pytest plugin: an ``ollama_emulator`` fixture.

Registered as a ``pytest11`` entry point, so any project with ollama-anyio installed can ask
for a running emulator::

    def test_chat(ollama_emulator):
        client = ollama.Client(host=ollama_emulator.url)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._emulator import ThreadedEmulator, run_emulator_in_thread

__all__ = ["ollama_emulator"]


@pytest.fixture
def ollama_emulator() -> Iterator[ThreadedEmulator]:
    """A fresh emulator for each test, running on a background thread (asyncio backend).

    It works from synchronous and asynchronous tests alike, since it talks to clients only
    over HTTP. Stopped, with its connections closed, when the test ends.
    """
    with run_emulator_in_thread() as emulator:
        yield emulator
    if emulator.errors:
        # A handler crashed: the client only saw a closed connection, so show the cause.
        raise emulator.errors[0]
