"""Stream accumulation: a stream's chunks fold into the answer ``stream=False`` gives (SPEC 1.5).

The fold is checked three ways: against an independent fold of the SPEC fixtures' JSON, against
the emulator's own non-streamed answer to the same request, and through the stream methods
(``collect``, ``accumulate``, ``text``, ``thinking``, ``final``) on both backends and the
blocking emu_client.
"""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
import pytest

from conftest import FIXTURES
from ollama_anyio import (
    AsyncClient,
    ChatResponse,
    Client,
    GenerateResponse,
    IncompleteStreamError,
    ProgressResponse,
    ProtocolError,
)
from ollama_anyio._accumulate import Accumulator
from ollama_anyio.testing import OllamaEmulator, Reply, ToolCall

TEXT_FIELDS = ("content", "thinking")


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def _server_fold(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """SPEC 1.5 written out on the JSON: what the server sends for ``stream: false``."""
    result = dict(chunks[-1])
    logprobs = [entry for chunk in chunks for entry in chunk.get("logprobs") or ()]
    if logprobs:
        result["logprobs"] = logprobs
    if "message" in result:
        message = dict(result["message"])
        for key in TEXT_FIELDS:
            text = "".join(c["message"].get(key) or "" for c in chunks)
            if text:
                message[key] = text
        calls = [call for c in chunks for call in c["message"].get("tool_calls") or ()]
        if calls:
            message["tool_calls"] = calls
        result["message"] = message
    else:
        result["response"] = "".join(c["response"] for c in chunks)
        thinking = "".join(c.get("thinking") or "" for c in chunks)
        if thinking:
            result["thinking"] = thinking
    return result


def _fold(kind: type[Any], chunks: list[dict[str, Any]]) -> Any:
    accumulator: Accumulator[Any] = Accumulator()
    for chunk in chunks:
        accumulator.feed(msgspec.convert(chunk, kind))
    return accumulator.result()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("chat-stream.ndjson", ChatResponse),
        ("chat-thinking-stream.ndjson", ChatResponse),
        ("chat-tool-calls-stream.ndjson", ChatResponse),
        ("chat-logprobs-stream.ndjson", ChatResponse),
        ("generate-stream.ndjson", GenerateResponse),
        ("generate-thinking-stream.ndjson", GenerateResponse),
    ],
)
def test_a_fixture_stream_folds_into_what_the_server_sends_unstreamed(
    name: str, kind: type[Any]
) -> None:
    chunks = _lines(name)
    assert _fold(kind, chunks) == msgspec.convert(_server_fold(chunks), kind)


def test_chat_stream_fixture_gives_the_whole_text_and_the_final_metrics() -> None:
    final = _fold(ChatResponse, _lines("chat-stream.ndjson"))
    expected = json.loads((FIXTURES / "chat-response.json").read_text())
    assert final.message.content == expected["message"]["content"]
    assert (final.done, final.done_reason, final.eval_count) == (True, "stop", 31)


def test_a_done_reason_without_done_ends_the_answer() -> None:
    """SPEC 9.2: a chunk with a non-empty done_reason is final, as one with done: true."""
    chunks: list[dict[str, Any]] = [
        {"message": {"role": "assistant", "content": "Hi"}, "done": False},
        {"message": {"role": "assistant", "content": ""}, "done_reason": "stop", "eval_count": 2},
    ]
    final = _fold(ChatResponse, chunks)
    assert (final.message.content, final.done_reason, final.eval_count) == ("Hi", "stop", 2)


def test_tool_calls_on_the_final_chunk_are_gathered_after_earlier_ones() -> None:
    call = {"function": {"name": "f", "arguments": {}}}
    chunks: list[dict[str, Any]] = [
        {"message": {"role": "assistant", "content": "", "tool_calls": [call]}},
        {"message": {"role": "assistant", "content": "", "tool_calls": [call]}, "done": True},
    ]
    assert len(_fold(ChatResponse, chunks).message.tool_calls) == 2


def test_without_the_final_chunk_there_is_no_answer() -> None:
    accumulator: Accumulator[ChatResponse] = Accumulator()
    accumulator.feed(ChatResponse(done=False))
    assert not accumulator.done
    with pytest.raises(IncompleteStreamError):
        accumulator.result()


def test_a_progress_stream_folds_into_its_success_event() -> None:
    events = _lines("pull-progress.ndjson")
    final = _fold(ProgressResponse, events)
    assert final == msgspec.convert(events[-1], ProgressResponse)
    assert final.status == "success"


def _same_answer(streamed: Any, whole: Any) -> None:
    """Equal but for the clock: created_at and the durations."""
    clock = {"created_at", "total_duration", "load_duration"}
    for name in streamed.__struct_fields__:
        if name not in clock:
            assert getattr(streamed, name) == getattr(whole, name), name


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "thinking": {"model": "qwen3", "think": True},
    "tools": {"tools": [WEATHER]},
    "logprobs": {"logprobs": True, "top_logprobs": 2},
}
ASK = [{"role": "user", "content": "What is the weather in Tokyo and Toronto?"}]


