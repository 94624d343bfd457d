"""Emulator fidelity: systemone, declared thinking levels, done_reason-only streams, the
bounded request log, format="json" answers and tool calls taken from the prompt."""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
import pytest

import ollama_anyio
from ollama_anyio.testing import OllamaEmulator
from ollama_anyio.testing.__main__ import _parser

from .conftest import fixture_json, http

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "format"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def post(emu: OllamaEmulator, path: str, body: dict[str, Any]) -> Any:
    async with http(emu) as client:
        response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def chat(emu: OllamaEmulator, content: str, **body: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": content}]
    body = {"model": "llama3.2", "stream": False, "messages": messages, **body}
    result: dict[str, Any] = await post(emu, "/api/chat", body)
    return result


# ---------------------------------------------------------------------------------------------
# /v1/systemone


@pytest.fixture
async def decider() -> Any:
    async with OllamaEmulator(models=["openjev"]) as emulator:
        yield emulator
    assert emulator.errors == []


async def test_systemone_answers_are_well_formed_and_deterministic(decider: OllamaEmulator) -> None:
    request = fixture_json("systemone-request.json")
    answer = await post(decider, "/v1/systemone", request)
    assert answer == await post(decider, "/v1/systemone", request)
    assert answer["model"] == "openjev"
    assert set(answer["answers"]) == set(request["questions"])
    # the same keys, per kind, as the fixture's answer
    expected = fixture_json("systemone-response.json")
    for name, theirs in expected["answers"].items():
        assert set(answer["answers"][name]) == set(theirs), name
    choice = answer["answers"]["sentiment"]
    assert list(choice["probabilities"]) == ["positive", "neutral", "negative"]
    assert math.isclose(sum(choice["probabilities"].values()), 1.0, abs_tol=1e-9)
    assert choice["choice"] == max(choice["probabilities"], key=choice["probabilities"].get)
    assert 0 <= choice["confidence"] <= 1
    assert 0 <= answer["answers"]["refund"]["noul"] <= 1
    score = answer["answers"]["frustration"]
    assert score["legend"] == {"0": "Calm", "1": "Frustrated", "2": "Very angry"}
    assert math.isclose(sum(score["probabilities"].values()), 1.0, abs_tol=1e-9)
    expected_level = sum(int(level) * p for level, p in score["probabilities"].items())
    assert math.isclose(score["score"], expected_level, abs_tol=1e-3)
    assert 0 <= score["score"] <= 2
    assert 0 <= score["confidence"] <= 1
    assert answer["usage"]["input_tokens"] > 0
    assert answer["usage"]["output_tokens"] == 3


async def test_systemone_through_the_client(decider: OllamaEmulator) -> None:
    request = fixture_json("systemone-request.json")
    async with ollama_anyio.AsyncClient(decider.url) as client:
        result = await client.systemone("openjev", request["state"], request["questions"])
    assert isinstance(result.answers["sentiment"], ollama_anyio.SystemOneChoiceAnswer)
    assert isinstance(result.answers["refund"], ollama_anyio.SystemOneNoulAnswer)
    assert isinstance(result.answers["frustration"], ollama_anyio.SystemOneScoreAnswer)
    assert result.answers["refund"]["type"] == "noul"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param({"model": "nope"}, 404, id="unknown-model"),
        pytest.param({"model": ""}, 400, id="no-model"),
        pytest.param({"questions": {}}, 400, id="no-questions"),
        pytest.param({"questions": {"q": {"type": "essay", "instructions": "x"}}}, 400, id="type"),
        pytest.param(
            {"questions": {"q": {"type": "choice", "instructions": "x", "criteria": {}}}},
            400,
            id="no-choices",
        ),
    ],
)
async def test_systemone_errors(
    decider: OllamaEmulator, change: dict[str, Any], status: int
) -> None:
    request = {**fixture_json("systemone-request.json"), **change}
    async with http(decider) as client:
        response = await client.post("/v1/systemone", json=request)
    assert response.status_code == status
    assert response.json()["error"]


# ---------------------------------------------------------------------------------------------
# A model that declares its thinking levels (SPEC 9.1)


async def test_declared_levels_are_shown_and_unknown_names_get_the_default() -> None:
    async with OllamaEmulator(models=["gpt-oss"]) as emu:
        show = await post(emu, "/api/show", {"model": "gpt-oss"})
        assert show["thinking"] == {
            "values": ["low", "medium", "high", "xhigh"],
            "default": "medium",
        }
        kept = await chat(emu, "Hi", model="gpt-oss", think="xhigh")
        unknown = await chat(emu, "Hi", model="gpt-oss", think="ludicrous")
        off = await chat(emu, "Hi", model="gpt-oss", think=False)
    assert kept["message"]["thinking"].startswith("(xhigh) ")
    assert unknown["message"]["thinking"].startswith("(medium) ")
    assert "thinking" not in off["message"]
    assert "thinking" not in fixture_json("show-response.json")  # models without levels omit it


# ---------------------------------------------------------------------------------------------
# Streams that end with done_reason only (SPEC 9.2)


