"""Result objects answer as the official client's do (SPEC 9.4), fixture by fixture.

Every response fixture (each line of a stream) is decoded by both packages, and at every
depth the two objects are asked the same things: ``"x" in r``, ``r["x"]`` (or its KeyError),
``r.get("x", d)``, ``dict(r)`` and ``r.model_dump()``, for every field the official model
declares and for a name neither declares. Our types declare a few more fields than the
official ones (``remote_model``, ``tool_call_id``, ...): ``dict(r)`` may list those too, and
nothing else.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import ollama
import pydantic
import pytest

import ollama_anyio
import ollama_anyio._types_base
from conftest import FIXTURES

_ABSENT = object()
UNDECLARED = "not_a_field"

# fixture name prefix -> (our type, the official type)
KINDS: list[tuple[str, type[Any], type[pydantic.BaseModel]]] = [
    ("chat-", ollama_anyio.ChatResponse, ollama.ChatResponse),
    ("generate-", ollama_anyio.GenerateResponse, ollama.GenerateResponse),
    ("embeddings-", ollama_anyio.EmbeddingsResponse, ollama.EmbeddingsResponse),
    ("embed-", ollama_anyio.EmbedResponse, ollama.EmbedResponse),
    ("tags-", ollama_anyio.ListResponse, ollama.ListResponse),
    ("show-", ollama_anyio.ShowResponse, ollama.ShowResponse),
    ("ps-", ollama_anyio.ProcessResponse, ollama.ProcessResponse),
    ("pull-", ollama_anyio.ProgressResponse, ollama.ProgressResponse),
    ("push-", ollama_anyio.ProgressResponse, ollama.ProgressResponse),
    ("create-", ollama_anyio.ProgressResponse, ollama.ProgressResponse),
    ("status-success", ollama_anyio.StatusResponse, ollama.StatusResponse),
    ("web-search-", ollama_anyio.WebSearchResponse, ollama.WebSearchResponse),
    ("web-fetch-", ollama_anyio.WebFetchResponse, ollama.WebFetchResponse),
    ("systemone-", ollama_anyio.SystemOneResponse, ollama.SystemOneResponse),
]


def _payloads() -> Iterator[Any]:
    for path in sorted(FIXTURES.iterdir()):
        if path.name.endswith("-request.json") or path.suffix not in (".json", ".ndjson"):
            continue
        kind = next((k for k in KINDS if path.name.startswith(k[0])), None)
        if kind is None:
            continue  # errors, and endpoints the client has no method for
        lines = [path.read_bytes()] if path.suffix == ".json" else path.read_bytes().splitlines()
        for number, line in enumerate(lines):
            if line.strip() and b'"error"' not in line:
                yield pytest.param(line, kind[1], kind[2], id=f"{path.name}:{number}")


# Payloads no fixture has: fields sent as null, fields left out.
SYNTHETIC = [
    pytest.param(
        b'{"model":"m","created_at":null,"done":false,"done_reason":null,'
        b'"message":{"role":"assistant","content":"x"}}',
        ollama_anyio.ChatResponse,
        ollama.ChatResponse,
        id="chat-nulls",
    ),
    pytest.param(
        b'{"response":"x","thinking":null}',
        ollama_anyio.GenerateResponse,
        ollama.GenerateResponse,
        id="generate-sparse",
    ),
    pytest.param(
        b'{"models":[{"model":"m","size":null}]}',
        ollama_anyio.ListResponse,
        ollama.ListResponse,
        id="tags-null-size",
    ),
]


def _same(ours: Any, theirs: Any, where: str, superset: bool = False) -> Iterator[str]:
    """How ``ours`` differs from ``theirs``; with ``superset``, dicts may have more keys (the
    fields our types declare beyond the official ones, in model_dump() output)."""
    if isinstance(theirs, pydantic.BaseModel):
        if not isinstance(ours, msgspec.Struct):
            yield f"{where}: {ours!r} is not a Struct (the official one is a model)"
            return
        yield from _same_object(ours, theirs, where)
    elif isinstance(theirs, Mapping):
        if not isinstance(ours, Mapping) or not (
            set(ours) >= set(theirs) if superset else set(ours) == set(theirs)
        ):
            yield f"{where}: {ours!r} != {theirs!r}"
            return
        for key in theirs:
            yield from _same(ours[key], theirs[key], f"{where}[{key!r}]", superset)
    elif isinstance(theirs, (list, tuple)):
        if not isinstance(ours, (list, tuple)) or len(ours) != len(theirs):
            yield f"{where}: {ours!r} != {theirs!r}"
            return
        for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            yield from _same(a, b, f"{where}[{index}]", superset)
    elif isinstance(theirs, datetime.datetime):
        # msgspec rounds nanoseconds to the nearest microsecond, pydantic truncates them
        if not isinstance(ours, datetime.datetime) or abs(ours - theirs).total_seconds() > 1e-6:
            yield f"{where}: {ours!r} != {theirs!r}"
    elif type(ours) is not type(theirs) and not (
        isinstance(theirs, int) and type(ours) is int  # pydantic's ByteSize is an int
    ):
        yield f"{where}: {ours!r} ({type(ours).__name__}) != {theirs!r} ({type(theirs).__name__})"
    elif ours != theirs:
        yield f"{where}: {ours!r} != {theirs!r}"


def _same_object(ours: Any, theirs: Any, where: str) -> Iterator[str]:
    declared = list(type(theirs).model_fields)
    for name in [*declared, UNDECLARED]:
        at = f"{where}.{name}"
        if (name in ours) != (name in theirs):
            yield f"{at}: 'in' is {name in ours}, officially {name in theirs}"
        yield from _same(_item(ours, name), _item(theirs, name), f"{at}[]")
        yield from _same(ours.get(name, _ABSENT), theirs.get(name, _ABSENT), f"{at}.get()")
    ours_dict, theirs_dict = dict(ours), dict(theirs)
    if not set(theirs_dict) <= set(ours_dict):
        yield f"{where}: dict() lacks {sorted(set(theirs_dict) - set(ours_dict))}"
    # our additional fields are listed only when the payload has them
    extra = set(ours_dict) - set(theirs_dict)
    if any(name not in ours for name in extra):
        yield f"{where}: dict() lists absent fields the official model lacks: {sorted(extra)}"
    for name in theirs_dict:
        yield from _same(ours_dict.get(name), theirs_dict[name], f"{where} dict()[{name!r}]")
    ours_dump, theirs_dump = ours.model_dump(), theirs.model_dump()
    if not set(theirs_dump) <= set(ours_dump):
        yield f"{where}: model_dump() lacks {sorted(set(theirs_dump) - set(ours_dump))}"
    for name in theirs_dump:
        at = f"{where}.model_dump()[{name!r}]"
        yield from _same(ours_dump.get(name), theirs_dump[name], at, superset=True)


def _item(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except KeyError:
        return KeyError


@pytest.mark.parametrize(("payload", "ours_type", "theirs_type"), [*_payloads(), *SYNTHETIC])
def test_results_answer_as_the_official_ones(
    payload: bytes, ours_type: type[Any], theirs_type: type[pydantic.BaseModel]
) -> None:
    ours = msgspec.json.decode(payload, type=ours_type)
    theirs = theirs_type.model_validate(json.loads(payload))
    problems = list(_same(ours, theirs, "$"))
    assert not problems, "\n".join(problems)


def test_the_table_of_our_additional_fields_is_exact() -> None:
    # ollama_anyio._types_base._EXTRAS lists, per type, the fields the official model lacks.
    pairs: list[tuple[Any, Any]] = [
        (ollama_anyio.ChatResponse, ollama.ChatResponse),
        (ollama_anyio.GenerateResponse, ollama.GenerateResponse),
        (ollama_anyio.EmbedResponse, ollama.EmbedResponse),
        (ollama_anyio.ListResponse.Model, ollama.ListResponse.Model),
        (ollama_anyio.ShowResponse, ollama.ShowResponse),
        (ollama_anyio.ProcessResponse.Model, ollama.ProcessResponse.Model),
        (ollama_anyio.ModelDetails, ollama._types.ModelDetails),
        (ollama_anyio.Message, ollama.Message),
        (ollama_anyio.ToolCall, ollama.Message.ToolCall),
        (ollama_anyio.ToolCall.Function, ollama.Message.ToolCall.Function),
        (ollama_anyio.Logprob, ollama._types.Logprob),
        (ollama_anyio.Tool.Function.Parameters.Property, ollama.Tool.Function.Parameters.Property),
        (ollama_anyio.Options, ollama.Options),
        (ollama_anyio.ProgressResponse, ollama.ProgressResponse),
        (ollama_anyio.WebFetchResponse, ollama.WebFetchResponse),
    ]
    for ours, theirs in pairs:
        extra = {name for name in ours.__struct_fields__ if name not in theirs.model_fields}
        assert ollama_anyio._types_base._extra_fields(ours) == extra, ours.__name__


def test_every_decodable_fixture_is_compared() -> None:
    compared = {str(p.id).split(":")[0] for p in _payloads()}
    assert "systemone-response.json" in compared
    assert "show-thinking-levels-response.json" in compared
    assert "chat-stream-done-reason-only.ndjson" in compared
    assert len(compared) >= 44


def test_a_field_sent_as_null_is_in_the_result_and_one_left_out_is_not() -> None:
    chunk = msgspec.json.decode(b'{"done_reason":null,"done":true}', type=ollama_anyio.ChatResponse)
    assert "done_reason" in chunk
    assert chunk["done_reason"] is None
    assert "eval_count" not in chunk
    with pytest.raises(KeyError):
        chunk["eval_count"]
    assert chunk.eval_count is None
    assert chunk.get("eval_count", 5) is None  # a declared field: its value, as officially
    assert chunk.get(UNDECLARED, 5) == 5
    assert dict(chunk)["eval_count"] is None
    assert chunk.model_dump()["eval_count"] is None
    assert json.loads(chunk.model_dump_json())["eval_count"] is None
    chunk["eval_count"] = 3
    assert "eval_count" in chunk
    assert chunk.eval_count == 3


def test_created_at_is_the_servers_text_and_json_serialisable() -> None:
    line = (FIXTURES / "chat-stream.ndjson").read_bytes().splitlines()[0]
    chunk = msgspec.json.decode(line, type=ollama_anyio.ChatResponse)
    assert chunk.created_at == json.loads(line)["created_at"]  # nanoseconds kept
    assert json.loads(json.dumps(dict(chunk), default=dict))["created_at"] == chunk.created_at


def test_absent_fields_are_left_out_of_the_repr_and_the_encoding() -> None:
    chunk = msgspec.json.decode(b'{"model":"m","done":false}', type=ollama_anyio.ChatResponse)
    assert "eval_count" not in repr(chunk)
    assert "done=False" in repr(chunk)
    assert b"eval_count" not in msgspec.json.encode(chunk)


def test_image_model_dump_is_the_base64_text(tmp_path: Any) -> None:
    path = tmp_path / "pixel.png"
    path.write_bytes(b"\x89PNG")
    assert ollama_anyio.Image(value=b"\x89PNG").model_dump() == "iVBORw=="
    assert ollama_anyio.Image(value=path).model_dump() == "iVBORw=="
    assert ollama_anyio.Image(value="iVBORw==").model_dump() == "iVBORw=="
    official: Any = ollama.Image(value=path)
    assert official.model_dump() == "iVBORw=="  # as officially
    with pytest.raises(ollama_anyio.RequestError):
        ollama_anyio.Image(value=str(tmp_path / "missing.png")).model_dump()


@pytest.mark.parametrize(
    "name",
    ["ChatRequest", "GenerateRequest", "CreateRequest", "PullRequest", "PushRequest"],
)
def test_request_types_can_be_built_from_their_required_fields(name: str) -> None:
    ours = getattr(ollama_anyio._types, name)(model="m")
    theirs = getattr(ollama._types, name)(model="m")
    assert ours.stream is False
    assert msgspec.json.decode(msgspec.json.encode(ours))["stream"] is False
    assert theirs.stream in (None, False)


def test_model_dump_names_from_as_on_the_wire_and_can_leave_out_nones() -> None:
    request = ollama_anyio._types.CreateRequest(model="m", from_="base", quantize=None)
    assert request.model_dump()["from"] == "base"
    assert "from_" not in request.model_dump()
    assert request.model_dump(exclude_none=True) == {"model": "m", "stream": False, "from": "base"}
    chunk = msgspec.json.decode(b'{"model":"m","done":true}', type=ollama_anyio.ChatResponse)
    assert chunk.model_dump(exclude_none=True) == {
        "model": "m",
        "done": True,
        "message": {"role": "assistant", "content": ""},
    }
