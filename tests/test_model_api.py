"""Our types built and read as the official pydantic models are, compared with the official ones.

Code built on the official client constructs its types from nested dicts
(``ChatResponse(message={...})``), lists their fields through ``model_fields``, validates and
copies them. The same operations on both packages give the same results here; the tests that
use pydantic models of their own are in tests/dropin (``nox -s dropin``).
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import ollama
import ollama._types as official_types
import pytest

import ollama_anyio
from ollama_anyio import _types as ours_types

CALL = {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}


@pytest.mark.parametrize("package", [ollama_anyio, ollama], ids=["ours", "official"])
def test_nested_dicts_become_our_types(package: Any) -> None:
    response = package.ChatResponse(
        model="m", message={"role": "assistant", "content": "", "tool_calls": [CALL]}
    )
    assert isinstance(response.message, package.Message)
    call = response.message.tool_calls[0]
    assert call.function.name == "add"
    assert call.function.arguments == {"a": 1, "b": 2}
    message = package.Message(role="assistant", tool_calls=[CALL])
    assert message.tool_calls[0].function.name == "add"
    assert message.tool_calls[0]["function"]["arguments"]["b"] == 2


def test_every_nested_type_is_converted() -> None:
    ours: Any = ollama_anyio  # (dicts where the signatures say our types)
    types: Any = ours_types
    generate = ours.GenerateResponse(
        response="x", logprobs=[{"token": "x", "logprob": -0.5, "top_logprobs": [{"token": "y"}]}]
    )
    assert generate.logprobs is not None
    assert isinstance(generate.logprobs[0], ollama_anyio.Logprob)
    assert isinstance(generate.logprobs[0].top_logprobs[0], ollama_anyio.TokenLogprob)  # type: ignore[index]
    request = types.ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    )
    assert isinstance(request.messages[0], ollama_anyio.Message)
    assert isinstance(request.tools[0], ollama_anyio.Tool)
    assert request.tools[0].function.parameters.type == "object"  # type: ignore[union-attr]
    listing = ours.ListResponse(models=[{"model": "m", "details": {"family": "llama"}}])
    assert listing.models[0].details.family == "llama"
    show = ours.ShowResponse(modified_at="2024-05-01T12:00:00Z")
    assert show.modified_at is not None
    assert show.modified_at.year == 2024
    options = ours.Options(temperature="0.5", num_ctx=2048)
    assert options.temperature == 0.5  # lax, as pydantic: a numeric string is a number


def test_values_of_the_right_type_are_kept_as_given() -> None:
    messages = [ollama_anyio.Message(role="user", content="hi")]
    request = ours_types.ChatRequest(model="m", messages=messages, keep_alive=5)
    assert request.messages[0] is messages[0]
    assert request.keep_alive == 5
    assert isinstance(request.keep_alive, int)


@pytest.mark.parametrize(
    "build",
    [
        lambda p: p.Message(role=1),
        lambda p: p.Message(role="user", tool_calls=[{"function": {"name": 1}}]),
        lambda p: p.ChatResponse(message={"role": ["no"]}),
        lambda p: p.Options(temperature="hot"),
        lambda p: p._types.ChatRequest(),  # no model
    ],
    ids=["scalar", "nested", "response", "options", "missing"],
)
@pytest.mark.parametrize("package", [ollama_anyio, ollama], ids=["ours", "official"])
def test_a_bad_value_is_a_validation_error(package: Any, build: Any) -> None:
    import pydantic

    if package is ollama_anyio:
        package = type("Ours", (), {"_types": ours_types, **vars(ollama_anyio)})
    with pytest.raises(pydantic.ValidationError) as info:
        build(package)
    assert isinstance(info.value, ValueError)
    assert info.value.errors()[0]["loc"][0] in {
        "role",
        "tool_calls",
        "message",
        "temperature",
        "model",
    }


def test_a_bad_value_is_a_value_error_without_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pydantic_core", None)  # import fails as if absent
    with pytest.raises(msgspec.ValidationError, match=r"^Message\.tool_calls\.0\.function\.name: "):
        ollama_anyio.Message(tool_calls=[{"function": {"name": 1}}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"^ChatRequest\.model: field required"):
        ours_types.ChatRequest()  # type: ignore[call-arg]


@pytest.mark.parametrize("package", [ollama_anyio, ollama], ids=["ours", "official"])
def test_keywords_that_are_not_fields_are_ignored(package: Any) -> None:
    message = package.Message(role="user", content="hi", name="someone")
    assert message.content == "hi"
    assert not hasattr(message, "name")


def test_model_fields_lists_the_official_fields() -> None:
    for name in ("ChatRequest", "GenerateRequest", "Message", "ChatResponse", "Options", "Tool"):
        official = getattr(official_types, name).model_fields
        ours = getattr(ours_types, name).model_fields
        assert set(official) <= set(ours), (name, set(official) - set(ours))
        for field, info in ours.items():  # (ours has defaults where a response may omit one)
            assert not info.is_required() or official[field].is_required(), (name, field)
    assert ours_types.ChatRequest.model_fields["model"].is_required()
    assert ollama_anyio.Message.model_fields["role"].annotation is str
    assert ours_types.CreateRequest.model_fields["from_"].alias == "from"


@pytest.mark.parametrize("package", [ollama_anyio, ollama], ids=["ours", "official"])
def test_validate_dump_and_copy_as_the_official_models(package: Any) -> None:
    data = {"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": True}
    response = package.ChatResponse.model_validate(data)
    assert response.message.content == "hi"
    assert package.ChatResponse.model_validate(response) is response
    assert response.model_fields_set == {"model", "message", "done"}
    assert response.model_dump(exclude_unset=True) == {
        "model": "m",
        "message": {"role": "assistant", "content": "hi"},
        "done": True,
    }
    assert response.model_dump(include={"model", "done"}) == {"model": "m", "done": True}
    assert "message" not in response.model_dump(exclude={"message"})
    again = package.ChatResponse.model_validate_json(response.model_dump_json())
    assert again.message.content == "hi"
    assert again.done is True
    deep = response.model_copy(deep=True)
    assert deep.message is not response.message
    assert deep.message.content == "hi"
    shallow = response.model_copy(update={"done": False})
    assert shallow.message is response.message
    assert shallow.done is False
    with pytest.raises(ValueError):  # noqa: PT011  (pydantic's ValidationError on both)
        package.ChatResponse.model_validate_json(b"{not json")


def test_copy_deepcopy_keeps_fields_left_out_as_left_out() -> None:
    response = msgspec.json.decode(b'{"model":"m","done":true}', type=ollama_anyio.ChatResponse)
    for copied in (copy.deepcopy(response), response.model_copy(deep=True)):
        assert "total_duration" not in copied
        assert copied.total_duration is None
        assert copied == response


def test_json_schema_without_pydantic_is_msgspecs(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_anyio import _pydantic

    monkeypatch.setattr(_pydantic, "_pydantic_installed", lambda: False)
    schema = ollama_anyio.Message.model_json_schema()
    assert schema["title"] == "Message"
    assert schema["type"] == "object"
    assert schema["properties"]["tool_calls"]["anyOf"][0]["items"] == {"$ref": "#/$defs/ToolCall"}
    assert "ToolCall" in schema["$defs"]


def test_decoding_does_not_go_through_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_anyio import _pydantic

    calls: list[str] = []

    def plan(cls: type[Any]) -> dict[str, Any]:
        calls.append(cls.__name__)
        return {}

    monkeypatch.setattr(_pydantic, "_plan", plan)
    _pydantic._PLANS.clear()
    try:
        chunk = b'{"model":"m","message":{"role":"assistant","content":"x"},"done":false}'
        msgspec.json.decode(chunk, type=ollama_anyio.ChatResponse)
        msgspec.json.decode(b'{"done":true}', type=ollama_anyio.ChatResponse)  # default message
        assert calls == []
        ollama_anyio.Message(role="user")
        assert calls == ["Message"]
    finally:
        _pydantic._PLANS.clear()
