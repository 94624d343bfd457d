"""`install_as_ollama`: ``import ollama`` gives ollama-anyio, for code built on the official one.

Libraries written against the official ``ollama`` package (langchain-ollama, llama-index's Ollama
integrations, the ``llm`` plugin) import it by name, and some import its private modules too
(``ollama._types``, ``ollama._client``, ``ollama._utils.convert_function_to_tool``). Putting
stand-ins for those four modules in ``sys.modules`` before the libraries are imported runs them
on this client unchanged, as PyMySQL's ``install_as_MySQLdb()`` does for MySQLdb.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["install_as_ollama"]

_MARK = "__ollama_anyio_stand_in__"


class _Package(types.ModuleType):
    """``ollama``: every name looked up in ollama_anyio, so its lazy names stay lazy."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_package(), name)

    def __dir__(self) -> list[str]:
        return dir(_package())


def _package() -> types.ModuleType:
    # ollama_anyio itself, imported already (it is what loads this module, lazily): looked up
    # rather than imported, so that the package and this module do not import each other.
    return sys.modules[__package__ or "ollama_anyio"]


def _module(name: str, doc: str, names: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(names)
    setattr(module, _MARK, True)
    return module


def _stand_ins() -> dict[str, types.ModuleType]:
    ollama_anyio = _package()
    from . import _tools
    from ._errors import RequestError, ResponseError

    # Through the package's lazy names, wherever the classes are defined.
    Client, AsyncClient = ollama_anyio.Client, ollama_anyio.AsyncClient

    _types = importlib.import_module("._types", __package__)  # (every type, requests too)
    type_names = {name: getattr(_types, name) for name in _types.__all__}
    type_names.update(
        RequestError=RequestError,
        ResponseError=ResponseError,
        # the base class under its official name, for isinstance checks
        SubscriptableBaseModel=_types.SubscriptableStruct,
    )
    private_types = _module("ollama._types", "ollama-anyio's types, as ollama._types.", type_names)
    client = _module(
        "ollama._client",
        "ollama-anyio's clients, as ollama._client.",
        {"Client": Client, "AsyncClient": AsyncClient, **type_names},
    )
    utils = _module(
        "ollama._utils",
        "ollama-anyio's helpers, as ollama._utils.",
        {"convert_function_to_tool": _tools.convert_function_to_tool},
    )
    package = _Package("ollama", ollama_anyio.__doc__)
    package.__path__ = []  # a package: "import ollama._types" looks in sys.modules first
    package.__dict__.update(
        __all__=list(ollama_anyio.__all__), _types=private_types, _client=client, _utils=utils
    )
    setattr(package, _MARK, True)
    return {
        "ollama": package,
        "ollama._types": private_types,
        "ollama._client": client,
        "ollama._utils": utils,
    }


def install_as_ollama() -> None:
    """Make ``import ollama`` (and ``ollama._types``, ``_client``, ``_utils``) give ollama-anyio.

    Call it before importing a library built on the official client; the library then runs
    on `Client` and `AsyncClient` unchanged. Calling it again does nothing.

    Raises:
        ImportError: the official ``ollama`` (or one of its modules) was imported already.
            Replacing it then would leave the objects taken from it in place, mixing two
            clients: call ``install_as_ollama()`` earlier, before anything imports ``ollama``.
    """
    present = sorted(
        name
        for name, module in sys.modules.items()
        if (name == "ollama" or name.startswith("ollama.")) and not getattr(module, _MARK, False)
    )
    if present:
        raise ImportError(
            f"install_as_ollama() must run before the official ollama package is imported, "
            f"and {', '.join(present)} is imported already",
            name="ollama",
        )
    if "ollama" in sys.modules:  # installed before
        return
    sys.modules.update(_stand_ins())
