"""`install_as_ollama()`: ``import ollama`` gives ollama-anyio, for code built on the official one.

It changes ``sys.modules``, so each check runs in a fresh interpreter.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import ollama  # the official package: its names are what code written for it imports

OFFICIAL_NAMES = sorted(ollama.__all__)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_after_install_ollama_and_its_private_modules_are_ollama_anyio() -> None:
    result = _run(
        f"""
        import sys
        import ollama_anyio
        ollama_anyio.install_as_ollama()
        import ollama
        import ollama._client
        import ollama._types
        from ollama import AsyncClient, ChatResponse, Client, Message, Options, ResponseError
        from ollama._types import RequestError, SubscriptableBaseModel
        from ollama._utils import convert_function_to_tool

        assert Client is ollama_anyio.Client and AsyncClient is ollama_anyio.AsyncClient
        client_module = sys.modules["ollama._client"]
        assert client_module.Client is Client and client_module.AsyncClient is AsyncClient
        assert ollama._types.Message is Message is ollama_anyio.Message
        assert ChatResponse is ollama_anyio.ChatResponse and Options is ollama_anyio.Options
        assert ResponseError is ollama_anyio.ResponseError
        assert RequestError is ollama_anyio.RequestError
        assert isinstance(ollama_anyio.ChatResponse(), SubscriptableBaseModel)
        assert ollama.chat is ollama_anyio.chat and ollama.systemone is ollama_anyio.systemone
        missing = [name for name in {OFFICIAL_NAMES!r} if not hasattr(ollama, name)]
        assert not missing, missing

        def add(a: int, b: int) -> int:
            '''Add two numbers.

            Args:
                a: the first
                b: the second
            '''
            return a + b

        tool = convert_function_to_tool(add)
        assert isinstance(tool, ollama_anyio.Tool)
        assert tool.function.name == "add"
        assert tool.function.parameters.required == ["a", "b"]
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_install_twice_changes_nothing() -> None:
    result = _run(
        """
        import sys
        import ollama_anyio
        ollama_anyio.install_as_ollama()
        first = {name: sys.modules[name] for name in sys.modules if name.startswith("ollama.")}
        first["ollama"] = sys.modules["ollama"]
        ollama_anyio.install_as_ollama()
        again = {name: sys.modules[name] for name in sys.modules if name.startswith("ollama.")}
        again["ollama"] = sys.modules["ollama"]
        assert again == first and len(first) == 4, sorted(first)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_install_after_the_official_package_was_imported_refuses_and_replaces_nothing() -> None:
    result = _run(
        """
        import sys
        import ollama
        import ollama_anyio
        official = sys.modules["ollama"]
        try:
            ollama_anyio.install_as_ollama()
        except ImportError as exc:
            assert exc.name == "ollama"
            print(exc)
        assert sys.modules["ollama"] is official
        assert sys.modules["ollama._types"].__name__ == "ollama._types"
        assert not hasattr(sys.modules["ollama._types"], "__ollama_anyio_stand_in__")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "before the official ollama package is imported" in result.stdout
    assert "ollama, ollama._client" in result.stdout


def test_importing_ollama_anyio_does_not_install_it() -> None:
    result = _run(
        """
        import sys
        import ollama_anyio
        assert "ollama" not in sys.modules
        import ollama
        assert ollama.Client is not ollama_anyio.Client
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr


def test_the_stand_ins_can_be_found_as_the_official_package_is() -> None:
    result = _run(
        """
        import importlib.metadata
        import importlib.util
        import sys
        import ollama_anyio
        from ollama_anyio._install import OFFICIAL_VERSION
        ollama_anyio.install_as_ollama()
        for name in ("ollama", "ollama._client", "ollama._types", "ollama._utils"):
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.name == name, (name, spec)
        assert importlib.util.find_spec("ollama").submodule_search_locations == []
        assert importlib.metadata.version("ollama") == OFFICIAL_VERSION
        summary = importlib.metadata.metadata("ollama")["Summary"]
        assert "ollama-anyio" in summary, summary
        import ollama
        assert ollama.__version__ == OFFICIAL_VERSION
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_the_client_module_has_the_official_module_level_names() -> None:
    official_module = importlib.import_module("ollama._client")
    own = sorted(
        name
        for name, value in vars(official_module).items()
        if getattr(value, "__module__", None) == "ollama._client" or name.isupper()
    )
    result = _run(
        f"""
        import sys
        import ollama_anyio
        ollama_anyio.install_as_ollama()
        import ollama
        import ollama._client as attribute
        from ollama._client import (
            AsyncClient, BaseClient, Client, Message, Tool, _as_path, _copy_images,
            _copy_messages, _copy_tools, _parse_host,
        )
        module = sys.modules["ollama._client"]
        missing = [name for name in {own!r} if not hasattr(module, name)]
        assert not missing, missing
        # As in the official package, the package's "_client" is the Client behind ollama.chat
        assert isinstance(attribute, Client) and attribute is ollama._client
        assert isinstance(Client(), BaseClient) and isinstance(AsyncClient(), BaseClient)
        messages = list(_copy_messages([{{"role": "user", "content": "hi"}}]))
        assert messages == [Message(role="user", content="hi")], messages
        tools = list(_copy_tools([{{"type": "function", "function": {{"name": "f"}}}}]))
        assert isinstance(tools[0], Tool) and tools[0].function.name == "f"
        assert [image.value for image in _copy_images(["aGk="])] == ["aGk="]
        assert _as_path(sys.executable) is not None and _as_path("no such file") is None
        assert _parse_host(None) == "http://127.0.0.1:11434"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
