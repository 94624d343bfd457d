"""The generated surface (tools/generate_surface.py) is current and follows AsyncClient by rule."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ollama_anyio"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    path = ROOT / "tools" / "generate_surface.py"
    spec = importlib.util.spec_from_file_location("generate_surface", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_committed_generated_files_are_current(generator: ModuleType) -> None:
    """Regenerating in memory gives the committed files byte for byte (else: nox -s generate)."""
    for path, text in generator.render_package(PACKAGE).items():
        assert path.read_text() == text, f"{path.name} is stale: run `nox -s generate`"


NEW_ENDPOINT = '''
    async def echo(self, text: str, times: int = 1, *, loud: bool = False) -> str:
        """Say ``text`` back."""
        return text * times

    async def _helper(self) -> None:
        """Private: not an endpoint."""

    async def close(self) -> None:
        """Lifecycle: Client has its own close()."""
'''


def test_a_new_async_endpoint_reaches_client_functions_and_names(generator: ModuleType) -> None:
    """A public coroutine method added to AsyncClient needs no edit anywhere but there."""
    sources = [(PACKAGE / n).read_text() for n in ("_async_client.py", "_sync_client.py")]
    init = (PACKAGE / "__init__.py").read_text()
    assert sources[0].rstrip().endswith(")")  # AsyncClient's last method ends the file
    rendered = generator.render(sources[0] + NEW_ENDPOINT, sources[1], init)
    client = rendered["_generated_client.py"]
    functions = rendered["_generated_functions.py"]
    signature = "(self, text: str, times: int = 1, *, loud: bool = False) -> str:"
    assert f"    def echo{signature}" in client
    assert "return self._run(lambda: self._async.echo(text, times, loud=loud))" in client
    assert "def echo(text: str, times: int = 1, *, loud: bool = False) -> str:" in functions
    assert "return default_client().echo(text, times, loud=loud)" in functions
    assert '"Say ``text`` back."' in client
    for text in (client, functions):
        compile(text, "<generated>", "exec")
        assert "_helper" not in text
        assert "def close" not in text
    names = rendered["__init__.py"]
    assert '    "echo": "._generated_functions",' in names
    assert '    "echo",\n' in names
    assert "    from ._generated_functions import echo as echo\n" in names
