"""A tool runner to steer: turn by turn, per-tool timeouts, schema-only tools mixed with
functions, and argument errors told to the model in its own terms (names and JSON types)."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest

from ollama_anyio import (
    AsyncClient,
    Client,
    MaxStepsError,
    RequestError,
    ToolTurn,
)
from ollama_anyio.testing import OllamaEmulator, Reply, ToolCall

ASK = [{"role": "user", "content": "What is the weather in Tokyo?"}]
# A schema-only tool: the caller answers its calls (as chat(tools=) takes it).
ASK_USER = {
    "type": "function",
    "function": {
        "name": "ask_user",
        "description": "Ask the user a question.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string"}},
            "required": ["question"],
        },
    },
}


def get_weather(city: str, days: int = 1) -> str:
    """The weather in a city.

    Args:
        city: the city's name
        days: how many days ahead
    """
    return f"sunny in {city} for {days} day(s)"


def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file
    """
    raise AssertionError("a refused call must not run")


async def slow_lookup(city: str) -> str:
    """A lookup that never answers.

    Args:
        city: the city
    """
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


def _tool_messages(messages: list[Any]) -> list[tuple[str | None, str]]:
    return [(m.tool_name, m.content) for m in messages if m.role == "tool"]


async def test_turns_show_each_reply_and_the_caller_edits_refuses_and_answers(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Tokio"}),
                ToolCall("delete_file", {"path": "/etc/passwd"}),
                ToolCall("get_weather", {"city": "Oslo"}),
            ]
        ),
        "It is sunny.",
    )
    seen: list[ToolTurn] = []
    async with await emu_client.tools.turns("llama3.2", ASK, [get_weather, delete_file]) as turns:
        async for turn in turns:
            seen.append(turn)
            if turn.final:
                break
            edit, refuse, answer = turn.calls
            assert (edit.name, edit.arguments, edit.decision) == (
                "get_weather",
                {"city": "Tokio"},
                "run",
            )
            assert len(emu.requests) == 1  # nothing ran ahead of the caller's decisions
            edit.arguments["city"] = "Tokyo"
            refuse.refuse("deleting files is not allowed")
            answer.answer({"forecast": "rain"})
    run = seen[-1].run
    assert run is not None
    assert seen[0].run is None  # only the last turn carries the outcome
    assert [turn.step for turn in seen] == [1, 2]
    assert seen[-1].reply.message.content == "It is sunny."
    assert _tool_messages(run.messages) == [
        ("get_weather", "sunny in Tokyo for 1 day(s)"),
        (
            "delete_file",
            "error: the call of delete_file was refused: deleting files is not allowed",
        ),
        ("get_weather", '{"forecast":"rain"}'),
    ]
    assert (run.steps, run.pending) == (2, [])
    sent = emu.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "tool"]


async def test_a_schema_only_tool_hands_its_calls_to_the_caller(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Tokyo"}),
                ToolCall("ask_user", {"question": "Which day?"}),
            ]
        ),
        "Tomorrow will be sunny.",
    )
    run = await emu_client.tools.run("llama3.2", ASK, [get_weather, ASK_USER])
    assert [call.function.name for call in run.pending] == ["ask_user"]
    assert run.steps == 1
    assert _tool_messages(run.messages) == [("get_weather", "sunny in Tokyo for 1 day(s)")]
    answer = {
        "role": "tool",
        "content": "tomorrow",
        "tool_name": "ask_user",
        "tool_call_id": run.pending[0].id,
    }
    more = await emu_client.tools.run("llama3.2", [*run.messages, answer], [get_weather, ASK_USER])
    assert more.reply.message.content == "Tomorrow will be sunny."
    assert more.pending == []
    sent = emu.requests[-1].json
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "ask_user"]


async def test_a_schema_only_call_answered_in_its_turn_continues_the_run(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(tool_calls=[ToolCall("ask_user", {"question": "Which city?"})]), "Done.")
    async with await emu_client.tools.turns("llama3.2", ASK, [get_weather, ASK_USER]) as turns:
        async for turn in turns:
            for call in turn.calls:
                assert (call.runnable, call.decision) == (False, "pending")
                with pytest.raises(RequestError, match="answer it instead"):
                    call.run()
                call.answer("Tokyo")
            last = turn
    assert last.run is not None
    assert last.run.reply.message.content == "Done."
    assert _tool_messages(last.run.messages) == [("ask_user", "Tokyo")]


