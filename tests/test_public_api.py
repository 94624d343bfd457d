"""The public face: exports, a side-effect-free import, and parity with the official client."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import ollama
import pytest

import ollama_anyio
from ollama_anyio import AsyncClient, Client, _generated_client
from ollama_anyio._batch import AsyncBatch
from ollama_anyio._management import AsyncModels
from ollama_anyio._tool_runner import AsyncTools

OFFICIAL_NAMES = list(ollama.__all__)
# The module-level functions: the lower-case names of __all__ (generated from AsyncClient),
# but install_as_ollama, which is ours and calls no server.
FUNCTIONS = [
    name for name in ollama_anyio.__all__ if name.islower() and name != "install_as_ollama"
]


def test_all_is_sorted_and_complete() -> None:
    assert ollama_anyio.__all__ == sorted(ollama_anyio.__all__)
    for name in ollama_anyio.__all__:
        value = getattr(ollama_anyio, name)
        if not isinstance(value, type) or not hasattr(value, "__struct_fields__"):
            assert value.__module__ == "ollama_anyio", name
    public = {n for n in dir(ollama_anyio) if not n.startswith("_")}
    assert public == set(ollama_anyio.__all__)


# Every endpoint: AsyncClient's public coroutine methods (all marked in _endpoints) but
# aclose/close. Our helpers are not among them: they live in groups (client.models, ...).
ENDPOINTS = sorted(
    name
    for name in dir(AsyncClient)
    if inspect.iscoroutinefunction(getattr(AsyncClient, name))
    and not name.startswith("_")
    and name not in {"aclose", "close"}
)
# The helper groups, and their methods.
GROUPS = {"models": AsyncModels, "batch": AsyncBatch, "tools": AsyncTools}
HELPERS = [
    (group, name)
    for group, cls in GROUPS.items()
    for name in sorted(vars(cls))
    if inspect.iscoroutinefunction(vars(cls)[name]) and not name.startswith("_")
]

# Endpoints of both clients that are not module functions: two the official package has only
# on its clients.
NOT_FUNCTIONS = {"blob_exists", "version"}


def test_the_module_functions_are_the_endpoints_but_the_client_only_ones() -> None:
    assert [f for f in ENDPOINTS if f not in NOT_FUNCTIONS] == FUNCTIONS


if sys.version_info >= (3, 11):
    from typing import get_overloads
else:  # the test that needs it is skipped

    def get_overloads(function: Any) -> list[Callable[..., Any]]:
        return []


Shape = tuple[list[tuple[str, Any, Any, str]], str]


def _shapes(function: Callable[..., Any], module: str, *, method: bool) -> list[Shape]:
    """Each overload of ``function``, then its implementation: parameters and return type.

    Annotations are compared as written (strings), with ``AsyncStream`` read as ``Stream``.
    ``module`` is where ``function`` was defined: `typing.get_overloads` files overloads by
    module, and the package sets its exports' ``__module__`` to ``ollama_anyio``.
    """
    key = SimpleNamespace(__module__=module, __qualname__=function.__qualname__)
    shapes = []
    for variant in [*get_overloads(key), function]:
        signature = inspect.signature(variant)
        parameters = list(signature.parameters.values())[1 if method else 0 :]
        shapes.append(
            (
                [(p.name, p.kind, p.default, str(p.annotation)) for p in parameters],
                str(signature.return_annotation).replace("AsyncStream", "Stream"),
            )
        )
    return shapes


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is new in 3.11")
@pytest.mark.parametrize("name", ENDPOINTS)
def test_every_overload_is_the_same_on_both_clients_and_the_module_function(name: str) -> None:
    """Client's and the module function's overloads are AsyncClient's, AsyncStream read Stream."""
    ours = _shapes(getattr(AsyncClient, name), "ollama_anyio._endpoints", method=True)
    assert len(ours) >= 1
    if name in {"generate", "chat", "pull", "push", "create"}:
        returns = [shape[1] for shape in ours]
        if name in {"generate", "chat"}:  # first, format=<a type>: the reply parsed as it
            assert returns.pop(0).startswith("Parsed")
        assert len(returns) == 4  # stream: False, True, bool; the implementation
        assert returns[2] == returns[3]
        assert "Stream[" in returns[1]
    blocking = _shapes(getattr(Client, name), "ollama_anyio._generated_client", method=True)
    assert blocking == ours
    if name in FUNCTIONS:
        function = getattr(ollama_anyio, name)
        module = _shapes(function, "ollama_anyio._generated_functions", method=False)
        assert module == ours