async def test_done_reason_only_streams_end_without_done_and_the_client_finishes_them() -> None:
    async with OllamaEmulator(done_reason_only=True) as emu:
        async with http(emu) as client:
            messages = [{"role": "user", "content": "Hi"}]
            body = {"model": "llama3.2", "messages": messages}
            raw = await client.post("/api/chat", json=body)
            whole = await client.post("/api/chat", json={**body, "stream": False})
        async with ollama_anyio.AsyncClient(emu.url) as ours:
            async with await ours.chat("llama3.2", messages, stream=True) as stream:
                chunks = [chunk async for chunk in stream]
    final = json.loads(raw.text.splitlines()[-1])
    assert (final["done"], final["done_reason"]) == (False, "stop")
    assert "eval_count" in final
    assert whole.json()["done"] is True  # only streams end this way
    assert chunks[-1].done is True
    assert chunks[-1].done_reason == "stop"


# ---------------------------------------------------------------------------------------------
# The request log


async def test_the_request_log_keeps_the_latest_requests_and_counts_all() -> None:
    async with OllamaEmulator(request_log=2) as emu, http(emu) as client:
        for _ in range(5):
            await client.get("/api/version")
        await client.get("/api/tags")
        with anyio.fail_after(10):
            await emu.wait_for_requests(6)
        assert [r.path for r in emu.requests] == ["/api/version", "/api/tags"]
        assert emu.received == 6


async def test_a_request_log_of_zero_keeps_none() -> None:
    async with OllamaEmulator(request_log=0) as emu, http(emu) as client:
        await client.get("/api/version")
        with anyio.fail_after(10):
            await emu.wait_for_requests(1)
        assert emu.requests == []
        assert emu.received == 1


def test_request_log_size_is_checked_and_settable_from_the_command_line() -> None:
    with pytest.raises(ValueError, match="request_log"):
        OllamaEmulator(request_log=-1)
    args = _parser().parse_args(["--request-log", "0", "--done-reason-only"])
    assert (args.request_log, args.done_reason_only) == (0, True)
    assert _parser().parse_args([]).request_log == 1000
    with pytest.raises(SystemExit):
        _parser().parse_args(["--request-log", "-5"])


# ---------------------------------------------------------------------------------------------
# format="json" and tool calls, from what the prompt asks


async def test_json_answers_have_the_keys_the_prompt_asks_for(emu: OllamaEmulator) -> None:
    listed = await chat(
        emu, "Describe a person as JSON with keys name, age and city.", format="json"
    )
    quoted = await chat(emu, 'Answer with "title" and "is_available".', format="json")
    other = await chat(emu, "Why is the sky blue?", format="json")
    person = json.loads(listed["message"]["content"])
    assert list(person) == ["name", "age", "city"]
    assert isinstance(person["age"], int)
    assert isinstance(person["name"], str)
    flags = json.loads(quoted["message"]["content"])
    assert list(flags) == ["title", "is_available"]
    assert isinstance(flags["is_available"], bool)
    plausible = json.loads(other["message"]["content"])
    assert isinstance(plausible["answer"], str)
    assert plausible["topic"] == "sky blue"


@pytest.mark.parametrize(
    ("prompt", "tools", "calls"),
    [
        pytest.param(
            "What is the weather in San Francisco, CA?",
            [WEATHER],
            [("get_current_weather", {"location": "San Francisco, CA", "format": "celsius"})],
            id="one-place-with-a-comma",
        ),
        pytest.param(
            "Weather in Zürich in fahrenheit?",
            [WEATHER],
            [("get_current_weather", {"location": "Zürich", "format": "fahrenheit"})],
            id="enum-from-the-prompt",
        ),
        pytest.param(
            "東京の天気は\uff1f",  # (a fullwidth question mark)
            [WEATHER],
            [("get_current_weather", {"location": "東京の天気は", "format": "celsius"})],
            id="non-latin",
        ),
        pytest.param(
            "What is the weather in Paris and the time in Tokyo?",
            [CLOCK, WEATHER],
            [
                ("get_current_weather", {"location": "Paris", "format": "celsius"}),
                ("get_time", {"city": "Tokyo"}),
            ],
            id="two-tools-in-prompt-order",
        ),
        pytest.param(
            "What time is it in Lima?",
            [WEATHER, CLOCK],
            [("get_time", {"city": "Lima"})],
            id="only-the-tool-asked-for",
        ),
    ],
)
async def test_one_tool_call_per_tool_asked_for_with_arguments_from_the_prompt(
    emu: OllamaEmulator, prompt: str, tools: list[Any], calls: list[tuple[str, Any]]
) -> None:
    result = await chat(emu, prompt, tools=tools)
    got = [
        (c["function"]["name"], c["function"]["arguments"]) for c in result["message"]["tool_calls"]
    ]
    assert [name for name, _ in got] == [name for name, _ in calls]
    for (_, arguments), (_, expected) in zip(got, calls, strict=True):
        # the string taken from the prompt exactly; an enum value from the prompt, or any
        assert arguments[next(iter(expected))] == expected[next(iter(expected))]
        if "format" in expected and expected["format"] == "fahrenheit":
            assert arguments["format"] == "fahrenheit"
        if "format" in arguments:
            assert arguments["format"] in ("celsius", "fahrenheit")
