"""The generated surface (tools/generate_surface.py) is current and follows the marks."""

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
    @endpoint(raw=False)
    async def echo(self, text: str, times: int = 1, *, loud: bool = False) -> str:
        """Say ``text`` back."""
        body = _requests.echo(text, times, loud=loud)
        return await self._request(EchoResponse, "POST", "/api/echo", json=body)

    @endpoint(module_function=False)
    async def whisper(self, text: str) -> StatusResponse:
        """Say ``text`` quietly."""
        return await self._request(StatusResponse, "POST", "/api/whisper", json=text)

    async def not_marked(self) -> None:
        """Public but unmarked: not an endpoint."""

    async def _helper(self) -> None:
        """Private: not an endpoint."""
'''

NEW_HELPER = '''
    @helper
    async def forget(self, model: str, *, hard: bool = False) -> bool:
        """Forget ``model``."""
        return hard
'''


def _sources(generator: ModuleType) -> dict[str, str]:
    texts: dict[str, str] = generator.read_sources(PACKAGE)
    return texts


def test_a_new_marked_endpoint_reaches_client_functions_raw_and_names(
    generator: ModuleType,
) -> None:
    """A marked method added to AsyncEndpoints needs no edit anywhere but there."""
    texts = _sources(generator)
    endpoints = texts["_endpoints.py"]
    assert endpoints.rstrip().endswith(")")  # AsyncEndpoints' last method ends the file
    texts["_endpoints.py"] = (
        endpoints.replace("from ._types import (", "from ._types import (\n    EchoResponse,")
        + NEW_ENDPOINT
    )
    rendered = generator.render(texts)
    client = rendered["_generated_client.py"]
    functions = rendered["_generated_functions.py"]
    raw = rendered["_generated_raw.py"]
    signature = "(self, text: str, times: int = 1, *, loud: bool = False) -> str:"
    # Client's twin: its body is the async one's without await, ending in Client._request.
    assert f"    def echo{signature}" in client
    assert "        body = _requests.echo(text, times, loud=loud)\n" in client
    assert '        return self._request(EchoResponse, "POST", "/api/echo", json=body)' in client
    assert "    EchoResponse,\n" in client  # imported where the endpoint has it
    assert '"Say ``text`` back."' in client
    assert "def echo(text: str, times: int = 1, *, loud: bool = False) -> str:" in functions
    assert "return default_client().echo(text, times, loud=loud)" in functions
    # The marks: echo has no raw twin, whisper no module function.
    assert "def echo" not in raw
    assert "async def whisper(self, text: str) -> RawResponse[StatusResponse]:" in raw
    assert "def whisper(self, text: str) -> RawResponse[StatusResponse]:" in client
    assert "whisper" not in functions
    for text in (client, functions, raw):
        compile(text, "<generated>", "exec")
        assert "_helper" not in text
        assert "not_marked" not in text
    names = rendered["__init__.py"]
    assert '    "echo": "._generated_functions",' in names
    assert '    "echo",\n' in names
    assert "    from ._generated_functions import echo as echo\n" in names
    assert "whisper" not in names


def test_a_new_helper_reaches_the_blocking_group(generator: ModuleType) -> None:
    """A marked method added to a helper group gets its blocking twin, and nothing else."""
    texts = _sources(generator)
    texts["_management.py"] += NEW_HELPER
    rendered = generator.render(texts)
    client = rendered["_generated_client.py"]
    assert "    def forget(self, model: str, *, hard: bool = False) -> bool:" in client
    assert "return self._client._run(lambda: self._async.forget(model, hard=hard))" in client
    assert client.index("class Models:") < client.index("def forget") < client.index("class Batch")
    for name in ("_generated_functions.py", "_generated_raw.py", "__init__.py"):
        assert "forget" not in rendered[name]


def test_a_method_with_overloads_and_no_mark_is_refused(generator: ModuleType) -> None:
    texts = _sources(generator)
    texts["_endpoints.py"] += """
    @overload
    async def odd(self, x: int) -> int: ...

    async def odd(self, x: int) -> int:
        return x
"""
    with pytest.raises(SystemExit, match="odd has overloads but no mark"):
        generator.render(texts)
