"""The tool runner: call the model, run the tools it asks for, feed the results back, repeat.

`AsyncTools.run` is ``client.tools.run``. Each step is one chat call; the tool calls of
a step run concurrently in a task group (async functions as tasks, plain functions in worker
threads under one `CapacityLimiter`), and their results go back to the model as ``role: "tool"``
messages carrying ``tool_name`` and ``tool_call_id``, in the order of the calls. The run ends
when a reply asks for no tool, or after ``max_steps`` chat calls. Nothing started here outlives
the call: cancelling it cancels the running tools (a function already running in a worker
thread is waited for, as a thread cannot be interrupted).

The streaming form (`ToolRunStream`) runs the same loop in a task of a task group that the
stream's ``async with`` block owns, and hands each event to the consumer as it happens.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, Union, cast, overload

import anyio
import anyio.abc
import anyio.to_thread
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._accumulate import Accumulator
from ._async_stream import AsyncStream
from ._endpoints import AsyncEndpoints
from ._errors import MaxStepsError, RequestError
from ._http import _observe
from ._marks import helper
from ._tool_run import (
    ChunkEvent,
    DoneEvent,
    ReplyEvent,
    ToolCallEvent,
    ToolResultEvent,
    ToolRun,
    ToolRunEvent,
)
from ._tools import convert_tools
from ._types import ChatResponse, KeepAlive, Message, OptionsArg, Think, Tool, ToolCall

__all__ = ["AsyncTools", "Runner", "ToolRunStream"]

ToolErrors = Literal["report", "raise"]
AtMaxSteps = Literal["raise", "return"]
MessageLike = Union[Mapping[str, Any], Message]  # noqa: UP007


Emit = Callable[[ToolRunEvent], Awaitable[None]]


def _as_message(value: object, where: str) -> Message:
    if isinstance(value, Message):
        return value
    if isinstance(value, Mapping):
        items = {k: v for k, v in cast("Mapping[str, Any]", value).items() if v is not None}
        try:
            return msgspec.convert(items, Message)
        except msgspec.ValidationError as exc:
            raise RequestError(f"{where}: {exc}") from None
    raise RequestError(f"{where} must be a mapping or a Message, got {type(value).__name__}")


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return msgspec.json.encode(value).decode()
    except TypeError:
        return str(value)


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


class Runner:
    """One run's settings and state; `run` is the loop, shared by both forms."""

    def __init__(
        self,
        client: AsyncEndpoints,
        model: str,
        messages: Sequence[MessageLike] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        max_steps: int,
        tool_errors: ToolErrors,
        at_max_steps: AtMaxSteps,
        max_threads: int,
        think: Think | None,
        options: OptionsArg | None,
        keep_alive: KeepAlive | None,
    ) -> None:
        if isinstance(tools, Mapping) or not isinstance(tools, Sequence) or not tools:
            raise RequestError("tools must be a non-empty list of functions")
        self.functions: dict[str, Callable[..., Any]] = {}
        for index, function in enumerate(tools):
            if not callable(function) or isinstance(function, (type, Tool, Mapping)):
                raise RequestError(f"tools[{index}]: the runner needs a function to call")
            name = getattr(function, "__name__", None)
            if not isinstance(name, str) or name in self.functions:
                raise RequestError(f"tools[{index}]: a function needs a name of its own")
            self.functions[name] = function
        self.tools = convert_tools(list(tools))
        if isinstance(messages, (str, bytes)):
            raise RequestError("messages must be a sequence of messages")
        self.messages = [_as_message(m, f"messages[{i}]") for i, m in enumerate(messages or ())]
        if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
            raise RequestError(f"max_steps must be a positive integer, got {max_steps!r}")
        if tool_errors not in ("report", "raise"):
            raise RequestError(f"tool_errors must be 'report' or 'raise', got {tool_errors!r}")
        if at_max_steps not in ("raise", "return"):
            raise RequestError(f"at_max_steps must be 'raise' or 'return', got {at_max_steps!r}")
        if not isinstance(max_threads, int) or isinstance(max_threads, bool) or max_threads < 1:
            raise RequestError(f"max_threads must be a positive integer, got {max_threads!r}")
        self.client = client
        self.model = model
        self.max_steps = max_steps
        self.tool_errors = tool_errors
        self.at_max_steps = at_max_steps
        self.max_threads = max_threads
        self.think: Think | None = think
        self.options: OptionsArg | None = options
        self.keep_alive: KeepAlive | None = keep_alive

    async def run(self, emit: Emit | None) -> ToolRun:
        telemetry = _observe.telemetry
        if telemetry is None:
            return await self._run(emit)
        with telemetry.run_span(self.model):
            return await self._run(emit)

    async def _run(self, emit: Emit | None) -> ToolRun:
        limiter = anyio.CapacityLimiter(self.max_threads)
        transcript = list(self.messages)
        reply: ChatResponse | None = None
        for step in range(1, self.max_steps + 1):
            reply = await self._ask(transcript, step, emit)
            transcript.append(reply.message)
            calls = reply.message.tool_calls or []
            if not calls:
                return ToolRun(reply=reply, messages=transcript, steps=step)
            transcript += await self._run_calls(calls, step, emit, limiter)
        assert reply is not None
        run = ToolRun(reply=reply, messages=transcript, steps=self.max_steps)
        if self.at_max_steps == "return":
            return run
        raise MaxStepsError(
            f"the model still called tools after max_steps={self.max_steps} steps", run
        )

    async def _ask(self, transcript: list[Message], step: int, emit: Emit | None) -> ChatResponse:
        stream = await self.client.chat(
            self.model,
            transcript,
            tools=self.tools,
            stream=emit is not None,
            think=self.think,
            options=self.options,
            keep_alive=self.keep_alive,
        )
        if not isinstance(stream, AsyncStream):
            return stream
        assert emit is not None
        accumulator: Accumulator[ChatResponse] = Accumulator()
        async with stream as chunks:
            async for chunk in chunks:
                accumulator.feed(chunk)
                await emit(ChunkEvent(step=step, chunk=chunk))
        reply = accumulator.result()
        await emit(ReplyEvent(step=step, reply=reply))
        return reply

    async def _run_calls(
        self,
        calls: list[ToolCall],
        step: int,
        emit: Emit | None,
        limiter: anyio.CapacityLimiter,
    ) -> list[Message]:
        results: list[Message] = [Message() for _ in calls]
        failures: list[Exception] = []
        async with anyio.create_task_group() as tasks:
            for index, call in enumerate(calls):
                if emit is not None:
                    await emit(ToolCallEvent(step=step, call=call))
                tasks.start_soon(
                    self._call, call, index, step, emit, limiter, results, failures, tasks
                )
        if failures:
            # Raised here, after the other tools were cancelled, rather than from inside the
            # task group, which would wrap it in an ExceptionGroup.
            raise failures[0]
        return results

    async def _call(
        self,
        call: ToolCall,
        index: int,
        step: int,
        emit: Emit | None,
        limiter: anyio.CapacityLimiter,
        results: list[Message],
        failures: list[Exception],
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        name = call.function.name
        function = self.functions.get(name)
        error: str | None = None
        if function is None:
            known = ", ".join(sorted(self.functions))
            content = error = f"error: there is no tool {name!r} (the tools are: {known})"
        else:
            try:
                telemetry = _observe.telemetry
                if telemetry is None:
                    result = await self._invoke(function, call.function.arguments, limiter)
                else:
                    with telemetry.tool_span(call) as span:
                        result = await self._invoke(function, call.function.arguments, limiter)
                        telemetry.tool_result(span, result)
                content = _as_text(result)
            except Exception as exc:
                if self.tool_errors == "raise":
                    failures.append(exc)
                    tasks.cancel_scope.cancel()  # the other tools of the step
                    return
                content = error = f"error: {type(exc).__name__}: {exc}"
        message = Message(role="tool", content=content, tool_name=name, tool_call_id=call.id)
        results[index] = message
        if emit is not None:
            await emit(ToolResultEvent(step=step, call=call, message=message, error=error))

    @staticmethod
    async def _invoke(
        function: Callable[..., Any], arguments: dict[str, Any], limiter: anyio.CapacityLimiter
    ) -> Any:
        if _is_async(function):
            return await function(**arguments)
        return await anyio.to_thread.run_sync(
            functools.partial(function, **arguments), limiter=limiter
        )


class ToolRunStream(AsyncStream[ToolRunEvent]):
    """The events of a streamed tool run: an `AsyncStream` whose producer is the runner.

    Use it as ``async with await client.tools.run(..., stream=True) as events:``: the block owns
    the task group the run happens in, and leaving it early cancels the run and its tools.
    """

    def __init__(self, runner: Runner, url: str) -> None:
        super().__init__(_never_opened, ToolRunEvent, _never_final, url)
        self._runner = runner
        self._tasks: anyio.abc.TaskGroup | None = None
        self._events: MemoryObjectReceiveStream[ToolRunEvent | Exception] | None = None
        self._entered = False

    async def __aenter__(self) -> ToolRunStream:
        if self._tasks is None and not self._closed:
            self._entered = True
            await self._begin()
        return self

    async def __anext__(self) -> ToolRunEvent:
        if not self._entered:
            # The run's task group must be left in the task and scope that entered it: only
            # ``async with`` can promise that to a consumer.
            raise RuntimeError("read a tool run's events inside 'async with'")
        return await super().__anext__()

    async def _begin(self) -> None:
        send: MemoryObjectSendStream[ToolRunEvent | Exception]
        send, self._events = anyio.create_memory_object_stream[ToolRunEvent | Exception](0)
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        self._tasks = tasks
        tasks.start_soon(self._drive, send)

    async def _drive(self, send: MemoryObjectSendStream[ToolRunEvent | Exception]) -> None:
        async with send:
            try:
                run = await self._runner.run(send.send)
                await send.send(DoneEvent(step=run.steps, run=run))
            except Exception as exc:
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(exc)

    async def next_batch(self) -> list[ToolRunEvent]:
        """The next event, as a list of one; ``[]`` once the run has ended."""
        if self._closed:
            return []
        try:
            if self._tasks is None:
                await self._begin()  # the blocking Stream's producer task
            assert self._events is not None
            try:
                item = await self._events.receive()
            except anyio.EndOfStream:
                await self.aclose()
                return []
        except BaseException:
            await self.aclose()
            raise
        if isinstance(item, Exception):
            await self.aclose()
            raise item
        return [item]

    async def aclose(self) -> None:
        """Cancel the run if it is still going (its tools too) and wait for it to stop."""
        if self._closed:
            return
        self._closed = True
        tasks, events = self._tasks, self._events
        self._tasks = self._events = None
        if events is not None:
            events.close()
        if tasks is not None:
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)


