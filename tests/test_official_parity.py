"""Our public API against the installed official ``ollama`` package, name by name.

Everything the official package exports, every public method of its two clients and every
parameter of those methods must exist here too, usable the same way: a parameter passed by
position there is at the same position here, one with a default has a default here. Each
response type must offer every field the official model declares.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

import ollama
import pydantic
import pytest

import ollama_anyio
from conftest import FakeOllama, fixture_bytes

# The module-level functions: the official package binds them to its default client.
OFFICIAL_FUNCTIONS = sorted(
    name
    for name, value in vars(ollama).items()
    if isinstance(value, types.MethodType) and isinstance(value.__self__, ollama.Client)
)


def _public_methods(cls: type[Any]) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


def test_the_official_functions_are_found() -> None:
    # The check below must not pass for an empty list.
    assert {"chat", "generate", "embed", "list", "systemone", "web_fetch"} <= set(
        OFFICIAL_FUNCTIONS
    )


@pytest.mark.parametrize("name", sorted(ollama.__all__))
def test_every_official_export_exists(name: str) -> None:
    assert name in ollama_anyio.__all__
    assert getattr(ollama_anyio, name) is not None


@pytest.mark.parametrize("name", OFFICIAL_FUNCTIONS)
def test_every_official_module_function_exists(name: str) -> None:
    assert name in ollama_anyio.__all__
    _check_parameters(getattr(ollama, name), getattr(ollama_anyio, name), name)


def _official_method_cases() -> list[Any]:
    cases = []
    for official, ours in ((ollama.Client, "Client"), (ollama.AsyncClient, "AsyncClient")):
        for name in sorted(_public_methods(official)):
            cases.append(pytest.param(official, ours, name, id=f"{ours}.{name}"))
    return cases


@pytest.mark.parametrize(("official", "ours", "name"), _official_method_cases())
def test_every_official_client_method_exists_with_its_parameters(
    official: type[Any], ours: str, name: str
) -> None:
    ours_cls = getattr(ollama_anyio, ours)
    assert hasattr(ours_cls, name), f"{ours}.{name} is missing"
    theirs, mine = getattr(official, name), getattr(ours_cls, name)
    assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(theirs), name
    _check_parameters(theirs, mine, f"{ours}.{name}")


def _check_parameters(theirs: Any, mine: Any, where: str) -> None:
    official = [p for p in inspect.signature(theirs).parameters.values() if p.name != "self"]
    ours = [p for p in inspect.signature(mine).parameters.values() if p.name != "self"]
    by_name = {p.name: p for p in ours}
    positional = [p.name for p in ours if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for index, param in enumerate(official):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        mine_param = by_name.get(param.name)
        assert mine_param is not None, f"{where}: no parameter {param.name!r}"
        if param.kind is param.POSITIONAL_OR_KEYWORD:
            assert positional[index : index + 1] == [param.name], (
                f"{where}: {param.name!r} is not positional parameter {index}"
            )
        if param.default is not param.empty:
            assert mine_param.default is not param.empty, f"{where}: {param.name!r} needs a default"


def _response_types() -> list[Any]:
    return [
        pytest.param(name, id=name)
        for name in sorted(ollama.__all__)
        if isinstance(getattr(ollama, name), type)
        and issubclass(getattr(ollama, name), pydantic.BaseModel)
    ]


@pytest.mark.parametrize("name", _response_types())
def test_every_official_type_declares_the_official_fields(name: str) -> None:
    official: type[pydantic.BaseModel] = getattr(ollama, name)
    ours = getattr(ollama_anyio, name)
    for field in official.model_fields:
        assert hasattr(ours, field), f"{name}.{field} is missing"


@pytest.mark.parametrize(
    ("official", "ours"),
    [
        (ollama.ListResponse.Model, ollama_anyio.ListResponse.Model),
        (ollama.ProcessResponse.Model, ollama_anyio.ProcessResponse.Model),
        (ollama.Message.ToolCall, ollama_anyio.Message.ToolCall),
        (ollama.Message.ToolCall.Function, ollama_anyio.Message.ToolCall.Function),
        (ollama.Tool.Function, ollama_anyio.Tool.Function),
        (ollama.Tool.Function.Parameters, ollama_anyio.Tool.Function.Parameters),
        (ollama.Tool.Function.Parameters.Property, ollama_anyio.Tool.Function.Parameters.Property),
    ],
    ids=lambda cls: cls.__qualname__,
)
def test_nested_official_types_have_their_fields(official: Any, ours: Any) -> None:
    for field in official.model_fields:
        assert hasattr(ours, field), f"{official.__qualname__}.{field} is missing"


def test_the_parameter_check_finds_differences() -> None:
    def official(self: Any, model: str, prompt: str = "", *, stream: bool = False) -> None: ...

    def reordered(self: Any, prompt: str = "", model: str = "") -> None: ...

    def keyword_required(self: Any, model: str, prompt: str = "", *, stream: bool) -> None: ...

    def missing(self: Any, model: str, prompt: str = "") -> None: ...

    for wrong in (reordered, keyword_required, missing):
        with pytest.raises(AssertionError):
            _check_parameters(official, wrong, wrong.__name__)
    _check_parameters(official, official, "itself")


async def test_async_client_close_is_aclose(fake: FakeOllama) -> None:
    # The official AsyncClient's close() is a coroutine: ours closes streams and connections.
    fake.stream("/api/chat", fixture_bytes("chat-stream.ndjson"), hang=True)
    client = ollama_anyio.AsyncClient(transport=fake.transport)
    stream = await client.chat("llama3.2", [{"role": "user", "content": "Hi"}], stream=True)
    await stream.__anext__()
    await client.close()
    assert stream.closed
    assert fake.streams[0].closed
