"""trio is an extra: without it, what picks a backend says how to install it."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from ollama_anyio import Client
from ollama_anyio._backends import TRIO_INSTALL, require_backend
from ollama_anyio.testing import run_emulator_in_thread
from ollama_anyio.testing.__main__ import main as serve


@pytest.fixture
def without_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name.split(".")[0] == "trio" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.usefixtures("without_trio")
def test_a_client_on_trio_without_trio_says_what_to_install() -> None:
    with pytest.raises(LookupError, match="Backend 'trio' is not available") as raised:
        Client(backend="trio")
    assert TRIO_INSTALL in str(raised.value)
    assert "pip install trio" in str(raised.value)


@pytest.mark.usefixtures("without_trio")
def test_the_emulator_on_trio_without_trio_says_what_to_install(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        pytest.raises(LookupError, match="pip install trio"),
        run_emulator_in_thread(backend="trio"),
    ):
        pass  # pragma: no cover - never entered
    assert serve(["--port", "0", "--backend", "trio"]) == 1
    assert f"error: Backend 'trio' is not available: trio is not installed; {TRIO_INSTALL}" in (
        capsys.readouterr().err
    )


def test_installed_backends_pass() -> None:
    require_backend("asyncio")
    require_backend("trio")  # the tests environment has the extra
