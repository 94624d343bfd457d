"""`install_as_ollama`: ``import ollama`` gives ollama-anyio, for code built on the official one.

Libraries written against the official ``ollama`` package (langchain-ollama, llama-index's Ollama
integrations, the ``llm`` plugin) import it by name, and some import its private modules too
(``ollama._types``, ``ollama._client``, ``ollama._utils.convert_function_to_tool``); tracing
tools wrap ``ollama._client.Client._request`` and look the package up with
``importlib.util.find_spec`` and ``importlib.metadata.version``. Putting stand-ins for those
four modules in ``sys.modules``, each with a real ``__spec__``, and a distribution named
``ollama`` where ``importlib.metadata`` looks, before the libraries are imported, runs them on
this client unchanged, as PyMySQL's ``install_as_MySQLdb()`` does for MySQLdb.
"""

from __future__ import annotations

import abc
import importlib
import importlib.machinery
import importlib.metadata
import os
import pathlib
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["OFFICIAL_VERSION", "install_as_ollama"]

_MARK = "__ollama_anyio_stand_in__"

# The release of the official client whose API (and types) ollama-anyio follows: the version
# importlib.metadata reports for "ollama" while the stand-ins are installed.
OFFICIAL_VERSION = "0.6.3"


class _Package(types.ModuleType):
    """``ollama``: every name looked up in ollama_anyio, so its lazy names stay lazy."""

    def __getattr__(self, name: str) -> Any:
        if name == "_client":
            # As in the official package, whose __init__ rebinds the name ``_client`` to the
            # Client behind its module functions (tools re-bind ``ollama.chat`` through it).
            from ._default import default_client

            return default_client()
        return getattr(_package(), name)

    def __dir__(self) -> list[str]:
        return dir(_package())


def _package() -> types.ModuleType:
    # ollama_anyio itself, imported already (it is what loads this module, lazily): looked up
    # rather than imported, so that the package and this module do not import each other.
    return sys.modules[__package__ or "ollama_anyio"]


def _spec(name: str, *, package: bool = False) -> importlib.machinery.ModuleSpec:
    spec = importlib.machinery.ModuleSpec(
        name, None, origin=_package().__file__, is_package=package
    )
    if package:
        spec.submodule_search_locations = []
    return spec


def _module(name: str, doc: str, names: Mapping[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(names)
    module.__spec__ = _spec(name)
    module.__package__ = "ollama"
    setattr(module, _MARK, True)
    return module


# ---------------------------------------------------------------------------------------------
# ollama._client's own names, for tools that wrap or call them


class BaseClient(abc.ABC):  # noqa: B024  (an ABC only for isinstance: Client and AsyncClient)
    """What ``Client`` and ``AsyncClient`` are instances of, as in the official module."""


_T = TypeVar("_T")

CONNECTION_ERROR_MESSAGE = (
    "could not connect to the Ollama server: is it running? (https://ollama.com/download)"
)


def _copy_messages(messages: Sequence[Mapping[str, Any] | Any] | None) -> Iterator[Any]:
    """Each message as a `Message`, checked and with its images encoded (as ``chat`` sends)."""
    from ._requests import message_list

    yield from message_list(messages)


def _copy_tools(tools: Sequence[Any] | None = None) -> Iterator[Any]:
    """Each tool (a `Tool`, a mapping or a function) as a `Tool`."""
    from ._tools import convert_tools

    yield from convert_tools(tools)


def _copy_images(images: Iterable[Any] | None) -> Iterator[Any]:
    """Each image as an `Image`."""
    from ._types import Image

    for image in images or ():
        yield image if isinstance(image, Image) else Image(value=image)


def _as_path(value: str | os.PathLike[str] | None) -> pathlib.Path | None:
    """``value`` as a path if it names an existing file or directory, else None."""
    if isinstance(value, (str, os.PathLike)):
        try:
            path = pathlib.Path(value)
            if path.exists():
                return path
        except (OSError, ValueError):
            return None
    return None


def _client_names() -> dict[str, Any]:
    from . import _config

    parse_host: Callable[[str | None], str] = _config.parse_host
    return {
        "BaseClient": BaseClient,
        "CONNECTION_ERROR_MESSAGE": CONNECTION_ERROR_MESSAGE,
        "T": _T,
        "_as_path": _as_path,
        "_copy_images": _copy_images,
        "_copy_messages": _copy_messages,
        "_copy_tools": _copy_tools,
        "_parse_host": parse_host,
    }


# ---------------------------------------------------------------------------------------------
# importlib.metadata


class _Distribution(importlib.metadata.Distribution):
    """The ``ollama`` distribution, as importlib.metadata reports it while installed."""

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            version = getattr(_package(), "__version__", "")
            return (
                "Metadata-Version: 2.1\n"
                "Name: ollama\n"
                f"Version: {OFFICIAL_VERSION}\n"
                f"Summary: ollama-anyio {version} standing in for ollama "
                "(install_as_ollama)\n"
            )
        if filename == "top_level.txt":
            return "ollama\n"
        return None

    def locate_file(self, path: str | os.PathLike[str]) -> pathlib.Path:
        return pathlib.Path(path)


class _DistributionFinder(importlib.metadata.DistributionFinder):
    """A finder on ``sys.meta_path`` that finds no module, only the ``ollama`` distribution."""

    def find_spec(self, *args: Any, **kwargs: Any) -> None:
        return None

    def find_distributions(
        self, context: importlib.metadata.DistributionFinder.Context | None = None
    ) -> Iterable[importlib.metadata.Distribution]:
        name = getattr(context, "name", None)
        if name is None or name.replace("_", "-").lower() == "ollama":
            return [_Distribution()]
        return []


# ---------------------------------------------------------------------------------------------


def _stand_ins() -> dict[str, types.ModuleType]:
    ollama_anyio = _package()
    from . import _tools
    from ._errors import RequestError, ResponseError

    # Through the package's lazy names, wherever the classes are defined.
    Client, AsyncClient = ollama_anyio.Client, ollama_anyio.AsyncClient
    BaseClient.register(Client)
    BaseClient.register(AsyncClient)

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
        {
            "Client": Client,
            "AsyncClient": AsyncClient,
            "convert_function_to_tool": _tools.convert_function_to_tool,
            **type_names,
            **_client_names(),
        },
    )
    utils = _module(
        "ollama._utils",
        "ollama-anyio's helpers, as ollama._utils.",
        {"convert_function_to_tool": _tools.convert_function_to_tool},
    )
    package = _Package("ollama", ollama_anyio.__doc__)
    package.__path__ = []  # a package: "import ollama._types" looks in sys.modules first
    package.__spec__ = _spec("ollama", package=True)
    package.__package__ = "ollama"
    package.__dict__.update(
        __all__=list(ollama_anyio.__all__),
        __version__=OFFICIAL_VERSION,
        _types=private_types,
        _utils=utils,
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
    on `Client` and `AsyncClient` unchanged. It also puts a finder first on ``sys.meta_path``
    that gives ``importlib.metadata`` a distribution named ``ollama`` at `OFFICIAL_VERSION`
    (ahead of the official one, if that is installed too), so that version checks pass.
    Calling it again does nothing.

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
    if not any(isinstance(finder, _DistributionFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DistributionFinder())
