"""`install_as_ollama()`: ``import ollama`` gives ollama-anyio, for code built on the official one.

It changes ``sys.modules``, so each check runs in a fresh interpreter.
"""

from __future__ import annotations

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
        import ollama_anyio
        ollama_anyio.install_as_ollama()
        import ollama
        import ollama._client
        import ollama._types
        from ollama import AsyncClient, ChatResponse, Client, Message, Options, ResponseError
        from ollama._types import RequestError, SubscriptableBaseModel
        from ollama._utils import convert_function_to_tool

        assert Client is ollama_anyio.Client and AsyncClient is ollama_anyio.AsyncClient
        assert ollama._client.Client is Client and ollama._client.AsyncClient is AsyncClient
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
