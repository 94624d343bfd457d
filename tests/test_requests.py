"""The exact requests the client sends: bodies, methods, paths and headers; bad input sends nothing.

Bodies are compared, key order ignored but JSON types kept (``0.0`` is not ``0``), with

* the ``client-python-*-request.json`` fixtures, which the official client produced;
* the official ``ollama`` client itself, driven through the same fake server for a table of calls.

Our client is meant to send what the official one sends. Each intended difference has its own test
with the reason in a comment: tool-call ids kept in the history, nested tool schemas kept,
``truncate``/``shift`` and ``show(verbose=True)`` (ours only), the API key from the environment sent
to ollama.com only, and bad arguments refused before sending (the official client sends most).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

import ollama_anyio
from conftest import FakeOllama, fixture_bytes, fixture_json
from ollama_anyio import AsyncClient, Client, RequestError
from ollama_anyio._requests import check_keep_alive
from test_fixtures import Call, async_client, call, run_async, run_sync, sync_client

# A 1x1 PNG, the image of client-python-chat-request.json.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG = base64.b64decode(PNG_B64)
HI = [{"role": "user", "content": "hi"}]
DIGEST_A = "sha256:432f310a77f4650a88d0fd59ecdd7cebed8d684bafea53cbff0473542964f0c3"
DIGEST_B = "sha256:497790947d4666760ce38f3c00e852c71fdb66cae849bae8e9ede352719e1581"


def add(a: int, b: int) -> int:
    """Add two numbers

    Args:
        a: The first
        b: The second
    """
    return a + b


ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two numbers",
        "parameters": {
            "type": "object",
            "required": ["a", "b"],
            "properties": {
                "a": {"type": "integer", "description": "The first"},
                "b": {"type": "integer", "description": "The second"},
            },
        },
    },
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "required": ["location", "format"],
            "properties": {
                "location": {"type": "string", "description": "The city, e.g. Paris, FR"},
                "format": {
                    "type": "string",
                    "description": "The unit",
                    "enum": ["celsius", "fahrenheit"],
                },
            },
        },
    },
}


# ---------------------------------------------------------------------------------------------
# A fake server answering every endpoint, for our client and the official one alike


def _answer(whole: str | None, stream: str | None = None) -> Callable[[httpx.Request], Any]:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        if stream is not None and body.get("stream"):
            return httpx.Response(
                200,
                content=fixture_bytes(stream),
                headers={"content-type": "application/x-ndjson"},
            )
        if whole is None:  # copy and delete answer 200 with an empty body
            return httpx.Response(200)
        return httpx.Response(
            200, content=fixture_bytes(whole), headers={"content-type": "application/json"}
        )

    return answer


def serve_everything(fake: FakeOllama) -> None:
    routes = fake.routes
    routes[("POST", "/api/chat")] = _answer("chat-response.json", "chat-stream.ndjson")
    routes[("POST", "/api/generate")] = _answer("generate-response.json", "generate-stream.ndjson")
    routes[("POST", "/api/embed")] = _answer("embed-response.json")
    routes[("POST", "/api/embeddings")] = _answer("embeddings-response.json")
    routes[("POST", "/api/pull")] = _answer("status-success-response.json", "pull-progress.ndjson")
    routes[("POST", "/api/push")] = _answer("status-success-response.json", "push-progress.ndjson")
    routes[("POST", "/api/create")] = _answer(
        "status-success-response.json", "create-progress.ndjson"
    )
    routes[("POST", "/api/copy")] = _answer(None)
    routes[("DELETE", "/api/delete")] = _answer(None)
    routes[("POST", "/api/show")] = _answer("show-response.json")
    routes[("GET", "/api/tags")] = _answer("tags-response.json")
    routes[("GET", "/api/ps")] = _answer("ps-response.json")
    routes[("GET", "/api/version")] = _answer("version-response.json")
    routes[("POST", "/api/web_search")] = _answer("web-search-response.json")
    routes[("POST", "/api/web_fetch")] = _answer("web-fetch-response.json")
    routes[("POST", "/v1/systemone")] = _answer("systemone-response.json")


@pytest.fixture
def server(fake: FakeOllama) -> FakeOllama:
    serve_everything(fake)
    return fake


def _json_mismatches(got: Any, expected: Any, where: str) -> Iterator[str]:
    if type(got) is not type(expected):
        yield f"{where}: {got!r} ({type(got).__name__}) != {expected!r} ({type(expected).__name__})"
    elif isinstance(expected, dict):
        if set(got) != set(expected):
            yield f"{where}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected.keys() & got.keys():
            yield from _json_mismatches(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        if len(got) != len(expected):
            yield f"{where}: {len(got)} items != {len(expected)}"
        for index, (item, wanted) in enumerate(zip(got, expected, strict=False)):
            yield from _json_mismatches(item, wanted, f"{where}[{index}]")
    elif got != expected:
        yield f"{where}: {got!r} != {expected!r}"


def assert_same_json(got: Any, expected: Any) -> None:
    """Equal as JSON: key order ignored; ints, floats and bools told apart."""
    problems = list(_json_mismatches(got, expected, "$"))
    assert not problems, "\n".join(problems)


def test_assert_same_json_tells_types_apart() -> None:
    assert_same_json({"a": [1, 0.5], "b": True}, {"b": True, "a": [1, 0.5]})
    for got, expected in [(0, 0.0), (1, True), ({"a": 1}, {"a": 1, "b": 2}), ([1], [1, 1])]:
        with pytest.raises(AssertionError):
            assert_same_json(got, expected)


def sent(request: httpx.Request) -> tuple[str, str, str, str, Any]:
    """Method, URL, content-type, accept and the decoded JSON body (None if none) of a request."""
    body = json.loads(request.content) if request.content else None
    headers = request.headers
    return request.method, str(request.url), headers["content-type"], headers["accept"], body


# ---------------------------------------------------------------------------------------------
# (a) The bodies of the client-python-*-request.json fixtures

# A call builder gets the test's tmp_path, for images given as files.
Builder = Callable[[Path], Call]


def _png_file(tmp_path: Path) -> Path:
    path = tmp_path / "pixel.png"
    path.write_bytes(PNG)
    return path


def _python_chat(image: Callable[[Path], Any]) -> Builder:
    def build(tmp_path: Path) -> Call:
        messages = [
            {"role": "user", "content": "hi", "images": [image(tmp_path)]},
            {
                "role": "assistant",
                "content": "",  # dropped: empty
                "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
            },
            {"role": "tool", "content": "42", "tool_name": "f"},
        ]
        return call("chat", "llama3.2", messages)

    return build


def _python_chat_tools(tool: Any) -> Builder:
    return lambda tmp_path: call(
        "chat",
        "llama3.2",
        HI,
        tools=[tool],
        keep_alive=0,
        think=True,
        logprobs=True,
        top_logprobs=3,
    )


CLIENT_PYTHON: list[Any] = [
    pytest.param(
        "client-python-chat-request.json",
        _python_chat(lambda tmp_path: PNG),
        id="chat-image-bytes",
    ),
    pytest.param("client-python-chat-request.json", _python_chat(_png_file), id="chat-image-path"),
    pytest.param(
        "client-python-chat-request.json",
        _python_chat(lambda tmp_path: str(_png_file(tmp_path))),
        id="chat-image-str-path",
    ),
    pytest.param(
        "client-python-chat-request.json",
        _python_chat(lambda tmp_path: PNG_B64),
        id="chat-image-base64",
    ),
    pytest.param(
        "client-python-chat-stream-request.json",
        lambda tmp_path: call(
            "chat",
            "llama3.2",
            HI,
            stream=True,
            think="low",
            format="json",
            options={"temperature": 0},
            keep_alive="5m",
        ),
        id="chat-stream",
    ),
    pytest.param(
        "client-python-chat-tools-request.json", _python_chat_tools(add), id="chat-tools-function"
    ),
    pytest.param(
        "client-python-chat-tools-request.json", _python_chat_tools(ADD_TOOL), id="chat-tools-dict"
    ),
    pytest.param(
        "client-python-generate-request.json",
        lambda tmp_path: call(
            "generate",
            "llama3.2",
            "why",
            "end",
            system="s",
            template="t",
            context=[1, 2],
            raw=True,
            think=False,
            format={"type": "object"},
            options={"temperature": 0.5, "stop": ["a"]},
            keep_alive=-1,
            width=10,
            height=20,
            steps=3,
        ),
        id="generate",
    ),
    pytest.param(
        "client-python-embed-request.json",
        lambda tmp_path: call("embed", "all-minilm", ["a", "b"], truncate=True, dimensions=8),
        id="embed",
    ),
    pytest.param(
        "client-python-pull-request.json", lambda tmp_path: call("pull", "llama3.2"), id="pull"
    ),
    pytest.param(
        "client-python-create-request.json",
        lambda tmp_path: call(
            "create",
            "mario",
            quantize="q4_K_M",
            from_="llama3.2",
            files={"model.gguf": DIGEST_A},
            adapters={"adapter.gguf": DIGEST_B},
            template="{{ .Prompt }}",
            license="MIT",
            system="You are Mario",
            parameters={"temperature": 0.7},
            messages=[{"role": "user", "content": "x"}],
        ),
        id="create",
    ),
    pytest.param(
        "client-python-web-search-request.json",
        lambda tmp_path: call("web_search", "what is ollama?"),
        id="web-search",
    ),
    pytest.param(
        "systemone-request.json",
        lambda tmp_path: call(
            "systemone", "openjev", _SYSTEMONE["state"], _SYSTEMONE["questions"], keep_alive="5m"
        ),
        id="systemone",
    ),
]


@pytest.mark.parametrize(("fixture", "build"), CLIENT_PYTHON)
async def test_client_python_fixture_async(
    fixture: str, build: Builder, server: FakeOllama, tmp_path: Path
) -> None:
    async with async_client(server, api_key="k") as client:
        await run_async(client, build(tmp_path))
    (request,) = server.requests
    assert_same_json(json.loads(request.content), fixture_json(fixture))


@pytest.mark.parametrize(("fixture", "build"), CLIENT_PYTHON)
def test_client_python_fixture_sync(
    fixture: str, build: Builder, server: FakeOllama, tmp_path: Path, portal_backend: str
) -> None:
    with sync_client(server, portal_backend, api_key="k") as client:
        run_sync(client, build(tmp_path))
    (request,) = server.requests
    assert_same_json(json.loads(request.content), fixture_json(fixture))


def test_show_verbose_body(server: FakeOllama) -> None:
    # Ours only: the official client's show() has no verbose argument.
    with Client(transport=server.transport) as client:
        client.show("llama3", verbose=True)
        client.show("llama3", verbose=False)
    assert_same_json(server.body(0), fixture_json("show-verbose-request.json"))
    assert_same_json(server.body(1), fixture_json("show-request.json"))


# ---------------------------------------------------------------------------------------------
# (b) The same call through the official client and ours

# A call builder gets the client library (`ollama` or `ollama_anyio`), for the calls that pass
# its own Options/Message/Tool objects, and the test's tmp_path.
LibBuilder = Callable[[Any, Path], Call]


def _everything_chat(lib: Any, tmp_path: Path) -> Call:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is in these?", "images": [PNG, _png_file(tmp_path)]},
        {"role": "assistant", "content": "A pixel.", "thinking": "It is tiny."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}}
            ],
        },
        {"role": "tool", "content": "11 degrees", "tool_name": "get_current_weather"},
        {"role": "user", "content": "And \u00e0 Z\u00fcrich? <b>&</b>"},
    ]
    return call(
        "chat",
        "llama3.2",
        messages,
        tools=[WEATHER_TOOL, add],
        think="high",
        format={"type": "object", "properties": {"age": {"type": "integer"}}},
        options={"temperature": 0.2, "num_ctx": 8192, "stop": ["\n\n"], "seed": 42},
        keep_alive=300,
        logprobs=True,
        top_logprobs=5,
        stream=True,
    )


def _objects_chat(lib: Any, tmp_path: Path) -> Call:
    tool = lib.Tool(
        type="function",
        function=lib.Tool.Function(
            name="add",
            description="Add two numbers",
            parameters=lib.Tool.Function.Parameters(
                type="object",
                required=["a"],
                properties={"a": lib.Tool.Function.Parameters.Property(type="integer")},
            ),
        ),
    )
    return call(
        "chat",
        "llama3.2",
        [lib.Message(role="user", content="hi")],
        tools=[tool],
        options=lib.Options(temperature=0.1, top_k=10, stop=["x"]),
    )


def _everything_generate(lib: Any, tmp_path: Path) -> Call:
    return call(
        "generate",
        "llama3.2",
        "Why is the sky blue?",
        "    return result",
        system="s",
        template="{{ .Prompt }}",
        context=[1, 2, 3],
        stream=True,
        think="low",
        logprobs=True,
        top_logprobs=2,
        raw=False,
        format="json",
        images=[PNG, PNG_B64, _png_file(tmp_path), str(_png_file(tmp_path)), lib.Image(value=PNG)],
        options=lib.Options(num_predict=5, temperature=0.0),
        keep_alive="1h30m",
        width=512,
        height=256,
        steps=4,
    )


def _simple(method: str, *args: Any, **kwargs: Any) -> LibBuilder:
    return lambda lib, tmp_path: call(method, *args, **kwargs)


_SYSTEMONE: dict[str, Any] = fixture_json("systemone-request.json")


def _systemone_objects(lib: Any, tmp_path: Path) -> Call:
    # The questions as each package's own types, the noul one without criteria.
    questions = {
        "mood": lib.SystemOneChoiceQuestion(
            instructions={"ask": "mood?"}, criteria={"calm": None, "upset": "angry"}
        ),
        "refund": lib.SystemOneNoulQuestion(instructions="Refund asked?"),
        "level": lib.SystemOneScoreQuestion(instructions=["how", "upset"], criteria=["a", "b"]),
    }
    return call("systemone", "openjev", ["a", "list", "state"], questions)


OFFICIAL: list[Any] = [
    pytest.param(_simple("chat", "llama3.2", HI), id="chat-minimal"),
    pytest.param(_simple("chat", "llama3.2"), id="chat-no-messages"),
    pytest.param(_everything_chat, id="chat-everything"),
    pytest.param(_objects_chat, id="chat-objects"),
    pytest.param(_simple("chat", "llama3.2", HI, tools=[add]), id="chat-function-tool"),
    pytest.param(_simple("chat", "llama3.2", HI, think=False, format=""), id="chat-think-false"),
    pytest.param(_simple("chat", "llama3.2", HI, format="json"), id="chat-format-json"),
    pytest.param(_simple("chat", "llama3.2", [], keep_alive=0), id="chat-keep-alive-0"),
    pytest.param(_simple("chat", "llama3.2", HI, keep_alive=-1), id="chat-keep-alive-minus-1"),
    pytest.param(_simple("chat", "llama3.2", HI, keep_alive=1.5), id="chat-keep-alive-float"),
    pytest.param(_simple("chat", "llama3.2", HI, keep_alive="-1m"), id="chat-keep-alive-str"),
    pytest.param(_simple("chat", "llama3.2", HI, stream=True), id="chat-stream"),
    pytest.param(_simple("chat", "llama3.2", HI, think="max"), id="chat-think-max"),
    # a level the model declares, unknown to the client: sent as given (SPEC 9.1)
    pytest.param(_simple("chat", "llama3.2", HI, think="xhigh"), id="chat-think-model-level"),
    pytest.param(_simple("generate", "llama3.2", "hi", think="none"), id="generate-think-none"),
    pytest.param(
        _simple("systemone", "openjev", _SYSTEMONE["state"], _SYSTEMONE["questions"], "5m"),
        id="systemone-fixture",
    ),
    pytest.param(_systemone_objects, id="systemone-question-objects"),
    pytest.param(
        _simple(
            "chat",
            "llama3.2",
            HI,
            tools=[
                {
                    # keys outside the tool shape are dropped by both clients
                    "function": {
                        "name": "lookup",
                        "strict": True,
                        "parameters": {
                            "additionalProperties": False,
                            "$defs": {"Unit": {"type": "string", "enum": ["C", "F"]}},
                            "properties": {
                                "q": {"type": ["string", "null"], "default": "a", "minimum": 1},
                                "units": {"type": "array", "items": {"$ref": "#/$defs/Unit"}},
                            },
                        },
                    },
                    "x-extra": 1,
                },
            ],
        ),
        id="chat-tool-shape",
    ),
    # A history built by hand, as the official client accepts it: keys with falsy values are
    # left out of the body (SPEC 7.4), a tool call without arguments keeps "arguments": {}.
    pytest.param(
        _simple(
            "chat",
            "llama3.2",
            [
                {"role": "user", "content": "hi", "thinking": "", "images": []},
                {"role": "tool", "content": "42", "tool_name": ""},
            ],
        ),
        id="chat-message-empty-thinking-and-tool-name",
    ),
    pytest.param(
        _simple(
            "chat",
            "llama3.2",
            [
                HI[0],
                {
                    "role": "assistant",
                    "content": None,  # as OpenAI-style histories carry it
                    "tool_calls": [{"function": {"name": "now", "arguments": {}}}],
                },
            ],
        ),
        id="chat-message-content-none",
    ),
    pytest.param(
        _simple(
            "chat",
            "llama3.2",
            [
                HI[0],
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "now", "arguments": {}}}],
                },
                {"role": "tool", "content": "12:00", "tool_name": "now"},
            ],
        ),
        id="chat-tool-call-without-arguments",
    ),
    pytest.param(_simple("generate", "llama3.2", "hi"), id="generate-minimal"),
    pytest.param(_simple("generate", "llama3.2"), id="generate-no-prompt"),
    pytest.param(_simple("generate", "llama3.2", "", keep_alive=0), id="generate-unload"),
    pytest.param(_everything_generate, id="generate-everything"),
    pytest.param(_simple("generate", "llama3.2", "hi", raw=True, images=[]), id="generate-raw"),
    pytest.param(_simple("embed", "all-minilm", "hi"), id="embed-str"),
    pytest.param(_simple("embed", "all-minilm"), id="embed-no-input"),
    pytest.param(
        _simple(
            "embed",
            "all-minilm",
            ["a", "b"],
            truncate=False,
            options={"num_ctx": 512},
            keep_alive="10m",
            dimensions=4,
        ),
        id="embed-everything",
    ),
    pytest.param(_simple("embeddings", "all-minilm", "hi"), id="embeddings"),
    pytest.param(
        _simple("embeddings", "all-minilm", "hi", options={"temperature": 0}, keep_alive=10),
        id="embeddings-everything",
    ),
    pytest.param(_simple("pull", "llama3.2"), id="pull"),
    pytest.param(_simple("pull", "llama3.2", insecure=True, stream=True), id="pull-stream"),
    pytest.param(_simple("push", "me/llama3.2:latest"), id="push"),
    pytest.param(
        _simple("push", "me/llama3.2:latest", insecure=True, stream=True), id="push-stream"
    ),
    pytest.param(_simple("create", "mario", from_="llama3.2", system="Mario"), id="create-from"),
    pytest.param(
        lambda lib, tmp_path: call(
            "create",
            "mario",
            from_="llama3.2",
            template="{{ .Prompt }}",
            license=["MIT", "Apache-2.0"],
            system="You are Mario.",
            parameters=lib.Options(temperature=0.7, stop=["<|eot|>"]),
            messages=[
                {"role": "user", "content": "Who are you?"},
                {"role": "assistant", "content": "It's a me, Mario!"},
            ],
            stream=True,
        ),
        id="create-everything",
    ),
    pytest.param(
        _simple("create", "mine", files={"model.gguf": DIGEST_A}, quantize="q8_0"),
        id="create-files",
    ),
    pytest.param(_simple("copy", "llama3.2", "backup/llama3.2:old"), id="copy"),
    pytest.param(_simple("delete", "llama3.2"), id="delete"),
    pytest.param(_simple("show", "llama3.2"), id="show"),
    pytest.param(_simple("list"), id="list"),
    pytest.param(_simple("ps"), id="ps"),
    pytest.param(_simple("web_search", "what is ollama?"), id="web-search"),
    pytest.param(_simple("web_search", "what is ollama?", max_results=7), id="web-search-max"),
    pytest.param(_simple("web_fetch", "ollama.com"), id="web-fetch"),
]

# The official client needs an Authorization header for web_search/web_fetch.
AUTH: dict[str, Any] = {"headers": {"Authorization": "Bearer k"}}


def official_request(lib_call: LibBuilder, tmp_path: Path) -> tuple[str, str, str, str, Any]:
    """What the official client sends for the call (its answer read to the end)."""
    fake = FakeOllama()
    serve_everything(fake)
    built = lib_call(ollama, tmp_path)
    with ollama.Client(transport=fake.transport, **AUTH) as client:
        result = getattr(client, built.method)(*built.args, **built.kwargs)
        if built.kwargs.get("stream"):
            list(result)
    (request,) = fake.requests
    return sent(request)


@pytest.mark.parametrize("lib_call", OFFICIAL)
def test_same_request_as_official_client_sync(
    lib_call: LibBuilder, server: FakeOllama, tmp_path: Path, portal_backend: str
) -> None:
    expected = official_request(lib_call, tmp_path)
    with sync_client(server, portal_backend, **AUTH) as client:
        run_sync(client, lib_call(ollama_anyio, tmp_path))
    (request,) = server.requests
    *head, body = sent(request)
    assert head == list(expected[:-1])
    assert_same_json(body, expected[-1])


@pytest.mark.parametrize("lib_call", OFFICIAL)
async def test_same_request_as_official_client_async(
    lib_call: LibBuilder, server: FakeOllama, tmp_path: Path
) -> None:
    expected = official_request(lib_call, tmp_path)
    async with async_client(server, **AUTH) as client:
        await run_async(client, lib_call(ollama_anyio, tmp_path))
    (request,) = server.requests
    *head, body = sent(request)
    assert head == list(expected[:-1])
    assert_same_json(body, expected[-1])


def test_tool_call_ids_are_kept_in_history(server: FakeOllama, tmp_path: Path) -> None:
    # We keep what the server sent about a tool call (its `id`, `function.index`) and a tool
    # message's `tool_call_id` when the history goes back: the server uses them to match results
    # with calls. The official client's Message model drops those keys.
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_8z4q1mxt",
                    "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}},
                },
                {
                    "id": "call_p2w7hs1e",
                    "function": {"index": 1, "name": "get_weather", "arguments": {"city": "Tokyo"}},
                },
            ],
        },
        {
            "role": "tool",
            "content": "11",
            "tool_name": "get_weather",
            "tool_call_id": "call_8z4q1mxt",
        },
    ]
    *_, official = official_request(_simple("chat", "llama3.2", history), tmp_path)
    with Client(transport=server.transport) as client:
        client.chat("llama3.2", history)
    ours = server.body()
    for message in official["messages"]:
        for tool_call in message.get("tool_calls", ()):
            assert set(tool_call) == {"function"}
            assert set(tool_call["function"]) == {"name", "arguments"}
    official["messages"][1]["tool_calls"][0]["id"] = "call_8z4q1mxt"
    official["messages"][1]["tool_calls"][0]["function"]["index"] = 0
    official["messages"][1]["tool_calls"][1]["id"] = "call_p2w7hs1e"
    official["messages"][1]["tool_calls"][1]["function"]["index"] = 1
    official["messages"][2]["tool_call_id"] = "call_8z4q1mxt"
    assert_same_json(ours, official)


def test_nested_tool_schemas_are_kept(server: FakeOllama, tmp_path: Path) -> None:
    # Intended difference: a property's own `properties`, `required` and `anyOf` reach the
    # server, so the model sees the shape of nested objects and of optional values; the official
    # client's Property model keeps only type, items, description and enum.
    properties = {
        "where": {
            "type": "object",
            "description": "A place",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": properties}},
    }
    *_, official = official_request(_simple("chat", "llama3.2", HI, tools=[tool]), tmp_path)
    assert official["tools"][0]["function"]["parameters"]["properties"] == {
        "where": {"type": "object", "description": "A place"},
        "when": {},
    }
    with Client(transport=server.transport) as client:
        client.chat("llama3.2", HI, tools=[tool])
    assert_same_json(server.body()["tools"][0]["function"]["parameters"]["properties"], properties)


def test_truncate_and_shift_are_sent(server: FakeOllama) -> None:
    # Ours only: the official client 0.6.3 has no truncate/shift arguments (SPEC 4.3, 4.4).
    with Client(transport=server.transport) as client:
        client.generate("llama3.2", "hi", truncate=False, shift=True)
        client.chat("llama3.2", HI, truncate=True, shift=False)
    assert_same_json(
        server.body(0),
        {"model": "llama3.2", "prompt": "hi", "stream": False, "truncate": False, "shift": True},
    )
    assert_same_json(
        server.body(1),
        {
            "model": "llama3.2",
            "stream": False,
            "messages": HI,
            "tools": [],
            "truncate": True,
            "shift": False,
        },
    )


# ---------------------------------------------------------------------------------------------
# Headers


def _every_kind_of_request(client: Client) -> None:
    client.version()  # GET
    client.chat("llama3.2", HI)  # POST
    with client.generate("llama3.2", "hi", stream=True) as parts:  # streamed
        list(parts)
    client.delete("llama3.2")  # DELETE with a body


def test_fixed_headers(server: FakeOllama, portal_backend: str) -> None:
    with sync_client(server, portal_backend) as client:
        _every_kind_of_request(client)
    assert len(server.requests) == 4
    for request in server.requests:
        assert request.headers["content-type"] == "application/json"
        # application/json also for streams, as the official client sends (SPEC 7.3)
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("ollama-anyio/")
        assert "authorization" not in request.headers


async def test_fixed_headers_async(server: FakeOllama) -> None:
    async with AsyncClient(transport=server.transport) as client:
        await client.version()
        stream = await client.chat("llama3.2", HI, stream=True)
        async with stream:
            parts = [part async for part in stream]
        assert parts[-1].done
    for request in server.requests:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("ollama-anyio/")


def test_fixed_headers_override_the_callers(server: FakeOllama) -> None:
    headers = {"Content-Type": "text/plain", "Accept": "text/html", "User-Agent": "me", "X-A": "b"}
    with Client(transport=server.transport, headers=headers) as client:
        client.list()
    (request,) = server.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("ollama-anyio/")
    assert request.headers["x-a"] == "b"


@pytest.mark.parametrize("host", [None, "http://localhost:11434", "https://example.com"])
def test_api_key_from_environment_stays_away_from_other_hosts(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch, host: str | None
) -> None:
    # Intended difference: the official client sends OLLAMA_API_KEY to every host (SPEC 7.1),
    # where whoever runs the server could read it. We send it to https://ollama.com only.
    monkeypatch.setenv("OLLAMA_API_KEY", "secret")
    with Client(host, transport=server.transport) as client:
        _every_kind_of_request(client)
    assert len(server.requests) == 4
    assert all("authorization" not in request.headers for request in server.requests)


@pytest.mark.parametrize("method", ["web_search", "web_fetch"])
def test_api_key_from_environment_goes_to_ollama_com(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "k")
    with Client(transport=server.transport) as client:
        getattr(client, method)("ollama")
    (request,) = server.requests
    assert request.url.scheme == "https"
    assert request.url.host == "ollama.com"
    assert request.headers["authorization"] == "Bearer k"


async def test_api_key_argument_goes_to_ollama_com(server: FakeOllama) -> None:
    async with AsyncClient(transport=server.transport, api_key="k") as client:
        await client.web_search("what is ollama?")
    (request,) = server.requests
    assert str(request.url) == "https://ollama.com/api/web_search"
    assert request.headers["authorization"] == "Bearer k"


def test_api_key_argument_goes_to_the_host_too(server: FakeOllama) -> None:
    # An api_key given to the client (not read from the environment) is meant for its host too,
    # e.g. a remote server behind a proxy that checks it.
    with Client("example.com:8443", transport=server.transport, api_key="k") as client:
        client.list()
    (request,) = server.requests
    assert str(request.url) == "http://example.com:8443/api/tags"
    assert request.headers["authorization"] == "Bearer k"


def test_caller_authorization_header_is_sent(
    server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller's header wins over the environment's key, locally and on ollama.com.
    monkeypatch.setenv("OLLAMA_API_KEY", "from-env")
    with Client(transport=server.transport, headers={"Authorization": "Bearer mine"}) as client:
        client.list()
        client.web_search("what is ollama?")
    assert [request.headers["authorization"] for request in server.requests] == [
        "Bearer mine",
        "Bearer mine",
    ]
    assert [request.headers.get_list("authorization") for request in server.requests] == [
        ["Bearer mine"],
        ["Bearer mine"],
    ]


# ---------------------------------------------------------------------------------------------
# Bad input: RequestError (a ValueError) before anything is sent

HEX64 = "0123456789abcdef" * 4
_STATE, _QUESTIONS = _SYSTEMONE["state"], _SYSTEMONE["questions"]

BAD_CALLS: list[Any] = [
    pytest.param(call("systemone", "", _STATE, _QUESTIONS), id="systemone-empty-model"),
    pytest.param(call("systemone", "openjev", 42, _QUESTIONS), id="systemone-state-int"),
    pytest.param(call("systemone", "openjev", _STATE, {}), id="systemone-no-questions"),
    pytest.param(
        call("systemone", "openjev", _STATE, {"q": {"type": "essay", "instructions": "x"}}),
        id="systemone-unknown-type",
    ),
    pytest.param(
        call("systemone", "openjev", _STATE, {"q": {"type": "choice", "instructions": "x"}}),
        id="systemone-choice-without-criteria",
    ),
    pytest.param(
        call(
            "systemone",
            "openjev",
            _STATE,
            {"q": {"type": "score", "instructions": "x", "criteria": []}},
        ),
        id="systemone-score-empty-criteria",
    ),
    pytest.param(
        call("systemone", "openjev", _STATE, {"q": "free text"}), id="systemone-str-question"
    ),
    pytest.param(
        call("systemone", "openjev", _STATE, _QUESTIONS, "forever"), id="systemone-keep-alive"
    ),
    pytest.param(call("chat", "", HI), id="chat-empty-model"),
    pytest.param(call("generate", "", "hi"), id="generate-empty-model"),
    pytest.param(call("embed", "", "hi"), id="embed-empty-model"),
    pytest.param(call("show", ""), id="show-empty-model"),
    pytest.param(call("pull", "", stream=True), id="pull-empty-model"),
    pytest.param(call("chat", "llama 3.2", HI), id="model-with-space"),
    pytest.param(call("generate", "llama3.2 ", "hi"), id="model-with-trailing-space"),
    pytest.param(call("chat", "library/llama3.2/", HI), id="model-with-slash-at-end"),
    pytest.param(call("delete", "llama3.2/"), id="delete-slash-at-end"),
    pytest.param(call("chat", "llama3.2", "hi"), id="messages-str"),
    pytest.param(call("chat", "llama3.2", {"role": "user", "content": "hi"}), id="messages-dict"),
    pytest.param(call("chat", "llama3.2", 42), id="messages-int"),
    pytest.param(call("chat", "llama3.2", ["hi"]), id="message-str"),
    pytest.param(call("chat", "llama3.2", [HI[0], 42]), id="message-int"),
    pytest.param(call("chat", "llama3.2", [{"content": "hi"}]), id="role-missing"),
    pytest.param(call("chat", "llama3.2", [{"role": "", "content": "hi"}]), id="role-empty"),
    pytest.param(call("chat", "llama3.2", HI, think=""), id="think-empty-level"),
    pytest.param(call("generate", "llama3.2", "hi", think=1), id="think-int"),
    pytest.param(call("chat", "llama3.2", HI, think=["high"], stream=True), id="think-stream"),
    pytest.param(call("chat", "llama3.2", HI, format="xml"), id="format-xml"),
    pytest.param(call("generate", "llama3.2", "hi", format=["json"]), id="format-list"),
    pytest.param(call("chat", "llama3.2", HI, top_logprobs=21), id="top-logprobs-21"),
    pytest.param(call("generate", "llama3.2", "hi", top_logprobs=-1), id="top-logprobs-minus-1"),
    pytest.param(call("chat", "llama3.2", HI, options=[("temperature", 1)]), id="options-list"),
    pytest.param(
        call("generate", "llama3.2", "hi", options={"temperature": "hot"}), id="options-bad-value"
    ),
    pytest.param(call("embed", "m", "x", options={"num_ctx": "big"}), id="embed-options-bad"),
    pytest.param(call("chat", "llama3.2", HI, keep_alive="5"), id="keep-alive-no-unit"),
    pytest.param(call("generate", "llama3.2", "hi", keep_alive=True), id="keep-alive-bool"),
    pytest.param(call("embed", "all-minilm", "x", keep_alive="soon"), id="keep-alive-word"),
    pytest.param(call("generate", "llama3.2", "hi", images=["not an image!"]), id="image-str"),
    pytest.param(call("generate", "llama3.2", "hi", images=[42]), id="image-int"),
    pytest.param(call("generate", "llama3.2", "hi", images=PNG), id="images-not-a-list"),
    pytest.param(
        call("chat", "llama3.2", [{"role": "user", "content": "hi", "images": ["???"]}]),
        id="message-image-str",
    ),
    pytest.param(call("chat", "llama3.2", HI, tools=[42]), id="tool-int"),
    pytest.param(call("chat", "llama3.2", HI, tools=["add"]), id="tool-str"),
    pytest.param(call("create", "mario"), id="create-without-from-or-files"),
    pytest.param(call("create", "mario", stream=True), id="create-stream-without-from"),
    pytest.param(call("create", "mario", files={"m.gguf": "sha256:abc"}), id="create-bad-digest"),
    pytest.param(call("copy", "llama3.2", ""), id="copy-empty-destination"),
    pytest.param(call("copy", "", "backup"), id="copy-empty-source"),
    pytest.param(call("blob_exists", "sha256:abc"), id="digest-short"),
    pytest.param(call("blob_exists", HEX64), id="digest-no-prefix"),
    pytest.param(call("blob_exists", "md5:" + HEX64), id="digest-md5"),
    pytest.param(call("blob_exists", "sha256:" + HEX64[:-1] + "g"), id="digest-not-hex"),
    pytest.param(call("blob_exists", "sha256:" + HEX64 + "0"), id="digest-too-long"),
]


@pytest.mark.parametrize("bad", BAD_CALLS)
async def test_bad_input_sends_nothing_async(bad: Call, server: FakeOllama) -> None:
    async with async_client(server) as client:
        with pytest.raises(RequestError) as info:
            await run_async(client, bad)
    assert isinstance(info.value, ValueError)
    assert info.value.error
    assert server.requests == []


@pytest.mark.parametrize("bad", BAD_CALLS)
def test_bad_input_sends_nothing_sync(bad: Call, server: FakeOllama, portal_backend: str) -> None:
    with sync_client(server, portal_backend) as client:
        with pytest.raises(RequestError) as info:
            run_sync(client, bad)
    assert isinstance(info.value, ValueError)
    assert server.requests == []


def test_bad_input_fails_at_the_call_not_at_iteration(server: FakeOllama) -> None:
    # A streaming call checks its arguments when called, not when its stream is first read.
    with Client(transport=server.transport) as client:
        with pytest.raises(RequestError, match="top_logprobs"):
            client.chat("llama3.2", HI, stream=True, top_logprobs=21)
    assert server.requests == []


def test_web_search_without_a_key_sends_nothing(server: FakeOllama) -> None:
    with Client(transport=server.transport) as client:
        with pytest.raises(RequestError, match="API key"):
            client.web_search("what is ollama?")
    assert server.requests == []


# keep_alive values (SPEC §1.11), checked while the request is built


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0.0),
        (0.0, 0.0),
        (42.5, 42.5),
        (300, 300.0),
        (-1, -1.0),
        ("5m", "5m"),
        ("10s", "10s"),
        ("1h30m", "1h30m"),
        ("300ms", "300ms"),
        ("1.5h", "1.5h"),
        ("0", "0"),
        ("0s", "0s"),
        ("-1m", "-1m"),
        ("-1s", "-1s"),
        ("+0", "+0"),
        ("10ns", "10ns"),
        ("10us", "10us"),
        ("10µs", "10µs"),  # U+00B5 micro sign
        ("10μs", "10μs"),  # U+03BC Greek mu
        ("1.s", "1.s"),
        (".5s", ".5s"),
        ("2562047h", "2562047h"),
        ("-2562047h47m16.854775808s", "-2562047h47m16.854775808s"),
    ],
)
def test_check_keep_alive_accepts(value: object, expected: object) -> None:
    result = check_keep_alive(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        "5",
        "-5",
        "00",
        "abc",
        "",
        "5d",
        "1h 30m",
        "5m\n",
        ".s",
        "1.5",
        "\u0661s",  # an Arabic-Indic digit
        "2562048h",
        "2562047h47m16.854775808s",
        "9" * 5000 + "h",
    ],
)
def test_check_keep_alive_rejects_strings(value: str) -> None:
    with pytest.raises(RequestError, match="keep_alive") as info:
        check_keep_alive(value)
    assert repr(value)[:50] in str(info.value)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(True, "bool"), (False, "bool"), ([], "list"), ({}, "dict"), (b"5m", "bytes")],
)
def test_check_keep_alive_rejects_types(value: object, type_name: str) -> None:
    with pytest.raises(RequestError, match=type_name):
        check_keep_alive(value, "options.keep_alive")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_check_keep_alive_rejects_non_finite(value: object) -> None:
    with pytest.raises(RequestError, match="finite"):
        check_keep_alive(value)


def test_check_keep_alive_names_the_argument() -> None:
    with pytest.raises(RequestError, match=r"^embed keep_alive must be"):
        check_keep_alive("5", "embed keep_alive")