def test_the_helpers_are_in_groups_and_none_is_an_endpoint_or_a_function() -> None:
    assert {name for _, name in HELPERS} >= {"ensure", "embed", "run"}
    assert not {"ensure", "embed_batch", "run_tools", "exists"} & set(ENDPOINTS)
    assert "run_tools" not in ollama_anyio.__all__
    assert [name for name, value in vars(AsyncClient).items() if not name.startswith("_")] == [
        *GROUPS,
        "with_raw_response",
        "with_streaming_response",
    ]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is new in 3.11")
@pytest.mark.parametrize(("group", "name"), HELPERS)
def test_every_helper_overload_is_the_same_on_both_clients(group: str, name: str) -> None:
    """A blocking group's methods have its async twin's overloads, AsyncStream read Stream."""
    cls = GROUPS[group]
    ours = _shapes(getattr(cls, name), cls.__module__, method=True)
    blocking_cls = getattr(_generated_client, cls.__name__.removeprefix("Async"))
    blocking = _shapes(getattr(blocking_cls, name), blocking_cls.__module__, method=True)
    assert blocking == ours


def test_the_groups_of_a_view_see_the_view() -> None:
    """``with_options`` gives a view whose groups send with the view's options."""
    client = AsyncClient()
    view = client.with_options(timeout=5)
    assert client.models is client.models
    assert view.models is not client.models
    assert view.batch._client is view
    assert client.tools._client is client


def test_with_options_takes_the_same_options_on_both_clients() -> None:
    """The README's ``client.with_options(timeout=10, max_retries=0)`` works on either client."""
    ours = list(inspect.signature(AsyncClient.with_options).parameters.values())[1:]
    blocking = list(inspect.signature(Client.with_options).parameters.values())[1:]
    assert [(p.name, p.kind, p.default, p.annotation) for p in blocking] == [
        (p.name, p.kind, p.default, p.annotation) for p in ours
    ]
    with Client() as client:
        view = client.with_options(timeout=10, max_retries=0)
        assert isinstance(view, Client)
        assert view.base_url == client.base_url


@pytest.mark.parametrize("name", OFFICIAL_NAMES + FUNCTIONS)
def test_every_official_name_exists(name: str) -> None:
    assert hasattr(ollama_anyio, name)


def _check_parameters(ours: Any, theirs: Any, where: str) -> None:
    our_parameters = inspect.signature(ours).parameters
    their_parameters = inspect.signature(theirs).parameters
    for name, theirs_p in their_parameters.items():
        assert name in our_parameters, f"{where}: missing parameter {name}"
        ours_p = our_parameters[name]
        assert ours_p.kind == theirs_p.kind, f"{where}({name}): kind"
        assert ours_p.default == theirs_p.default, f"{where}({name}): default"
    # Positional order is the same, and what we add is keyword-only with a default.
    assert [p for p in our_parameters if p in their_parameters] == list(their_parameters)
    for name, ours_p in our_parameters.items():
        if name not in their_parameters:
            assert ours_p.kind is inspect.Parameter.KEYWORD_ONLY, f"{where}({name})"
            assert ours_p.default is not inspect.Parameter.empty, f"{where}({name})"


@pytest.mark.parametrize("cls", ["Client", "AsyncClient"])
@pytest.mark.parametrize("method", [f for f in FUNCTIONS if hasattr(ollama.Client, f)])
def test_methods_take_the_official_parameters(cls: str, method: str) -> None:
    _check_parameters(
        getattr(getattr(ollama_anyio, cls), method),
        getattr(getattr(ollama, cls), method),
        f"{cls}.{method}",
    )


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if hasattr(ollama, f)])
def test_module_functions_take_the_official_parameters(function: str) -> None:
    _check_parameters(getattr(ollama_anyio, function), getattr(ollama, function), function)


IMPORT_PROBE = """
import os, sys, threading
read = []
class Watched(dict):
    def __getitem__(self, key):
        read.append(key); return super().__getitem__(key)
    def get(self, key, default=None):
        read.append(key); return super().get(key, default)
os.environ = Watched(os.environ)
before = threading.active_count()
import ollama_anyio
print(threading.active_count() - before, sorted(set(read) & {"OLLAMA_HOST", "OLLAMA_API_KEY"}),
      [m for m in ("trio", "httpx", "anyio") if m in sys.modules])
"""


def test_import_starts_no_thread_reads_no_environment_imports_no_io_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "0 [] []"


def test_the_default_client_is_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_anyio import _default

    monkeypatch.setattr(_default, "_client", None)
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:1234")
    client = _default.default_client()
    try:
        assert client.base_url == "http://gpu-box:1234"
        assert _default.default_client() is client
    finally:
        client.close()