async def test_an_unanswered_schema_only_call_ends_the_turns_with_it_pending(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(tool_calls=[ToolCall("ask_user", {"question": "Which city?"})]))
    async with await emu_client.tools.turns("llama3.2", ASK, [get_weather, ASK_USER]) as turns:
        seen = [turn async for turn in turns]
    assert len(seen) == 1
    run = seen[0].run
    assert run is not None
    assert [call.function.name for call in run.pending] == ["ask_user"]
    assert len(emu.requests) == 1


async def test_bad_arguments_are_told_to_the_model_in_its_terms(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"town": "Tokyo"}),
                ToolCall("get_weather", {"city": "Tokyo", "days": "three"}),
            ]
        ),
        "Sorry.",
    )
    run = await emu_client.tools.run("llama3.2", ASK, [get_weather])
    unknown, wrong_type = (content for _, content in _tool_messages(run.messages))
    assert unknown == (
        "error: get_weather has no argument 'town' (its arguments: city, days); "
        "get_weather needs the argument 'city'"
    )
    assert wrong_type == (
        "error: the argument 'days' of get_weather must be an integer, got a string (three)"
    )
    for text in (unknown, wrong_type):
        assert "<locals>" not in text
        assert "test_" not in text  # no Python qualified name


async def test_a_tool_past_its_timeout_is_reported_and_the_run_goes_on(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("slow_lookup", {"city": "Tokyo"}),
                ToolCall("get_weather", {"city": "Tokyo"}),
            ]
        ),
        "Partly known.",
    )
    run = await emu_client.tools.run(
        "llama3.2", ASK, [slow_lookup, get_weather], tool_timeout={"slow_lookup": 0.05}
    )
    assert _tool_messages(run.messages) == [
        ("slow_lookup", "error: slow_lookup did not finish within 0.05 s"),
        ("get_weather", "sunny in Tokyo for 1 day(s)"),
    ]
    emu.script(Reply(tool_calls=[ToolCall("slow_lookup", {"city": "Tokyo"})]))
    with pytest.raises(TimeoutError, match="slow_lookup did not finish"):
        await emu_client.tools.run(
            "llama3.2", ASK, [slow_lookup], tool_timeout=0.05, tool_errors="raise"
        )


@pytest.mark.parametrize(
    ("seconds", "match"),
    [
        (0, "tool_timeout"),
        ("5", "tool_timeout"),
        ({"nope": 1}, "not a function"),
        ({"get_weather": -1}, "must be positive"),
    ],
)
async def test_bad_timeouts_are_refused_before_any_request(
    emu: OllamaEmulator, emu_client: AsyncClient, seconds: Any, match: str
) -> None:
    with pytest.raises(RequestError, match=match):
        await emu_client.tools.run("llama3.2", ASK, [get_weather], tool_timeout=seconds)
    assert not emu.requests


async def test_turns_stop_at_max_steps_as_the_whole_run_does(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    calls = Reply(tool_calls=[ToolCall("get_weather", {"city": "Tokyo"})])
    emu.script(calls, calls, calls)
    with pytest.raises(MaxStepsError) as info:
        async with await emu_client.tools.turns(
            "llama3.2", ASK, [get_weather], max_steps=2
        ) as turns:
            async for _ in turns:
                pass
    assert info.value.run.steps == 2
    emu.script(calls, calls)
    async with await emu_client.tools.turns(
        "llama3.2", ASK, [get_weather], max_steps=2, at_max_steps="return"
    ) as turns:
        seen = [turn async for turn in turns]
    assert [turn.step for turn in seen] == [1, 2]
    assert seen[-1].run is not None
    assert seen[-1].run.steps == 2


def test_the_blocking_client_steers_turn_by_turn(portal_backend: str) -> None:
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(emu.url, backend=cast(Any, portal_backend)) as c,
    ):
        emu.script(
            Reply(
                tool_calls=[
                    ToolCall("get_weather", {"city": "Tokyo"}),
                    ToolCall("delete_file", {"path": "/"}),
                ]
            ),
            "Done.",
        )
        requests_seen: list[int] = []
        seen: list[ToolTurn] = []
        with c.tools.turns("llama3.2", ASK, [get_weather, delete_file]) as turns:
            for turn in turns:
                seen.append(turn)
                requests_seen.append(len(emu.requests))
                for call in turn.calls:
                    if call.name == "delete_file":
                        call.refuse()
                    else:
                        call.run(city="Osaka", days=2)
        assert requests_seen == [1, 2]  # each turn asked for when the loop did, not ahead
        run = seen[-1].run
        assert run is not None
        assert run.reply.message.content == "Done."
        assert _tool_messages(run.messages)[0] == (
            "get_weather",
            "sunny in Osaka for 2 day(s)",
        )
