"""Our types as field types of pydantic models, in TypeAdapters and in FastAPI, as the official.

Libraries declare our types as fields of their own pydantic models (a configuration model
with ``Mapping[str, Any] | ollama.Options``, a history ``list[ollama.Message]``), and web
services take and return them as request and response models. Each test runs the same model
on the official types and on ours and compares what they give. pydantic comes with the
official package (a test dependency); FastAPI is installed by ``nox -s dropin``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import ollama
import ollama._types as official_types
import pydantic
import pytest

import ollama_anyio
from ollama_anyio import _types as ours_types

PACKAGES = pytest.mark.parametrize("types", [ours_types, official_types], ids=["ours", "official"])
HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Paris"}}}],
    },
    {"role": "tool", "content": "sunny", "tool_name": "weather"},
]


def _models(types: Any) -> tuple[Any, Any]:
    class Settings(pydantic.BaseModel):  # e.g. an integration's configuration
        model: str
        options: Mapping[str, Any] | types.Options | None = None

    class Conversation(pydantic.BaseModel):
        history: list[types.Message]
        last: types.ChatResponse | None = None

    return Settings, Conversation


@PACKAGES
def test_a_model_with_our_types_as_fields_validates_and_dumps(types: Any) -> None:
    settings_model, conversation_model = _models(types)
    settings = settings_model(model="llama3.2", options=types.Options(temperature=0.5))
    assert isinstance(settings.options, types.Options)
    assert settings_model(model="m", options={"temperature": 1}).options == {"temperature": 1}
    conversation = conversation_model.model_validate(
        {"history": HISTORY, "last": {"model": "m", "message": {"role": "assistant"}}}
    )
    call = conversation.history[1].tool_calls[0]
    assert isinstance(conversation.history[1], types.Message)
    assert call.function.name == "weather"
    assert call.function.arguments == {"city": "Paris"}
    assert isinstance(conversation.last, types.ChatResponse)
    dumped = conversation.model_dump(exclude_none=True)
    assert dumped["history"][1]["tool_calls"] == [
        {"function": {"name": "weather", "arguments": {"city": "Paris"}}}
    ]
    again = conversation_model.model_validate_json(conversation.model_dump_json())
    assert again.history[2].tool_name == "weather"


def test_our_dumps_match_the_official_ones() -> None:
    results = []
    for types in (ours_types, official_types):
        _, conversation_model = _models(types)
        conversation = conversation_model.model_validate({"history": HISTORY})
        results.append(json.loads(conversation.model_dump_json(exclude_none=True)))
    assert results[0] == results[1]


@PACKAGES
def test_a_bad_field_is_a_validation_error_at_its_place(types: Any) -> None:
    _, conversation_model = _models(types)
    with pytest.raises(pydantic.ValidationError) as info:
        conversation_model.model_validate({"history": [{"role": "user", "content": 3}]})
    assert [error["loc"] for error in info.value.errors()] == [("history", 0, "content")]


@PACKAGES
def test_type_adapter_of_a_type_and_of_a_list(types: Any) -> None:
    adapter = pydantic.TypeAdapter(types.Message)
    message = adapter.validate_python({"role": "user", "content": "hi"})
    assert isinstance(message, types.Message)
    assert adapter.validate_json('{"role": "user", "content": "hi"}') == message
    assert adapter.dump_python(message, exclude_none=True) == {"role": "user", "content": "hi"}
    many = pydantic.TypeAdapter(list[types.Message]).validate_python(HISTORY)
    assert [m.role for m in many] == ["user", "assistant", "tool"]


def test_json_schemas_name_the_same_types_and_fields() -> None:
    schemas = []
    for types in (ours_types, official_types):
        _, conversation_model = _models(types)
        schemas.append(conversation_model.model_json_schema())
    ours, official = schemas
    assert {"Message", "ChatResponse", "ToolCall"} <= set(ours["$defs"])
    for name in ("Message", "ChatResponse"):
        assert set(official["$defs"][name]["properties"]) <= set(ours["$defs"][name]["properties"])
    assert ours["properties"]["history"]["items"] == {"$ref": "#/$defs/Message"}
    message = ollama_anyio.Message.model_json_schema()
    assert message["title"] == "Message"
    assert message["properties"]["tool_calls"]["anyOf"][0]["items"] == {"$ref": "#/$defs/ToolCall"}


@pytest.mark.parametrize("package", [ollama_anyio, ollama], ids=["ours", "official"])
async def test_fastapi_request_and_response_models(package: Any) -> None:
    fastapi = pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    app = fastapi.FastAPI()

    def echo(message: Any) -> Any:
        return package.ChatResponse(model="m", message=message, done=True)

    # (set here: this module's annotations are strings FastAPI could not resolve)
    echo.__annotations__ = {"message": package.Message, "return": package.ChatResponse}
    app.post("/echo")(echo)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        good = await client.post("/echo", json={"role": "user", "content": "hi"})
        bad = await client.post("/echo", json={"role": "user", "content": 3})
        schema = (await client.get("/openapi.json")).json()
    assert good.status_code == 200
    assert good.json()["message"] == {
        "role": "user",
        "content": "hi",
        "thinking": None,
        "images": None,
        "tool_calls": None,
        "tool_name": None,
    }
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "content"]
    assert {"Message", "ChatResponse"} <= set(schema["components"]["schemas"])