async def _never_opened() -> Any:  # pragma: no cover - a tool run sends no request of its own
    raise AssertionError("a ToolRunStream has no HTTP response")


def _never_final(event: ToolRunEvent) -> bool:  # pragma: no cover
    return False


class AsyncTools:
    """``client.tools``: the tool runner (chat, run the tools the model asks for, repeat)."""

    def __init__(self, client: AsyncEndpoints) -> None:
        self._client = client

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: Literal[False] = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun: ...

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: Literal[True],
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> AsyncStream[ToolRunEvent]: ...

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: bool,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]: ...

    @helper
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: bool = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]:
        """Chat with tools until the model answers without calling one.

        Each step is one chat call; the tool calls of a step run concurrently (async functions
        as tasks, plain ones in worker threads, at most ``max_threads`` at once) and their
        results go back as ``tool`` messages with ``tool_name`` and ``tool_call_id``. A tool
        that raises has its error sent to the model as its result (``tool_errors="raise"``:
        raised instead), and so has a call of an unknown tool. Cancelling the call cancels
        the running tools.

        Args:
            tools: the functions the model may call, described from their signatures and
                docstrings as for ``chat(tools=...)``.
            max_steps: the most chat calls to make; a reply still calling tools at the last
                one raises `MaxStepsError` (``at_max_steps="return"``: it is returned).
            stream: return an `AsyncStream` of `ToolRunEvent` (chunks, tool calls, tool
                results as they happen, then a `DoneEvent`); read it in ``async with``.

        Returns:
            A `ToolRun`: the last reply, the whole transcript and the number of steps.

        Raises:
            RequestError: an argument is invalid (nothing was sent).
            MaxStepsError: ``max_steps`` was reached, with ``at_max_steps="raise"``.
        """
        runner = Runner(
            self._client,
            model,
            messages,
            tools,
            max_steps=max_steps,
            tool_errors=tool_errors,
            at_max_steps=at_max_steps,
            max_threads=max_threads,
            think=think,
            options=options,
            keep_alive=keep_alive,
        )
        if stream:
            return ToolRunStream(runner, self._client.base_url + "/api/chat")
        return await runner.run(None)
