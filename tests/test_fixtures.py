"""Every response fixture, decoded by the client: the whole answers, the streams and the errors.

Each fixture is served by the fake server at its endpoint and read through the public API, three
ways: `AsyncClient` on asyncio and on trio (the ``anyio_backend`` fixture), and the blocking
`Client` with its portal on either backend (``portal_backend``). One table per kind of fixture
holds the call to make and the checks to run; one async and one sync test function read each table.

`assert_matches` compares a decoded value with the fixture's JSON generically (every key, at
every depth, and every field the JSON leaves out must keep its default); the ``_check_*`` helpers
add a few values checked by hand, so that a wrong table or a wrong generic walk cannot hide a bug.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import httpx
import msgspec
import pytest

import ollama_anyio
from conftest import FIXTURES, FakeOllama, fixture_bytes, fixture_json
from ollama_anyio import AsyncClient, AsyncStream, Client, ResponseError, Stream

Backend = Literal["asyncio", "trio"]

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
CHUNK_SIZES = [
    pytest.param(1, id="1B"),
    pytest.param(7, id="7B"),
    pytest.param(64, id="64B"),
    pytest.param(None, id="lines"),
]


# ---------------------------------------------------------------------------------------------
# Calls, run the same way through both clients


class _BlobFile:
    """Stands for the path of a file written in the test's tmp_path (see `BLOB_CONTENT`)."""


BLOB_FILE = _BlobFile()
BLOB_CONTENT = b"not really a GGUF file\n"
BLOB_PATH = f"/api/blobs/sha256:{hashlib.sha256(BLOB_CONTENT).hexdigest()}"


