"""The pytest plugin: an ``ollama_emulator`` fixture.

Registered as a ``pytest11`` entry point, so any project with ollama-anyio installed can ask
for a running emulator::

    def test_chat(ollama_emulator):
        client = ollama.Client(host=ollama_emulator.url)

The ``ollama_emulator`` marker passes keyword arguments to the emulator, e.g. a real model::

    @pytest.mark.ollama_emulator(models=["llama3.2", "smollm2"])
    def test_real_answer(ollama_emulator): ...

or a server for bulk work, whose model answers one request at a time in 100 ms::

    @pytest.mark.ollama_emulator(service_time=0.1, num_parallel=1)
    def test_bulk(ollama_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._emulator import ThreadedEmulator, run_emulator_in_thread

__all__ = ["ollama_emulator"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``ollama_emulator`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers", "ollama_emulator(**kwargs): arguments of the ollama_emulator fixture's emulator"
    )


@pytest.fixture
def ollama_emulator(request: pytest.FixtureRequest) -> Iterator[ThreadedEmulator]:
    """A fresh emulator for each test, running on a background thread (asyncio backend).

    It works from synchronous and asynchronous tests alike, since it talks to clients only
    over HTTP. Stopped, with its connections closed, when the test ends. The test's
    ``ollama_emulator`` marker, if any, gives the emulator's keyword arguments.
    """
    marker = request.node.get_closest_marker("ollama_emulator")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    with run_emulator_in_thread(**kwargs) as emulator:
        yield emulator
    if emulator.errors:
        # A handler crashed: the client only saw a closed connection, so show the cause.
        raise emulator.errors[0]
