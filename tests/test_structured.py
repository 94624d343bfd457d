"""Structured output: ``format=<type>`` sends the type's JSON schema, and ``parse`` reads it back.

Against the emulator, which answers a schema ``format`` with a conforming value, and with
scripted replies for answers that do not conform or were cut at the length limit.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from typing import Any, Literal, TypedDict, cast

import msgspec
import pytest

from ollama_anyio import (
    AsyncClient,
    ChatResponse,
    Client,
    GenerateResponse,
    OllamaError,
    RequestError,
    StructuredOutputError,
)
from ollama_anyio._structured import parse, schema_of
from ollama_anyio.testing import OllamaEmulator, Reply, ThreadedEmulator


class Pet(msgspec.Struct):
    name: str
    kind: Literal["cat", "dog"]
    age: int


@dataclasses.dataclass
class City:
    name: str
    population: int
    districts: list[str]


class Book(TypedDict):
    title: str
    pages: int


SHAPES: list[type[Any]] = [Pet, City, Book]
try:
    import pydantic

    class Country(pydantic.BaseModel):
        name: str
        capital: str
        languages: list[str]

    SHAPES.append(Country)
except ImportError:  # pragma: no cover - pydantic is optional
    pass

PROMPT = [{"role": "user", "content": "Describe one, as JSON."}]


def _check(value: object, cls: type[Any]) -> None:
    if cls is Book:
        assert isinstance(value, dict)
        assert set(value) == {"title", "pages"}
        assert isinstance(value["pages"], int)
    else:
        assert isinstance(value, cls)


@pytest.mark.parametrize("cls", SHAPES, ids=lambda cls: cls.__name__)
async def test_a_type_is_sent_as_its_schema_and_the_chat_answer_parses_into_it(
    emu: OllamaEmulator, emu_client: AsyncClient, cls: type[Any]
) -> None:
    reply = await emu_client.chat("llama3.2", PROMPT, format=cls)
    sent = emu.requests[-1].json["format"]
    assert sent == schema_of(cls)
    assert sent["type"] == "object"
    assert set(sent["required"]) == set(sent["properties"])
    _check(reply.parsed, cls)  # already read as the type: named once, at the call
    _check(reply.parse(cls), cls)
    _check(reply.message.parse(cls), cls)
    assert isinstance(reply, ChatResponse)
    assert msgspec.json.encode(reply) == msgspec.json.encode(
        msgspec.json.decode(msgspec.json.encode(reply), type=ChatResponse)
    )  # the official shape: the parsed value is no field of the reply
    assert "parsed" not in reply.model_dump()


@pytest.mark.parametrize("cls", SHAPES, ids=lambda cls: cls.__name__)
async def test_a_generate_answer_to_a_type_is_parsed_at_once(
    emu_client: AsyncClient, cls: type[Any]
) -> None:
    reply = await emu_client.generate("llama3.2", "Describe one.", format=cls)
    _check(reply.parsed, cls)
    assert isinstance(reply, GenerateResponse)
    raw = await emu_client.with_raw_response.generate("llama3.2", "Describe one.", format=cls)
    _check(raw.parsed.parsed, cls)


async def test_a_json_or_schema_format_gives_a_plain_answer(emu_client: AsyncClient) -> None:
    reply = await emu_client.chat("llama3.2", PROMPT, format="json")
    assert type(reply) is ChatResponse
    assert not hasattr(reply, "parsed")


@pytest.mark.parametrize("cls", SHAPES, ids=lambda cls: cls.__name__)
async def test_a_streamed_generate_answer_parses_into_the_type_once_collected(
    emu_client: AsyncClient, cls: type[Any]
) -> None:
    stream = await emu_client.generate("llama3.2", "Describe one.", format=cls, stream=True)
    async with stream:
        final = await stream.collect()
    _check(final.parse(cls), cls)


async def test_the_official_format_shapes_are_sent_unchanged(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    await emu_client.generate("llama3.2", "x", format="json")
    await emu_client.generate("llama3.2", "x", format=schema)
    assert [r.json["format"] for r in emu.requests[-2:]] == ["json", schema]


async def test_a_non_conforming_answer_raises_with_the_raw_text(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script('{"name": "Rex", "kind": "parrot", "age": 3}')
    with pytest.raises(StructuredOutputError) as caught:
        await emu_client.chat("llama3.2", PROMPT, format=Pet)
    error = caught.value
    assert isinstance(error, OllamaError)
    assert isinstance(error, ValueError)  # as pydantic's ValidationError is
    assert error.text == '{"name": "Rex", "kind": "parrot", "age": 3}'
    assert "kind" in error.error
    assert error.truncated is False
    assert isinstance(error.reply, ChatResponse)  # the whole answer is kept
    assert error.reply.message.content == error.text
    with pytest.raises(ValueError, match="does not conform"):
        error.reply.parse(Pet)


async def test_an_answer_cut_at_the_length_limit_says_so(emu_client: AsyncClient) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        await emu_client.chat("llama3.2", PROMPT, format=City, options={"num_predict": 4})
    reply = caught.value.reply
    assert reply.done_reason == "length"
    assert caught.value.truncated is True
    assert caught.value.text == reply.message.content
    assert "length limit" in str(caught.value)


async def test_a_text_that_is_not_json_raises_the_typed_error(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(content="Sure! Here is a pet: Rex."))
    with pytest.raises(StructuredOutputError) as caught:
        await emu_client.generate("llama3.2", "x", format=Pet)
    assert caught.value.text == "Sure! Here is a pet: Rex."


async def test_a_type_without_a_schema_is_refused_before_sending(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    class Plain:
        pass

    with pytest.raises(RequestError, match="Plain has no JSON schema"):
        await emu_client.chat("llama3.2", PROMPT, format=Plain)
    assert not emu.requests


def test_the_blocking_client_takes_a_type_too(portal_backend: str) -> None:
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(emu.url, backend=cast(Any, portal_backend)) as c,
    ):
        assert isinstance(c.chat("llama3.2", PROMPT, format=Pet).parse(Pet), Pet)
        assert isinstance(c.chat("llama3.2", PROMPT, format=Pet).parsed, Pet)
        assert isinstance(c.generate("llama3.2", "x", format=City).parsed, City)
        with c.chat("llama3.2", PROMPT, format=Pet, stream=True) as parts:
            assert isinstance(parts.collect().parse(Pet), Pet)


def test_the_ollama_emulator_fixture_answers_with_a_conforming_value(
    ollama_emulator: ThreadedEmulator,
) -> None:
    with Client(ollama_emulator.url) as c:
        reply = c.generate("qwen3", "A city, please.", format=City, think=False)
    city = reply.parse(City)
    assert len(city.districts) >= 1


class Node(msgspec.Struct):
    label: str
    children: list[Node] = []


def test_a_recursive_type_keeps_its_definitions() -> None:
    schema = schema_of(Node)
    assert schema["type"] == "object"
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert parse('{"label": "a", "children": [{"label": "b"}]}', Node).children[0].label == "b"


def test_the_error_survives_pickling() -> None:
    error = StructuredOutputError("{", "truncated JSON", truncated=True)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.text, copy.error, copy.truncated) == ("{", "truncated JSON", True)


def test_pydantic_is_never_imported_by_the_package() -> None:
    probe = (
        "import sys, msgspec, ollama_anyio, ollama_anyio._requests\n"
        "class P(msgspec.Struct):\n"
        "    a: int\n"
        "ollama_anyio._requests._format(P)\n"
        "assert 'pydantic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
