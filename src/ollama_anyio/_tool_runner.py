"""The tool runner: call the model, run the tools it asks for, feed the results back, repeat.

`AsyncTools.run` is ``client.tools.run``. Each step is one chat call; the tool calls of a step
run concurrently in a task group (async functions as tasks, plain functions in worker threads
under one `CapacityLimiter`), and their results go back to the model as ``role: "tool"``
messages carrying ``tool_name`` and ``tool_call_id``, in the order of the calls. The run ends
when a reply asks for no tool, after ``max_steps`` chat calls, or when a reply calls a
schema-only tool (a `Tool` or mapping without a function: its calls are handed to the caller,
in ``ToolRun.pending``). Nothing started here outlives the call: cancelling it cancels the
running tools (a function already running in a worker thread is waited for, as a thread
cannot be interrupted, unless its ``tool_timeout`` passed: then it is left to finish alone).

Before a function runs, its arguments are checked against its schema (`_tool_check`): a call
that does not fit is answered with what was wrong, in the model's terms, and not run.

Three forms share `Runner`: the whole run (``tools.run``), its events streamed
(`ToolRunStream`), and the run turn by turn (`ToolTurns`, ``tools.turns``), where the caller
sees each reply's calls and runs, edits, refuses or answers them before the next chat call.
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

from ._async_stream import AsyncStream
from ._endpoints import AsyncEndpoints
from ._errors import MaxStepsError, RequestError
from ._http import _observe
from ._marks import helper
from ._tool_check import argument_problem, as_text
from ._tool_run import (
    ChunkEvent,
    DoneEvent,
    ReplyEvent,
    ToolCallEvent,
    ToolResultEvent,
    ToolRun,
    ToolRunEvent,
    ToolTurn,
    TurnCall,
)
from ._tools import convert_tools
from ._types import (
    ChatResponse,
    KeepAlive,
    Message,
    OptionsArg,
    Think,
    Tool,
    ToolCall,
    ToolLike,
)

__all__ = ["AsyncTools", "Runner", "ToolRunStream", "ToolTurns"]

ToolErrors = Literal["report", "raise"]
AtMaxSteps = Literal["raise", "return"]
MessageLike = Union[Mapping[str, Any], Message]  # noqa: UP007
ToolTimeout = Union[float, Mapping[str, float], None]  # noqa: UP007


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


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


class Runner:
    """One run's settings and state; `run` is the loop, shared by both forms."""

    def __init__(
        self,
        client: AsyncEndpoints,
        model: str,
        messages: Sequence[MessageLike] | None,
        tools: Sequence[Any],
        *,
        max_steps: int,
        tool_errors: ToolErrors,
        at_max_steps: AtMaxSteps,
        max_threads: int,
        think: Think | None,
        options: OptionsArg | None,
        keep_alive: KeepAlive | None,
        tool_timeout: ToolTimeout = None,
    ) -> None:
        if isinstance(tools, (Mapping, str, bytes)) or not isinstance(tools, Sequence) or not tools:
            raise RequestError("tools must be a non-empty list of functions or tool schemas")
        self.tools = convert_tools(list(tools))
        self.functions: dict[str, Callable[..., Any]] = {}
        self.schemas: dict[str, Tool] = {}
        for index, (given, tool) in enumerate(zip(tools, self.tools, strict=True)):
            name = tool.function.name if tool.function is not None else None
            if not name or name in self.schemas:
                raise RequestError(f"tools[{index}]: a tool needs a name of its own")
            self.schemas[name] = tool
            if callable(given) and not isinstance(given, (type, Tool, Mapping)):
                self.functions[name] = given
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
        self.timeouts = self._timeouts(tool_timeout)
        self.client = client
        self.model = model
        self.max_steps = max_steps
        self.tool_errors = tool_errors
        self.at_max_steps = at_max_steps
        self.max_threads = max_threads
        self.think: Think | None = think
        self.options: OptionsArg | None = options
        self.keep_alive: KeepAlive | None = keep_alive

    def _timeouts(self, tool_timeout: object) -> dict[str, float]:
        """Seconds per function name, from one number for all or a mapping by name."""
        if tool_timeout is None:
            return {}
        if _positive(tool_timeout):
            return dict.fromkeys(self.functions, cast(float, tool_timeout))
        if not isinstance(tool_timeout, Mapping):
            raise RequestError(
                f"tool_timeout must be seconds or a mapping of tool names to seconds, "
                f"got {tool_timeout!r}"
            )
        timeouts: dict[str, float] = {}
        for name, seconds in cast("Mapping[object, object]", tool_timeout).items():
            if name not in self.functions:
                raise RequestError(f"tool_timeout: {name!r} is not a function of this run")
            if not _positive(seconds):
                raise RequestError(f"tool_timeout[{name!r}] must be positive, got {seconds!r}")
            timeouts[str(name)] = cast(float, seconds)
        return timeouts

    def turn(self, step: int, reply: ChatResponse, transcript: list[Message]) -> ToolTurn:
        """The turn of ``reply``: one `TurnCall` per tool call, decided by default."""
        calls = [
            TurnCall(
                call,
                runnable=call.function.name in self.functions,
                schema_only=call.function.name in self.schemas
                and call.function.name not in self.functions,
            )
            for call in reply.message.tool_calls or []
        ]
        return ToolTurn(step, reply, calls, list(transcript))

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
            reply = await self.ask(transcript, step, emit)
            transcript.append(reply.message)
            turn = self.turn(step, reply, transcript)
            if turn.final:
                return ToolRun(reply=reply, messages=transcript, steps=step)
            results, pending = await self.resolve(turn, emit, limiter)
            transcript += results
            if pending:
                return ToolRun(reply=reply, messages=transcript, steps=step, pending=pending)
        assert reply is not None
        return self.at_the_limit(ToolRun(reply=reply, messages=transcript, steps=self.max_steps))

    def at_the_limit(self, run: ToolRun) -> ToolRun:
        """``max_steps`` chat calls made, the model still calling tools: return or raise."""
        if self.at_max_steps == "return":
            return run
        raise MaxStepsError(
            f"the model still called tools after max_steps={self.max_steps} steps", run
        )

    async def ask(self, transcript: list[Message], step: int, emit: Emit | None) -> ChatResponse:
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
        async with stream as chunks:
            async for chunk in chunks:
                await emit(ChunkEvent(step=step, chunk=chunk))
        reply = stream.final
        await emit(ReplyEvent(step=step, reply=reply))
        return reply

    async def resolve(
        self, turn: ToolTurn, emit: Emit | None, limiter: anyio.CapacityLimiter
    ) -> tuple[list[Message], list[ToolCall]]:
        """Carry out a turn's decisions: the ``tool`` messages, and the calls left pending."""
        results: list[Message | None] = [None] * len(turn.calls)
        failures: list[Exception] = []
        pending = [c.call for c in turn.calls if c.decision == "pending"]
        async with anyio.create_task_group() as tasks:
            for index, call in enumerate(turn.calls):
                if call.decision == "pending":
                    continue
                if emit is not None:
                    await emit(ToolCallEvent(step=turn.step, call=call.call))
                tasks.start_soon(
                    self._call, call, index, turn.step, emit, limiter, results, failures, tasks
                )
        if failures:
            # Raised here, after the other tools were cancelled, rather than from inside the
            # task group, which would wrap it in an ExceptionGroup.
            raise failures[0]
        return [m for m in results if m is not None], pending

    async def _call(
        self,
        call: TurnCall,
        index: int,
        step: int,
        emit: Emit | None,
        limiter: anyio.CapacityLimiter,
        results: list[Message | None],
        failures: list[Exception],
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        name = call.name
        function = self.functions.get(name)
        error: str | None = None
        if call.decision in ("refused", "answered"):
            content = call.reply
            error = content if call.decision == "refused" else None
        elif function is None:
            known = ", ".join(sorted(self.schemas))
            content = error = f"error: there is no tool {name!r} (the tools are: {known})"
        else:
            problem = argument_problem(self.schemas[name], function, call.arguments)
            if problem is not None:
                content = error = f"error: {problem}"
            else:
                try:
                    telemetry = _observe.telemetry
                    if telemetry is None:
                        value = await self._invoke(name, function, call.arguments, limiter)
                    else:
                        with telemetry.tool_span(call.call) as span:
                            value = await self._invoke(name, function, call.arguments, limiter)
                            telemetry.tool_result(span, value)
                    content = as_text(value)
                except Exception as exc:
                    if self.tool_errors == "raise":
                        failures.append(exc)
                        tasks.cancel_scope.cancel()  # the other tools of the step
                        return
                    content = error = f"error: {self._describe(name, exc)}"
        message = Message(role="tool", content=content, tool_name=name, tool_call_id=call.id)
        results[index] = message
        if emit is not None:
            await emit(ToolResultEvent(step=step, call=call.call, message=message, error=error))

    def _describe(self, name: str, exc: Exception) -> str:
        if isinstance(exc, _ToolTimeout):
            return str(exc)
        return f"{name} failed: {type(exc).__name__}: {exc}"

    async def _invoke(
        self,
        name: str,
        function: Callable[..., Any],
        arguments: dict[str, Any],
        limiter: anyio.CapacityLimiter,
    ) -> Any:
        seconds = self.timeouts.get(name)
        if seconds is None:
            if _is_async(function):
                return await function(**arguments)
            return await anyio.to_thread.run_sync(
                functools.partial(function, **arguments), limiter=limiter
            )
        try:
            with anyio.fail_after(seconds):
                if _is_async(function):
                    return await function(**arguments)
                # A thread cannot be stopped: past its timeout it is left to finish alone.
                return await anyio.to_thread.run_sync(
                    functools.partial(function, **arguments),
                    limiter=limiter,
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            raise _ToolTimeout(f"{name} did not finish within {seconds:g} s") from None


class _ToolTimeout(TimeoutError):
    """A tool ran past its ``tool_timeout`` (a ``TimeoutError``)."""


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


def _never_final(event: object) -> bool:  # pragma: no cover
    return False


class ToolTurns(AsyncStream[ToolTurn]):
    """A tool run, turn by turn: an async iterator of `ToolTurn`, also a context manager.

    ``async with await client.tools.turns(...) as turns: async for turn in turns: ...``. Each
    step of the iteration first carries out the previous turn's decisions (running its
    function calls concurrently, as the whole run does), then calls the model once; nothing
    runs ahead of the caller, and nothing runs between two steps. After the loop, the last
    turn's ``run`` holds the outcome (`ToolRun`). ``max_steps`` and ``at_max_steps`` apply
    as in the whole run; leaving the loop early just stops (no tool is running then).
    """

    lockstep = True  # the blocking Stream asks for each turn when its caller does, never ahead

    def __init__(self, runner: Runner, url: str) -> None:
        super().__init__(_never_opened, ToolTurn, _never_final, url)
        self._runner = runner
        self._limiter = anyio.CapacityLimiter(runner.max_threads)
        self._transcript = list(runner.messages)
        self._step = 0
        self._current: ToolTurn | None = None
        self._last: ToolTurn | None = None
        self._run: ToolRun | None = None

    async def __aenter__(self) -> ToolTurns:
        return self  # nothing to open: each turn is asked for by the loop

    async def next_batch(self) -> list[ToolTurn]:
        """The next turn, as a list of one; ``[]`` once the run has ended."""
        if self._closed:
            return []
        try:
            turn = await self._next_turn()
        except BaseException:
            await self.aclose()
            raise
        if turn is None:
            await self.aclose()
            return []
        return [turn]

    async def _next_turn(self) -> ToolTurn | None:
        runner, current = self._runner, self._current
        if self._run is not None:
            return None
        if current is not None:
            self._current = None
            results, pending = await runner.resolve(current, None, self._limiter)
            self._transcript += results
            done = ToolRun(
                reply=current.reply, messages=self._transcript, steps=self._step, pending=pending
            )
            if pending:
                self._end(done)
                return None
            if self._step == runner.max_steps:
                self._end(runner.at_the_limit(done))
                return None
        self._step += 1
        reply = await runner.ask(self._transcript, self._step, None)
        self._transcript.append(reply.message)
        turn = self._last = runner.turn(self._step, reply, self._transcript)
        if turn.final:
            self._end(ToolRun(reply=reply, messages=self._transcript, steps=self._step))
        else:
            self._current = turn
        return turn

    def _end(self, run: ToolRun) -> None:
        self._run = run
        if self._last is not None:
            self._last.run = run

    async def aclose(self) -> None:
        """Stop: no more turns. (No tool is running between two turns.)"""
        self._closed = True


class AsyncTools:
    """``client.tools``: the tool runner (chat, run the tools the model asks for, repeat)."""

    def __init__(self, client: AsyncEndpoints) -> None:
        self._client = client

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[ToolLike],
        *,
        stream: Literal[False] = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        tool_timeout: float | Mapping[str, float] | None = None,
    ) -> ToolRun: ...

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[ToolLike],
        *,
        stream: Literal[True],
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        tool_timeout: float | Mapping[str, float] | None = None,
    ) -> AsyncStream[ToolRunEvent]: ...

    @overload
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[ToolLike],
        *,
        stream: bool,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        tool_timeout: float | Mapping[str, float] | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]: ...

    @helper
    async def run(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[ToolLike],
        *,
        stream: bool = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        tool_timeout: float | Mapping[str, float] | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]:
        """Chat with tools until the model answers without calling one.

        Each step is one chat call; the tool calls of a step run concurrently (async functions
        as tasks, plain ones in worker threads, at most ``max_threads`` at once) and their
        results go back as ``tool`` messages with ``tool_name`` and ``tool_call_id``. A call
        whose arguments do not fit the tool's schema is not run: the model is told what was
        wrong (argument names and JSON types). A tool that raises has its error sent to the
        model as its result (``tool_errors="raise"``: raised instead), and so has a call of
        an unknown tool. Cancelling the call cancels the running tools.

        Args:
            tools: the functions the model may call, described from their signatures and
                docstrings as for ``chat(tools=...)``; and schema-only tools (`Tool` objects
                or mappings, as ``chat`` takes), whose calls are handed back to you: the run
                stops after running the other calls of that reply, with them in
                ``ToolRun.pending``.
            max_steps: the most chat calls to make; a reply still calling tools at the last
                one raises `MaxStepsError` (``at_max_steps="return"``: it is returned).
            stream: return an `AsyncStream` of `ToolRunEvent` (chunks, tool calls, tool
                results as they happen, then a `DoneEvent`); read it in ``async with``.
            tool_timeout: seconds each call may take, for every function or by tool name
                (``{"search": 30}``). Past it the model is told the tool did not finish
                (``tool_errors="raise"``: a ``TimeoutError``); a plain function's thread is
                then left to finish on its own.

        Returns:
            A `ToolRun`: the last reply, the whole transcript, the number of steps, and the
            calls of schema-only tools left for you (``pending``).

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
            tool_timeout=tool_timeout,
        )
        if stream:
            return ToolRunStream(runner, self._client.base_url + "/api/chat")
        return await runner.run(None)

    @helper
    async def turns(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[ToolLike],
        *,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        tool_timeout: float | Mapping[str, float] | None = None,
    ) -> AsyncStream[ToolTurn]:
        """The tool run of `run`, turn by turn, for you to steer.

        ``async with await client.tools.turns(...) as turns: async for turn in turns:``.
        Each `ToolTurn` is one reply of the model with its ``calls`` (`TurnCall`): run one
        (the default for a function; ``call.arguments`` may be edited first), ``refuse``
        it (the model is told why) or ``answer`` it yourself (a schema-only tool's calls
        must be answered, or the run stops there with them in ``ToolRun.pending``). The
        next turn carries out your decisions, then calls the model again; nothing runs
        ahead of you. The last turn has no calls, and its ``run`` is the `ToolRun` (after
        the loop, the last turn's ``run`` has it however the run ended). The arguments are
        those of `run`.

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
            tool_timeout=tool_timeout,
        )
        return ToolTurns(runner, self._client.base_url + "/api/chat")
