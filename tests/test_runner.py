"""The tool runner: concurrent tools, errors fed back or raised, unknown names, max_steps,
cancellation, the streamed events, and the blocking form."""

from __future__ import annotations

import threading
from typing import Any, cast

import anyio
import pytest

from ollama_anyio import (
    AsyncClient,
    ChunkEvent,
    Client,
    DoneEvent,
    MaxStepsError,
    ReplyEvent,
    RequestError,
    ToolCallEvent,
    ToolResultEvent,
)
from ollama_anyio.testing import OllamaEmulator, Reply, ToolCall

ASK = [{"role": "user", "content": "What is the weather in Tokyo and Toronto?"}]


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


async def get_time(city: str) -> dict[str, str]:
    """The local time in a city.

    Args:
        city: the city's name
    """
    await anyio.lowlevel.checkpoint()
    return {"city": city, "time": "12:00"}


def explode(city: str) -> str:
    """A tool that fails.

    Args:
        city: any city
    """
    raise ValueError(f"no data for {city}")


async def test_tools_run_and_their_results_go_back_with_ids_and_names(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    run = await emu_client.tools.run("llama3.2", ASK, [get_weather])
    assert run.steps == 2
    assistant, first, second, answer = run.messages[1:]
    assert assistant.tool_calls is not None
    ids = [call.id for call in assistant.tool_calls]
    assert [(m.role, m.tool_name, m.tool_call_id) for m in (first, second)] == [
        ("tool", "get_weather", ids[0]),
        ("tool", "get_weather", ids[1]),
    ]
    assert [first.content, second.content] == ["sunny in Tokyo", "sunny in Toronto"]
    assert run.reply.message == answer
    assert answer.content == "Based on the tool result: sunny in Tokyo; sunny in Toronto"
    sent = emu.requests[-1].json["messages"]
    assert sent[-1] == {
        "role": "tool",
        "content": "sunny in Toronto",
        "tool_name": "get_weather",
        "tool_call_id": ids[1],
    }


async def test_the_calls_of_a_step_run_concurrently(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    both_running = anyio.Event()
    running = 0

    async def meet(city: str) -> str:
        """Waits until both calls run at once.

        Args:
            city: a city
        """
        nonlocal running
        running += 1
        if running == 2:
            both_running.set()
        with anyio.fail_after(5):
            await both_running.wait()
        return city

    emu.script(Reply(tool_calls=[ToolCall("meet", {"city": "A"}), ToolCall("meet", {"city": "B"})]))
    run = await emu_client.tools.run("llama3.2", ASK, [meet])
    assert [m.content for m in run.messages[2:4]] == ["A", "B"]  # in call order


async def test_sync_tools_run_in_worker_threads(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    threads: list[str] = []

    def where(city: str) -> str:
        """Where it ran.

        Args:
            city: a city
        """
        threads.append(threading.current_thread().name)
        return city

    emu.script(Reply(tool_calls=[ToolCall("where", {"city": "A"})]))
    await emu_client.tools.run("llama3.2", ASK, [where, get_time], max_threads=1)
    assert threads
    assert threads[0] != threading.current_thread().name


async def test_a_raising_tool_and_an_unknown_one_are_reported_to_the_model(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(
            tool_calls=[
                ToolCall("explode", {"city": "Oslo"}),
                ToolCall("teleport", {}),
                ToolCall("get_time", {"city": "Lima"}),
            ]
        ),
        "done",
    )
    run = await emu_client.tools.run("llama3.2", ASK, [explode, get_time])
    results = [m.content for m in run.messages[2:5]]
    assert results[0] == "error: explode failed: ValueError: no data for Oslo"
    assert results[1] == "error: there is no tool 'teleport' (the tools are: explode, get_time)"
    assert results[2] == '{"city":"Lima","time":"12:00"}'
    assert run.reply.message.content == "done"


async def test_a_raising_tool_can_be_re_raised(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(tool_calls=[ToolCall("explode", {"city": "Oslo"})]))
    with pytest.raises(ValueError, match="no data for Oslo"):
        await emu_client.tools.run("llama3.2", ASK, [explode], tool_errors="raise")


async def test_max_steps_raises_with_the_run_or_returns_the_last_reply(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    always = Reply(tool_calls=[ToolCall("get_weather", {"city": "Rome"})])
    emu.script(always, always)
    with pytest.raises(MaxStepsError) as caught:
        await emu_client.tools.run("llama3.2", ASK, [get_weather], max_steps=2)
    assert caught.value.run.steps == 2
    assert len(caught.value.run.messages) == 5
    emu.script(always)
    run = await emu_client.tools.run(
        "llama3.2", ASK, [get_weather], max_steps=1, at_max_steps="return"
    )
    assert run.steps == 1
    assert run.reply.message.tool_calls is not None


async def test_cancelling_the_runner_cancels_a_slow_tool(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    started = anyio.Event()
    finished = False

    async def slow(city: str) -> str:
        """Never ends by itself.

        Args:
            city: a city
        """
        nonlocal finished
        started.set()
        await anyio.sleep_forever()
        finished = True  # pragma: no cover
        return city

    emu.script(Reply(tool_calls=[ToolCall("slow", {"city": "A"})]))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(emu_client.tools.run, "llama3.2", ASK, [slow])
        with anyio.fail_after(5):
            await started.wait()
        tasks.cancel_scope.cancel()
    assert not finished
    # The client is still usable afterwards.
    assert (await emu_client.chat("llama3.2", ASK)).done


async def test_the_streamed_form_yields_events_as_they_happen(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("nope", {})]),
        "It is sunny.",
    )
    async with await emu_client.tools.run("llama3.2", ASK, [get_weather], stream=True) as events:
        seen = [event async for event in events]
    kinds = [type(event) for event in seen]
    assert kinds[-1] is DoneEvent
    assert kinds.count(ReplyEvent) == 2
    assert kinds.count(ToolCallEvent) == 2
    results = [event for event in seen if isinstance(event, ToolResultEvent)]
    assert sorted(r.message.content for r in results)[0].startswith("error: there is no tool")
    assert [r.error is None for r in results].count(True) == 1
    text = "".join(e.chunk.message.content for e in seen if isinstance(e, ChunkEvent))
    assert text == "It is sunny."
    done = seen[-1]
    assert isinstance(done, DoneEvent)
    assert done.run.reply.message.content == "It is sunny."


async def test_leaving_the_streamed_form_early_cancels_the_run(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    started = anyio.Event()

    async def slow(city: str) -> str:
        """Never ends by itself.

        Args:
            city: a city
        """
        started.set()
        await anyio.sleep_forever()
        return city  # pragma: no cover

    emu.script(Reply(tool_calls=[ToolCall("slow", {"city": "A"})]))
    async with await emu_client.tools.run("llama3.2", ASK, [slow], stream=True) as events:
        async for event in events:
            if isinstance(event, ToolCallEvent):
                break
    assert events.closed


async def test_the_streamed_form_must_be_read_in_async_with(emu_client: AsyncClient) -> None:
    events = await emu_client.tools.run("llama3.2", ASK, [get_weather], stream=True)
    with pytest.raises(RuntimeError, match="async with"):
        await events.__anext__()
    await events.aclose()


async def test_errors_in_the_streamed_form_reach_the_reader(
    emu: OllamaEmulator, emu_client: AsyncClient
) -> None:
    emu.script(Reply(tool_calls=[ToolCall("explode", {"city": "Oslo"})]))
    with pytest.raises(ValueError, match="Oslo"):
        async with await emu_client.tools.run(
            "llama3.2", ASK, [explode], stream=True, tool_errors="raise"
        ) as events:
            async for _ in events:
                pass


@pytest.mark.parametrize(
    ("tools", "options", "match"),
    [
        ([], {}, "non-empty list"),
        ([{"type": "function"}], {}, "name of its own"),
        ([get_weather, get_weather], {}, "name of its own"),
        ([get_weather], {"max_steps": 0}, "max_steps"),
        ([get_weather], {"tool_errors": "ignore"}, "tool_errors"),
        ([get_weather], {"max_threads": 0}, "max_threads"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    emu: OllamaEmulator,
    emu_client: AsyncClient,
    tools: list[Any],
    options: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(RequestError, match=match):
        await emu_client.tools.run("llama3.2", ASK, tools, **options)
    assert not emu.requests


def test_the_blocking_form_runs_sync_and_async_tools(portal_backend: str) -> None:
    with (
        OllamaEmulator.start_in_thread() as emu,
        Client(emu.url, backend=cast(Any, portal_backend)) as c,
    ):
        run = c.tools.run("llama3.2", ASK, [get_weather])
        assert run.reply.message.content.startswith("Based on the tool result")
        emu.script(Reply(tool_calls=[ToolCall("get_time", {"city": "Lima"})]), "ok")
        with c.tools.run("llama3.2", ASK, [get_time], stream=True) as events:
            kinds = [type(event).__name__ for event in events]
        assert kinds[-1] == "DoneEvent"
        assert "ToolResultEvent" in kinds