@dataclass(frozen=True)
class Call:
    """A client method with its arguments; the same on `AsyncClient` and `Client`."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, tmp_path: Path) -> Call:
        if not any(arg is BLOB_FILE for arg in self.args):
            return self
        blob = tmp_path / "model.gguf"
        blob.write_bytes(BLOB_CONTENT)
        args = tuple(blob if arg is BLOB_FILE else arg for arg in self.args)
        return Call(self.method, args, self.kwargs)


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(method, args, kwargs)


async def run_async(client: AsyncClient, call: Call, received: list[Any] | None = None) -> Any:
    """The result of the call; for a stream, the list of its chunks (also put in `received`)."""
    result = await getattr(client, call.method)(*call.args, **call.kwargs)
    if not isinstance(result, AsyncStream):
        return result
    chunks: list[Any] = [] if received is None else received
    async with result as stream:
        async for chunk in stream:
            chunks.append(chunk)
    return chunks


def run_sync(client: Client, call: Call, received: list[Any] | None = None) -> Any:
    """As `run_async`, through the blocking client."""
    result = getattr(client, call.method)(*call.args, **call.kwargs)
    if not isinstance(result, Stream):
        return result
    chunks: list[Any] = [] if received is None else received
    with result as stream:
        for chunk in stream:
            chunks.append(chunk)
    return chunks


# What each method returns (for a stream: the type of each chunk).
RETURNS: dict[str, type] = {
    "chat": ollama_anyio.ChatResponse,
    "generate": ollama_anyio.GenerateResponse,
    "embed": ollama_anyio.EmbedResponse,
    "embeddings": ollama_anyio.EmbeddingsResponse,
    "pull": ollama_anyio.ProgressResponse,
    "push": ollama_anyio.ProgressResponse,
    "create": ollama_anyio.ProgressResponse,
    "list": ollama_anyio.ListResponse,
    "show": ollama_anyio.ShowResponse,
    "ps": ollama_anyio.ProcessResponse,
    "version": str,
    "web_search": ollama_anyio.WebSearchResponse,
    "web_fetch": ollama_anyio.WebFetchResponse,
    "systemone": ollama_anyio.SystemOneResponse,
}


# Retries are off here: each error fixture must reach the caller from one answer.
def async_client(fake: FakeOllama, **kwargs: Any) -> AsyncClient:
    return AsyncClient(transport=fake.transport, max_retries=0, **kwargs)


def sync_client(fake: FakeOllama, backend: str, **kwargs: Any) -> Client:
    return Client(transport=fake.transport, backend=cast(Backend, backend), max_retries=0, **kwargs)


# ---------------------------------------------------------------------------------------------
# Comparing a decoded value with the JSON it came from

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|([+-])(\d\d):(\d\d))"
)


def parse_timestamp(text: str) -> datetime.datetime:
    """An RFC 3339 timestamp with up to 9 fractional digits, rounded to the nearest microsecond.

    msgspec rounds (half up) where the official client truncates: they differ by less than a
    microsecond, and rounding keeps decoding native (the timestamp is on every stream chunk).
    """
    match = _TIMESTAMP.fullmatch(text)
    assert match is not None, f"not a timestamp: {text!r}"
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, zone, sign, zone_hours, zone_minutes = match.groups()[6:]
    if zone == "Z":
        tz = datetime.timezone.utc
    else:
        offset = datetime.timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        tz = datetime.timezone(-offset if sign == "-" else offset)
    nanoseconds = int((fraction or "").ljust(9, "0")[:9])
    base = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    return base + datetime.timedelta(microseconds=(nanoseconds + 500) // 1000)


def test_parse_timestamp() -> None:
    # The helper itself: nanoseconds are rounded half up; offsets are kept.
    parsed = parse_timestamp("2025-05-10T08:06:48.639712648-07:00")
    assert parsed.microsecond == 639713
    assert parse_timestamp("2025-05-10T08:06:48.6397124Z").microsecond == 639712
    assert parsed.utcoffset() == datetime.timedelta(hours=-7)
    assert parse_timestamp("2024-01-15T10:30:00Z") == datetime.datetime(
        2024, 1, 15, 10, 30, tzinfo=datetime.timezone.utc
    )
    assert parse_timestamp("2025-07-07T20:22:19.19314Z").microsecond == 193140


def _default_of(info: msgspec.structs.FieldInfo) -> Any:
    if info.default_factory is not msgspec.NODEFAULT:
        return info.default_factory()
    # A field the payload may leave out stores UNSET and reads as None (see ollama_anyio._types).
    if info.default in (msgspec.NODEFAULT, msgspec.UNSET):
        return None
    return info.default


def _mismatches(obj: Any, expected: Any, where: str) -> Iterator[str]:
    if isinstance(obj, msgspec.Struct):
        if not isinstance(expected, dict):
            yield f"{where}: decoded a {type(obj).__name__}, the JSON has {expected!r}"
            return
        infos = {info.encode_name: info for info in msgspec.structs.fields(obj)}
        config = obj.__struct_config__
        for key, value in expected.items():
            if key == config.tag_field:  # a tagged union's "type", not a field
                if value != config.tag:
                    yield f"{where}: a {type(obj).__name__} for {key} {value!r}"
                continue
            info = infos.get(key)
            if info is None:
                yield f"{where}: {type(obj).__name__} has no field for JSON key {key!r}"
                continue
            yield from _mismatches(getattr(obj, info.name), value, f"{where}.{info.name}")
        for key, info in infos.items():
            # What the JSON leaves out must not be made up.
            if key not in expected and getattr(obj, info.name) != _default_of(info):
                yield f"{where}.{info.name}: {getattr(obj, info.name)!r} but absent from the JSON"
    elif isinstance(expected, dict):
        if not isinstance(obj, Mapping):
            yield f"{where}: {obj!r} is not a mapping (the JSON has an object)"
            return
        if set(obj) != set(expected):
            yield f"{where}: keys {sorted(obj)} != {sorted(expected)}"
        for key, value in expected.items():
            if key in obj:
                yield from _mismatches(obj[key], value, f"{where}[{key!r}]")
    elif isinstance(expected, list):
        if not isinstance(obj, list) or len(obj) != len(expected):
            yield f"{where}: {obj!r} is not a list of {len(expected)} items"
            return
        for index, (item, value) in enumerate(zip(obj, expected, strict=True)):
            yield from _mismatches(item, value, f"{where}[{index}]")
    elif isinstance(obj, datetime.datetime):
        wanted = parse_timestamp(expected) if isinstance(expected, str) else expected
        if obj != wanted or obj.utcoffset() != wanted.utcoffset():
            yield f"{where}: {obj.isoformat()} != {expected} (truncated: {wanted.isoformat()})"
    elif isinstance(expected, bool) or expected is None:
        if obj is not expected:
            yield f"{where}: {obj!r} is not {expected!r}"
    elif isinstance(expected, (int, float)):
        if isinstance(obj, bool) or not isinstance(obj, (int, float)) or obj != expected:
            yield f"{where}: {obj!r} != {expected!r}"
    elif type(obj) is not type(expected) or obj != expected:
        yield f"{where}: {obj!r} != {expected!r}"


def assert_matches(obj: Any, expected: Any) -> None:
    """Check a decoded value against the JSON it came from, listing every difference.

    JSON object keys map to Struct fields by their wire names (``$defs``, ``from``), or to the
    keys of a decoded dict (``model_info``, tool-call ``arguments``); timestamps are compared with
    the expected string parsed and truncated to microseconds, offset included; a Struct field the
    JSON does not have must hold its default.
    """
    problems = list(_mismatches(obj, expected, "$"))
    assert not problems, "\n".join(problems)


def test_assert_matches_finds_differences() -> None:
    # The helper itself must not accept everything.
    response = ollama_anyio.ChatResponse(model="m", done=True)
    assert_matches(response, {"model": "m", "done": True})
    with pytest.raises(AssertionError, match=r"\$.model: 'm' != 'n'"):
        assert_matches(response, {"model": "n", "done": True})
    with pytest.raises(AssertionError, match="absent from the JSON"):
        assert_matches(response, {"model": "m"})
    with pytest.raises(AssertionError, match="no field for JSON key 'surprise'"):
        assert_matches(response, {"model": "m", "done": True, "surprise": 1})
    with pytest.raises(AssertionError, match="is not a list of 2 items"):
        assert_matches([1], [1, 2])
    with pytest.raises(AssertionError):
        assert_matches(1, True)


def dig(value: Any, dotted: str) -> Any:
    """``a.b`` of a Struct (attributes) or of decoded JSON (keys); None when absent."""
    for name in dotted.split("."):
        if value is None:
            return None
        value = value.get(name) if isinstance(value, dict) else getattr(value, name)
    return value


def lines_of(body: bytes) -> list[Any]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Raw HTTP exchanges (http-*.txt): the response part, after the "----" separator


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_response(name: str) -> RawResponse:
    text = (FIXTURES / name).read_bytes().split(b"\n----\n", 1)[1]
    head, _, body = text.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().splitlines()
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def test_raw_response_parser() -> None:
    version = raw_response("http-version.txt")
    assert (version.status, version.body) == (200, b'{"version":"0.12.6"}')
    assert version.headers["content-type"] == "application/json; charset=utf-8"
    assert int(version.headers["content-length"]) == len(version.body)


def serve_raw(fake: FakeOllama, method: str, path: str, raw: RawResponse) -> None:
    headers = {"content-type": raw.headers["content-type"]}
    fake.routes[(method, path)] = lambda request: httpx.Response(
        raw.status, content=raw.body, headers=headers
    )


# ---------------------------------------------------------------------------------------------
# Whole JSON answers

Check = Callable[[Any, Any], None]


def _no_check(result: Any, expected: Any) -> None:
    pass


def _check_chat(content: str, done_reason: str = "stop") -> Check:
    def check(result: Any, expected: Any) -> None:
        assert result.message.role == "assistant"
        assert result.message.content == content
        assert result.done is True
        assert result.done_reason == done_reason
        # the server's text, nanoseconds kept, as the official client gives it (SPEC 9.4)
        assert result.created_at == expected["created_at"]

    return check


def _check_generate(response: str, done_reason: str = "stop") -> Check:
    def check(result: Any, expected: Any) -> None:
        assert result.response == response
        assert (result.done, result.done_reason) == (True, done_reason)

    return check


def _check_chat_tool_calls(result: Any, expected: Any) -> None:
    (tool_call,) = result.message.tool_calls
    assert tool_call.id == "call_8z4q1mxt"
    assert tool_call.function.index == 0
    assert tool_call.function.name == "get_current_weather"
    assert tool_call.function.arguments == {"location": "Paris, FR", "format": "celsius"}
    assert result.message.content == ""


def _check_chat_thinking(result: Any, expected: Any) -> None:
    assert result.message.thinking.startswith("Okay, let's count the r's")
    assert result.message.content == 'There are **3** letter r\'s in "strawberry".'


def _check_chat_structured(result: Any, expected: Any) -> None:
    assert json.loads(result.message.content) == {"age": 22, "available": False}


def _check_generate_logprobs(result: Any, expected: Any) -> None:
    assert [entry.token for entry in result.logprobs] == ["Hello", "!"]
    assert result.logprobs[0].bytes == [72, 101, 108, 108, 111]
    assert result.logprobs[0].logprob == -0.0020838831
    assert [top.token for top in result.logprobs[0].top_logprobs] == ["Hello", "Hi"]
    assert result.logprobs[1].top_logprobs[1].bytes == [44]
    assert result.done_reason == "length"


def _check_generate_json(result: Any, expected: Any) -> None:
    assert json.loads(result.response)["evening"] == {"color": "orange"}
    assert result.context == [1, 2, 3]


def _check_generate_raw(result: Any, expected: Any) -> None:
    assert result.context is None  # raw mode answers without a context
    assert result.eval_count == 110


def _check_embed(count: int, first: float | None, prompt_tokens: int | None) -> Check:
    def check(result: Any, expected: Any) -> None:
        assert len(result.embeddings) == count
        assert all(len(vector) == 10 for vector in result.embeddings)
        if first is not None:
            assert result.embeddings[0][0] == first
        assert result.prompt_eval_count == prompt_tokens

    return check


def _check_embeddings(result: Any, expected: Any) -> None:
    assert len(result.embedding) == 10
    assert result.embedding[0] == 0.5670403838157654
    assert result.embedding[-1] == -0.137906014919281


def _check_tags(result: Any, expected: Any) -> None:
    local, _, remote = result.models
    assert local.name == local.model == "deepseek-r1:latest"
    assert local.capabilities == ["completion", "thinking"]
    assert local.details.context_length == 131072
    assert local.details.embedding_length == 3584
    assert local.size == 4683075271
    assert local.modified_at.utcoffset() == datetime.timedelta(hours=-7)
    assert remote.remote_model == "gpt-oss:120b"
    assert remote.remote_host == "https://ollama.com:443"
    assert remote.capabilities is None
    assert remote.modified_at.utcoffset() == datetime.timedelta(hours=2)


def _check_empty_models(result: Any, expected: Any) -> None:
    assert result.models == []


def _check_show_thinking_levels(result: Any, expected: Any) -> None:
    assert result.thinking.values == ["low", "medium", "high", "xhigh"]
    assert result.thinking.default == "medium"


def _check_systemone(result: Any, expected: Any) -> None:
    choice, noul, score = (result.answers[k] for k in ("sentiment", "refund", "frustration"))
    assert isinstance(choice, ollama_anyio.SystemOneChoiceAnswer)
    assert (choice.type, choice.choice, choice.probabilities["negative"]) == (
        "choice",
        "negative",
        0.92,
    )
    assert isinstance(noul, ollama_anyio.SystemOneNoulAnswer)
    assert noul.noul == 0.64
    assert isinstance(score, ollama_anyio.SystemOneScoreAnswer)
    assert (score.score, score.legend["2"]) == (1.55, "Very angry")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (118, 3)


def _check_show(result: Any, expected: Any) -> None:
    assert result.capabilities == ["completion"]
    assert result.model_info is not None
    assert result.model_info["llama.context_length"] == 8192
    assert result.model_info["llama.attention.layer_norm_rms_epsilon"] == 1e-05
    assert result.model_info["tokenizer.ggml.tokens"] is None  # arrays are null unless verbose
    assert result.modelinfo is result.model_info
    assert result.details.quantization_level == "Q4_0"
    assert result.tensors[0].name == "token_embd.weight"
    assert result.tensors[0].shape == [4096, 128256]
    assert result.parameters.startswith("num_keep                       24\n")
    assert result.modified_at.year == 2025
    assert result.modified_at.utcoffset() == datetime.timedelta(hours=-7)


def _check_ps(result: Any, expected: Any) -> None:
    first, second = result.models
    assert first.expires_at.year == 2025
    assert first.expires_at.utcoffset() == datetime.timedelta(hours=-7)
    assert first.expires_at.microsecond == 933550
    assert (first.context_length, second.context_length) == (4096, 32768)
    assert first.size_vram == 5333539264
    assert second.details.family == "llama"


def _check_success(result: Any, expected: Any) -> None:
    assert result.status == "success"
    assert (result.completed, result.total, result.digest) == (None, None, None)


def _check_web_search(result: Any, expected: Any) -> None:
    assert [item.title for item in result.results][1:] == [
        "What is Ollama? Introduction to the AI model management tool",
        "Ollama Explained: Transforming AI Accessibility and Language ...",
    ]
    assert result.results[0].url == "https://ollama.com/"
    assert result.results[1].url == "https://www.hostinger.com/tutorials/what-is-ollama"
    assert len(result.results) == 3


def _check_web_fetch(result: Any, expected: Any) -> None:
    assert result.title == "Ollama"
    assert result.links == [
        "http://ollama.com/",
        "http://ollama.com/models",
        "https://github.com/ollama/ollama",
    ]


def _check_version(result: Any, expected: Any) -> None:
    assert result == "0.12.6"


@dataclass(frozen=True)
class AnswerCase:
    """A JSON answer served at ``method path``, read by ``call``."""

    fixture: str
    method: str
    path: str
    call: Call
    check: Check = _no_check
    client: Mapping[str, Any] = field(default_factory=dict)
    # For a method returning one field of the answer (version() returns the string).
    field: str | None = None
    host: str = "127.0.0.1"

    def serve(self, fake: FakeOllama) -> None:
        if self.fixture.startswith("http-"):
            serve_raw(fake, self.method, self.path, raw_response(self.fixture))
        else:
            fake.json(self.method, self.path, fixture_bytes(self.fixture))

    def expected(self) -> Any:
        if self.fixture.startswith("http-"):
            data = json.loads(raw_response(self.fixture).body)
        else:
            data = fixture_json(self.fixture)
        return data if self.field is None else data[self.field]

    def verify(self, fake: FakeOllama, result: Any) -> None:
        (request,) = fake.requests
        assert (request.method, request.url.host, request.url.path) == (
            self.method,
            self.host,
            self.path,
        )
        assert type(result) is RETURNS[self.call.method]
        expected = self.expected()
        self.check(result, expected)
        assert_matches(result, expected)


def _chat(fixture: str, check: Check, **kwargs: Any) -> AnswerCase:
    messages = kwargs.pop("messages", MESSAGES)
    return AnswerCase(
        fixture, "POST", "/api/chat", call("chat", "llama3.2", messages, **kwargs), check
    )


def _generate(fixture: str, check: Check, **kwargs: Any) -> AnswerCase:
    prompt = kwargs.pop("prompt", "Why is the sky blue?")
    return AnswerCase(
        fixture, "POST", "/api/generate", call("generate", "llama3.2", prompt, **kwargs), check
    )


SKY = "The sky appears blue because of a phenomenon called Rayleigh scattering."
ANSWERS = [
    _chat(
        "chat-response.json",
        _check_chat(
            "The sky looks blue because air molecules scatter shorter (blue) wavelengths of "
            "sunlight much more strongly than longer (red) ones — an effect called Rayleigh "
            "scattering."
        ),
    ),
    _chat(
        "chat-images-response.json",
        _check_chat(fixture_json("chat-images-response.json")["message"]["content"]),
        messages=[{"role": "user", "content": "What is in this picture?", "images": [b"\x89PNG"]}],
    ),
    _chat("chat-load-response.json", _check_chat("", "load"), messages=[]),
    _chat("chat-unload-response.json", _check_chat("", "unload"), messages=[], keep_alive=0),
    _chat("chat-structured-response.json", _check_chat_structured, format={"type": "object"}),
    _chat("chat-thinking-response.json", _check_chat_thinking, think=True),
    _chat("chat-tool-calls.json", _check_chat_tool_calls),
    _chat(
        "chat-tool-result-response.json",
        _check_chat("The current temperature in Toronto is 11°C."),
    ),
    _generate("generate-response.json", _check_generate(SKY)),
    _generate(
        "generate-images-response.json",
        _check_generate("A happy cartoon character, which is cute and cheerful."),
    ),
    _generate("generate-json-mode-response.json", _check_generate_json, format="json"),
    _generate("generate-load-response.json", _check_generate("", "load"), prompt=""),
    _generate(
        "generate-unload-response.json", _check_generate("", "unload"), prompt="", keep_alive=0
    ),
    _generate("generate-logprobs-response.json", _check_generate_logprobs, logprobs=True),
    _generate("generate-raw-response.json", _check_generate_raw, raw=True),
    _generate(
        "generate-structured-response.json",
        _check_generate('{\n  "age": 22,\n  "available": true\n}'),
    ),
    _generate(
        "generate-suffix-response.json",
        _check_generate(fixture_json("generate-suffix-response.json")["response"]),
        suffix="    return result",
    ),
    AnswerCase(
        "embed-response.json",
        "POST",
        "/api/embed",
        call("embed", "all-minilm", "Why is the sky blue?"),
        _check_embed(1, 0.010071029, 8),
    ),
    AnswerCase(
        "embed-multi-response.json",
        "POST",
        "/api/embed",
        call("embed", "all-minilm", ["Why is the sky blue?", "Why is the grass green?"]),
        _check_embed(2, 0.010071029, 16),
    ),
    AnswerCase(
        "embed-empty-response.json",
        "POST",
        "/api/embed",
        call("embed", "all-minilm"),
        _check_embed(0, None, None),
    ),
    AnswerCase(
        "embeddings-response.json",
        "POST",
        "/api/embeddings",
        call("embeddings", "all-minilm", "Here is an article about llamas..."),
        _check_embeddings,
    ),
    AnswerCase("tags-response.json", "GET", "/api/tags", call("list"), _check_tags),
    AnswerCase("tags-empty-response.json", "GET", "/api/tags", call("list"), _check_empty_models),
    AnswerCase("ps-response.json", "GET", "/api/ps", call("ps"), _check_ps),
    AnswerCase("ps-empty-response.json", "GET", "/api/ps", call("ps"), _check_empty_models),
    AnswerCase("show-response.json", "POST", "/api/show", call("show", "llama3"), _check_show),
    AnswerCase(
        "show-thinking-levels-response.json",
        "POST",
        "/api/show",
        call("show", "gpt-oss"),
        _check_show_thinking_levels,
    ),
    AnswerCase(
        "systemone-response.json",
        "POST",
        "/v1/systemone",
        call(
            "systemone",
            "openjev",
            fixture_json("systemone-request.json")["state"],
            fixture_json("systemone-request.json")["questions"],
            keep_alive="5m",
        ),
        _check_systemone,
    ),
    AnswerCase(
        "status-success-response.json",
        "POST",
        "/api/pull",
        call("pull", "llama3.2", stream=False),
        _check_success,
    ),
    AnswerCase(
        "status-success-response.json",
        "POST",
        "/api/push",
        call("push", "me/llama3.2:latest", stream=False),
        _check_success,
    ),
    AnswerCase(
        "status-success-response.json",
        "POST",
        "/api/create",
        call("create", "mario", from_="llama3.2", system="You are Mario.", stream=False),
        _check_success,
    ),
    AnswerCase(
        "version-response.json",
        "GET",
        "/api/version",
        call("version"),
        _check_version,
        field="version",
    ),
    AnswerCase(
        "http-version.txt", "GET", "/api/version", call("version"), _check_version, field="version"
    ),
    AnswerCase(
        "web-search-response.json",
        "POST",
        "/api/web_search",
        call("web_search", "what is ollama?"),
        _check_web_search,
        client={"api_key": "k"},
        host="ollama.com",
    ),
    AnswerCase(
        "web-fetch-response.json",
        "POST",
        "/api/web_fetch",
        call("web_fetch", "ollama.com"),
        _check_web_fetch,
        client={"api_key": "k"},
        host="ollama.com",
    ),
]


def _params(cases: Sequence[Any]) -> list[Any]:
    """pytest params named after the fixture, and the method when a fixture has several."""
    names = [case.fixture for case in cases]
    return [
        pytest.param(
            case,
            id=case.fixture
            if names.count(case.fixture) == 1
            else f"{case.fixture}-{case.call.method}",
        )
        for case in cases
    ]


@pytest.mark.parametrize("case", _params(ANSWERS))
async def test_answer_async(case: AnswerCase, fake: FakeOllama) -> None:
    case.serve(fake)
    async with async_client(fake, **case.client) as client:
        result = await run_async(client, case.call)
    case.verify(fake, result)


@pytest.mark.parametrize("case", _params(ANSWERS))
def test_answer_sync(case: AnswerCase, fake: FakeOllama, portal_backend: str) -> None:
    case.serve(fake)
    with sync_client(fake, portal_backend, **case.client) as client:
        result = run_sync(client, case.call)
    case.verify(fake, result)


# ---------------------------------------------------------------------------------------------
# NDJSON streams

StreamCheck = Callable[[list[Any]], None]


def _no_stream_check(chunks: list[Any]) -> None:
    pass


def _check_chat_stream(chunks: list[Any]) -> None:
    assert all(chunk.message.role == "assistant" for chunk in chunks)
    assert [chunk.done for chunk in chunks] == [False] * 31 + [True]
    assert chunks[-1].message.content == ""
    assert chunks[-1].eval_count == 31
    assert "".join(chunk.message.content for chunk in chunks).endswith(
        "— an effect called Rayleigh scattering."
    )


def _check_done_reason_only_stream(chunks: list[Any]) -> None:
    assert [chunk.done for chunk in chunks] == [False] * 31 + [True]
    assert (chunks[-1].done_reason, chunks[-1].eval_count) == ("stop", 31)


def _check_chat_thinking_stream(chunks: list[Any]) -> None:
    assert (chunks[0].message.thinking, chunks[0].message.content) == ("Okay", "")
    assert "".join(chunk.message.content for chunk in chunks) == "17 \u00d7 23 = **391**"


def _check_chat_tool_calls_stream(chunks: list[Any]) -> None:
    calls = [call for chunk in chunks for call in chunk.message.tool_calls or ()]
    assert [call.id for call in calls] == ["call_3k9dq0vb", "call_p2w7hs1e"]
    assert [call.function.index for call in calls] == [0, 1]
    assert [call.function.arguments for call in calls] == [{"city": "Tokyo"}, {"city": "Toronto"}]
    assert chunks[-1].message.tool_calls is None


def _check_chat_logprobs_stream(chunks: list[Any]) -> None:
    assert [chunk.logprobs[0].token for chunk in chunks[:2]] == ["Hi", "!"]
    assert chunks[0].logprobs[0].bytes == [72, 105]
    assert [top.token for top in chunks[1].logprobs[0].top_logprobs] == ["!", " there"]
    assert chunks[-1].logprobs is None


def _check_generate_stream(chunks: list[Any]) -> None:
    assert "".join(chunk.response for chunk in chunks) == SKY
    final = chunks[-1]
    assert (final.done_reason, final.eval_count) == ("stop", 12)
    assert final.context is not None
    assert len(final.context) == 43
    assert all(chunk.context is None for chunk in chunks[:-1])


def _check_generate_thinking_stream(chunks: list[Any]) -> None:
    assert (chunks[0].thinking, chunks[0].response) == ("Okay", "")
    assert (
        "".join(chunk.response for chunk in chunks)
        == 'There are **3** letter r\'s in "strawberry".'
    )


def _check_pull_progress(chunks: list[Any]) -> None:
    assert chunks[0].status == "pulling manifest"
    first_layer = chunks[1]
    assert first_layer.completed is None  # not sent while 0
    assert first_layer.total == 2019377376
    assert first_layer.digest.startswith("sha256:dde5aa3fc5ff")
    assert [chunk.status for chunk in chunks[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]


def _check_push_progress(chunks: list[Any]) -> None:
    assert chunks[0].status == "retrieving manifest"
    assert chunks[-2].status == "pushing manifest"
    assert chunks[-3].completed == chunks[-3].total == 483


def _check_create_progress(chunks: list[Any]) -> None:
    assert [chunk.status for chunk in chunks[-2:]] == ["writing manifest", "success"]


def _check_quantize_progress(chunks: list[Any]) -> None:
    _check_create_progress(chunks)
    assert chunks[0].digest == "0000000000000000000"
    assert chunks[0].status == "quantizing F16 model to Q4_K_M"


def _check_http_chat_stream(chunks: list[Any]) -> None:
    assert [chunk.message.content for chunk in chunks] == ["Hello", "!", ""]


def _chat_done(chunk: Any) -> bool:
    return bool(chunk.done)


def _status_success(chunk: Any) -> bool:
    return bool(chunk.status == "success")


@dataclass(frozen=True)
class StreamCase:
    """An NDJSON stream answering ``POST path``, read by ``call`` (with ``stream=True``)."""

    fixture: str
    path: str
    call: Call
    texts: tuple[str, ...]  # dotted fields whose fragments concatenate into the answer
    is_final: Callable[[Any], bool]
    check: StreamCheck = _no_stream_check
    # what the client changes in the final chunk (a done_reason-only one reads done=True)
    final: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        if self.fixture.startswith("http-"):
            return raw_response(self.fixture).body
        return fixture_bytes(self.fixture)

    def verify(self, fake: FakeOllama, chunks: list[Any]) -> None:
        (request,) = fake.requests
        assert request.url.path == self.path
        assert json.loads(request.content)["stream"] is True
        lines = lines_of(self.body())
        assert len(chunks) == len(lines)
        assert all(type(chunk) is RETURNS[self.call.method] for chunk in chunks)
        for name in self.texts:
            got = "".join(dig(chunk, name) or "" for chunk in chunks)
            assert got == "".join(dig(line, name) or "" for line in lines), name
        assert self.is_final(chunks[-1])
        assert not any(self.is_final(chunk) for chunk in chunks[:-1])
        self.check(chunks)
        lines[-1] = {**lines[-1], **self.final}
        for index, (chunk, line) in enumerate(zip(chunks, lines, strict=True)):
            try:
                assert_matches(chunk, line)
            except AssertionError as exc:
                raise AssertionError(f"chunk {index}: {exc}") from None
        # The response was read to its end and closed.
        assert all(stream.closed for stream in fake.streams)


def _chat_stream(fixture: str, check: StreamCheck, **kwargs: Any) -> StreamCase:
    return StreamCase(
        fixture,
        "/api/chat",
        call("chat", "llama3.2", MESSAGES, stream=True, **kwargs),
        ("message.content", "message.thinking"),
        _chat_done,
        check,
    )


def _generate_stream(fixture: str, check: StreamCheck, **kwargs: Any) -> StreamCase:
    return StreamCase(
        fixture,
        "/api/generate",
        call("generate", "llama3.2", "Why is the sky blue?", stream=True, **kwargs),
        ("response", "thinking"),
        _chat_done,
        check,
    )


def _progress(fixture: str, endpoint: str, model: str, check: StreamCheck, **kw: Any) -> StreamCase:
    return StreamCase(
        fixture,
        f"/api/{endpoint}",
        call(endpoint, model, stream=True, **kw),
        ("status",),
        _status_success,
        check,
    )


STREAMS = [
    _chat_stream("chat-stream.ndjson", _check_chat_stream),
    _chat_stream("chat-thinking-stream.ndjson", _check_chat_thinking_stream, think=True),
    _chat_stream("chat-tool-calls-stream.ndjson", _check_chat_tool_calls_stream),
    _chat_stream(
        "chat-logprobs-stream.ndjson", _check_chat_logprobs_stream, logprobs=True, top_logprobs=2
    ),
    _chat_stream("http-chat-stream.txt", _check_http_chat_stream),
    # SPEC 9.2: a final chunk with done_reason but "done": false ends the stream
    StreamCase(
        "chat-stream-done-reason-only.ndjson",
        "/api/chat",
        call("chat", "llama3.2", MESSAGES, stream=True),
        ("message.content",),
        _chat_done,
        _check_done_reason_only_stream,
        final={"done": True},
    ),
    _generate_stream("generate-stream.ndjson", _check_generate_stream),
    _generate_stream(
        "generate-thinking-stream.ndjson", _check_generate_thinking_stream, think=True
    ),
    _progress("pull-progress.ndjson", "pull", "llama3.2", _check_pull_progress),
    _progress("push-progress.ndjson", "push", "me/llama3.2:latest", _check_push_progress),
    _progress(
        "create-progress.ndjson",
        "create",
        "mario",
        _check_create_progress,
        from_="llama3.2",
        system="You are Mario.",
    ),
    _progress(
        "create-quantize-progress.ndjson",
        "create",
        "llama3.2:q4",
        _check_quantize_progress,
        from_="llama3.2:fp16",
        quantize="q4_K_M",
    ),
    _progress(
        "create-gguf-progress.ndjson",
        "create",
        "my-gguf",
        _check_create_progress,
        files={
            "model.gguf": "sha256:"
            + "432f310a77f4650a88d0fd59ecdd7cebed8d684bafea53cbff0473542964f0c3"
        },
    ),
    _progress(
        "create-safetensors-progress.ndjson",
        "create",
        "my-safetensors",
        _check_create_progress,
        files={
            "model.safetensors": "sha256:"
            + "05ca5b813af4a53d2c2922933936e398958855c44ee534858fcfd830940618b6"
        },
    ),
]


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("case", _params(STREAMS))
async def test_stream_async(case: StreamCase, chunk_size: int | None, fake: FakeOllama) -> None:
    fake.stream(case.path, case.body(), chunk_size=chunk_size)
    async with async_client(fake) as client:
        chunks = await run_async(client, case.call)
    case.verify(fake, chunks)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("case", _params(STREAMS))
def test_stream_sync(
    case: StreamCase, chunk_size: int | None, fake: FakeOllama, portal_backend: str
) -> None:
    fake.stream(case.path, case.body(), chunk_size=chunk_size)
    with sync_client(fake, portal_backend) as client:
        chunks = run_sync(client, case.call)
    case.verify(fake, chunks)


# ---------------------------------------------------------------------------------------------
# Errors: an error status with a JSON or text body, and error lines inside a stream


def status_of(fixture: str) -> int:
    """The HTTP status an error fixture is served with: in its name, else 400 (digest errors)."""
    match = re.match(r"error-(\d{3})", fixture)
    return int(match.group(1)) if match else 400


@dataclass(frozen=True)
class ErrorCase:
    """An error answer to ``method path`` for ``call``."""

    fixture: str
    method: str
    path: str
    call: Call
    message: str | None = None  # the expected message, spelled out for the plain-text bodies

    def serve(self, fake: FakeOllama) -> None:
        if self.fixture.startswith("http-"):
            serve_raw(fake, self.method, self.path, raw_response(self.fixture))
            return
        content = fixture_bytes(self.fixture)
        content_type = "application/json; charset=utf-8"
        if self.fixture.endswith(".txt"):
            content_type = "text/plain; charset=utf-8"
        status = status_of(self.fixture)
        fake.routes[(self.method, self.path)] = lambda request: httpx.Response(
            status, content=content, headers={"content-type": content_type}
        )

    def verify(self, fake: FakeOllama, error: ResponseError) -> None:
        assert [(r.method, r.url.path) for r in fake.requests] == [(self.method, self.path)]
        if self.fixture.startswith("http-"):
            raw = raw_response(self.fixture)
            status, body = raw.status, json.loads(raw.body)
        elif self.fixture.endswith(".txt"):
            status, body = status_of(self.fixture), {"error": fixture_bytes(self.fixture).decode()}
            body["error"] = body["error"].strip()
        else:
            status, body = status_of(self.fixture), fixture_json(self.fixture)
        assert error.error == body["error"]
        assert error.status_code == status
        assert error.signin_url == body.get("signin_url")
        assert str(error) == f"{body['error']} (status code: {status})"
        if self.message is not None:
            assert error.error == self.message


ERRORS = [
    ErrorCase(
        "error-400-invalid-json.json", "POST", "/api/chat", call("chat", "llama3.2", MESSAGES)
    ),
    ErrorCase(
        "error-400-keep-alive.json",
        "POST",
        "/api/generate",
        call("generate", "llama3.2", "hi", keep_alive="5m"),
    ),
    ErrorCase(
        "error-400-missing-body.json", "POST", "/api/embed", call("embed", "all-minilm", "x")
    ),
    ErrorCase("error-400-model-required.json", "POST", "/api/show", call("show", "llama3.2")),
    ErrorCase(
        "error-400-thinking-unsupported.json",
        "POST",
        "/api/chat",
        call("chat", "llama3.2", MESSAGES, think=True, stream=True),
    ),
    ErrorCase(
        "error-400-tools-unsupported.json",
        "POST",
        "/api/chat",
        call("chat", "llama3", MESSAGES, tools=[{"function": {"name": "f"}}]),
    ),
    ErrorCase(
        "error-401-unauthorized.json",
        "POST",
        "/api/chat",
        call("chat", "gpt-oss:120b-cloud", MESSAGES),
    ),
    ErrorCase(
        "error-403-cloud-disabled.json",
        "POST",
        "/api/generate",
        call("generate", "gpt-oss:120b-cloud", "hi", stream=True),
    ),
    ErrorCase("error-404.json", "DELETE", "/api/delete", call("delete", "llama3.3")),
    ErrorCase(
        "error-404-embed.json", "POST", "/api/embeddings", call("embeddings", "all-minilm", "x")
    ),
    ErrorCase("error-500.json", "POST", "/api/pull", call("pull", "llama3.2", stream=True)),
    ErrorCase("error-503-busy.json", "POST", "/api/chat", call("chat", "llama3.2", MESSAGES)),
    ErrorCase("error-blob-digest-mismatch.json", "POST", BLOB_PATH, call("create_blob", BLOB_FILE)),
    ErrorCase("error-invalid-digest.json", "POST", BLOB_PATH, call("create_blob", BLOB_FILE)),
    ErrorCase("error-404-route.txt", "GET", "/api/version", call("version"), "404 page not found"),
    ErrorCase("error-405-method.txt", "GET", "/api/tags", call("list"), "405 method not allowed"),
    ErrorCase(
        "http-error-404.txt",
        "POST",
        "/api/chat",
        call("chat", "llama3.3", MESSAGES),
        "model 'llama3.3' not found",
    ),
]


@pytest.mark.parametrize("case", _params(ERRORS))
async def test_error_async(case: ErrorCase, fake: FakeOllama, tmp_path: Path) -> None:
    case.serve(fake)
    async with async_client(fake) as client:
        with pytest.raises(ResponseError) as info:
            await run_async(client, case.call.resolve(tmp_path))
    case.verify(fake, info.value)


@pytest.mark.parametrize("case", _params(ERRORS))
def test_error_sync(case: ErrorCase, fake: FakeOllama, portal_backend: str, tmp_path: Path) -> None:
    case.serve(fake)
    with sync_client(fake, portal_backend) as client:
        with pytest.raises(ResponseError) as info:
            run_sync(client, case.call.resolve(tmp_path))
    case.verify(fake, info.value)


@dataclass(frozen=True)
class StreamErrorCase:
    """A stream whose last line is ``{"error": ...}`` after some good chunks."""

    fixture: str
    path: str
    call: Call

    def verify(self, fake: FakeOllama, received: list[Any], error: ResponseError) -> None:
        *good, bad = lines_of(fixture_bytes(self.fixture))
        assert len(received) == len(good)
        for chunk, line in zip(received, good, strict=True):
            assert_matches(chunk, line)
        assert error.error == bad["error"]
        assert error.status_code == 200  # the status line had gone out before the error
        assert all(stream.closed for stream in fake.streams)


STREAM_ERRORS = [
    StreamErrorCase(
        "error-in-stream.ndjson", "/api/generate", call("generate", "gemma3", "hi", stream=True)
    ),
    StreamErrorCase(
        "error-in-pull-stream.ndjson", "/api/pull", call("pull", "nonexistent", stream=True)
    ),
]


def test_stream_error_fixtures_have_good_lines_first() -> None:
    for case in STREAM_ERRORS:
        *good, bad = lines_of(fixture_bytes(case.fixture))
        assert good
        assert all("error" not in line for line in good)
        assert set(bad) == {"error"}
    assert [
        line["response"] for line in lines_of(fixture_bytes("error-in-stream.ndjson"))[:-1]
    ] == [" Yes", ".", " I", " can"]


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("case", _params(STREAM_ERRORS))
async def test_stream_error_async(
    case: StreamErrorCase, chunk_size: int | None, fake: FakeOllama
) -> None:
    fake.stream(case.path, fixture_bytes(case.fixture), chunk_size=chunk_size)
    received: list[Any] = []
    async with async_client(fake) as client:
        with pytest.raises(ResponseError) as info:
            await run_async(client, case.call, received)
    case.verify(fake, received, info.value)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("case", _params(STREAM_ERRORS))
def test_stream_error_sync(
    case: StreamErrorCase, chunk_size: int | None, fake: FakeOllama, portal_backend: str
) -> None:
    fake.stream(case.path, fixture_bytes(case.fixture), chunk_size=chunk_size)
    received: list[Any] = []
    with sync_client(fake, portal_backend) as client:
        with pytest.raises(ResponseError) as info:
            run_sync(client, case.call, received)
    case.verify(fake, received, info.value)


# ---------------------------------------------------------------------------------------------
# Timestamps: up to 9 fractional digits, rounded to the nearest microsecond, offsets kept

TIMESTAMPS = [
    "2025-05-10T08:06:48.639712648-07:00",  # tags: 9 digits, local offset
    "2025-10-26T17:21:21.24419769Z",  # 8 digits
    "2025-12-31T23:59:59.9999999Z",  # rounds into the next year, as it should
    "2025-09-25T10:12:31.412208+02:00",  # 6 digits: exact
    "2024-01-15T10:30:00Z",  # no fraction
]


def _serve_timestamps(fake: FakeOllama) -> None:
    fake.json("GET", "/api/tags", {"models": [{"modified_at": when} for when in TIMESTAMPS]})


def _check_timestamps(result: ollama_anyio.ListResponse) -> None:
    got = [model.modified_at for model in result.models]
    assert got == [parse_timestamp(when) for when in TIMESTAMPS]
    assert [when.utcoffset() for when in got if when is not None] == [
        parse_timestamp(when).utcoffset() for when in TIMESTAMPS
    ]


async def test_timestamps_are_rounded_async(fake: FakeOllama) -> None:
    _serve_timestamps(fake)
    async with async_client(fake) as client:
        _check_timestamps(await client.list())


def test_timestamps_are_rounded_sync(fake: FakeOllama, portal_backend: str) -> None:
    _serve_timestamps(fake)
    with sync_client(fake, portal_backend) as client:
        _check_timestamps(client.list())


# ---------------------------------------------------------------------------------------------
# Every response fixture is covered

# Fixtures of endpoints the client has no method for.
NOT_CLIENT_ENDPOINTS = {
    "root-response.txt": "GET / (liveness)",
    "status-response.json": "GET /api/status (cloud status)",
    "model-recommendations-response.json": "GET /api/experimental/model-recommendations",
}


def test_every_response_fixture_is_decoded() -> None:
    responses = {
        path.name
        for path in FIXTURES.iterdir()
        if path.suffix in (".json", ".ndjson", ".txt") and not path.name.endswith("-request.json")
    }
    cases: list[Any] = [*ANSWERS, *STREAMS, *ERRORS, *STREAM_ERRORS]
    covered = {case.fixture for case in cases}
    assert covered <= responses
    assert responses - covered == set(NOT_CLIENT_ENDPOINTS)