@pytest.mark.parametrize("case", CASES)
async def test_an_accumulated_chat_stream_equals_the_unstreamed_answer(
    emu_client: AsyncClient, case: str
) -> None:
    arguments = {"model": "llama3.2", "messages": ASK, **CASES[case]}
    whole = await emu_client.chat(**arguments)
    async with await emu_client.chat(**arguments, stream=True) as stream:
        streamed = await stream.collect()
    _same_answer(streamed, whole)
    if case == "tools":
        assert streamed.message.tool_calls is not None
        assert len(streamed.message.tool_calls) == 2


@pytest.mark.parametrize("case", ["plain", "thinking", "logprobs"])
async def test_an_accumulated_generate_stream_equals_the_unstreamed_answer(
    emu_client: AsyncClient, case: str
) -> None:
    arguments = {"model": "llama3.2", "prompt": "Why is the sky blue?", **CASES[case]}
    whole = await emu_client.generate(**arguments)
    async with await emu_client.generate(**arguments, stream=True) as stream:
        streamed = await stream.collect()
    _same_answer(streamed, whole)


async def test_text_and_thinking_iterate_pieces_and_leave_the_whole_answer(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(content="Three r's.", thinking="Count them: r, r, r."))
    async with await emu_client.chat("qwen3", ASK, think=True, stream=True) as stream:
        thoughts = [piece async for piece in stream.thinking()]
        texts = [piece async for piece in stream.text()]
    assert "".join(thoughts) == "Count them: r, r, r."
    assert texts == []  # thinking() read the whole stream, content included
    assert stream.final.message.content == "Three r's."
    assert stream.final.message.thinking == "Count them: r, r, r."
    assert all(thoughts)


async def test_text_yields_only_non_empty_content(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(content="one two", tool_calls=[ToolCall("f", {})]))
    async with await emu_client.chat("llama3.2", ASK, tools=[WEATHER], stream=True) as stream:
        pieces = [piece async for piece in stream.text()]
    assert pieces == ["one", " two"]
    assert stream.final.message.tool_calls is not None


async def test_accumulate_yields_every_chunk_and_final_follows(emu_client: AsyncClient) -> None:
    async with await emu_client.generate("llama3.2", "Hello", stream=True) as stream:
        chunks = [chunk async for chunk in stream.accumulate()]
    assert chunks[-1].done
    assert stream.final.response == "".join(chunk.response or "" for chunk in chunks)


async def test_a_plain_loop_read_to_the_end_leaves_the_whole_answer(
    emu_client: AsyncClient,
) -> None:
    whole = await emu_client.generate("llama3.2", "Why is the sky blue?")
    async with await emu_client.generate("llama3.2", "Why is the sky blue?", stream=True) as s:
        pieces = [chunk.response async for chunk in s]
    assert s.final.response == "".join(p or "" for p in pieces) == whole.response
    assert s.final.eval_count == whole.eval_count


async def test_collect_after_a_partial_loop_includes_the_chunks_already_read(
    emu_client: AsyncClient,
) -> None:
    whole = await emu_client.chat("llama3.2", ASK)
    async with await emu_client.chat("llama3.2", ASK, stream=True) as stream:
        first = await stream.__anext__()
        assert first.message.content  # a piece of the answer was read by hand
        with pytest.raises(IncompleteStreamError, match="final chunk"):
            _ = stream.final  # not there yet: never a partial answer
        collected = await stream.collect()
    assert collected.message.content == whole.message.content
    assert collected.message.content.startswith(first.message.content)


async def test_a_stream_closed_early_never_gives_a_partial_whole(emu_client: AsyncClient) -> None:
    async with await emu_client.chat("llama3.2", ASK, stream=True) as stream:
        await stream.__anext__()
    with pytest.raises(IncompleteStreamError):
        await stream.collect()
    with pytest.raises(IncompleteStreamError):
        _ = stream.final


async def test_an_answer_past_max_body_size_is_not_kept_but_still_streams(
    emu: OllamaEmulator,
) -> None:
    emu.script(Reply(content="word " * 40))
    async with AsyncClient(emu.url, max_body_size=64) as client:
        async with await client.chat("llama3.2", ASK, stream=True) as stream:
            text = "".join([piece async for piece in stream.text()])
        assert text == "word " * 40  # every chunk reached the loop
        with pytest.raises(ProtocolError, match="max_body_size"):
            _ = stream.final


def test_the_blocking_stream_accumulates_the_same(portal_backend: str) -> None:
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(emu.url, backend=cast(Any, portal_backend)) as c,
    ):
        whole = c.chat("llama3.2", ASK, tools=[WEATHER])
        with c.chat("llama3.2", ASK, tools=[WEATHER], stream=True) as stream:
            _same_answer(stream.collect(), whole)
        with c.generate("llama3.2", "Why is the sky blue?", stream=True) as parts:
            text = "".join(parts.text())
        assert parts.final.response == text
        assert text == c.generate("llama3.2", "Why is the sky blue?").response
        with c.generate("llama3.2", "Hello", stream=True) as parts:
            assert list(parts.accumulate())[-1].done
            assert parts.final.done
        with c.chat("llama3.2", ASK, stream=True) as chunks:
            first = next(chunks)
            rest = [chunk.message.content for chunk in chunks]  # a plain loop
        assert chunks.final.message.content == first.message.content + "".join(rest)
        with c.chat("llama3.2", ASK, stream=True) as chunks:
            next(chunks)
            assert chunks.collect().message.content == c.chat("llama3.2", ASK).message.content
