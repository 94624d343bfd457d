"""What a tool run returns (`ToolRun`), the events it streams (`ToolRunEvent`), and the turns a
steered run yields (`ToolTurn`, each with its `TurnCall` decisions).

Plain msgspec Structs and small classes, importable without anyio, so that ``import
ollama_anyio`` stays light.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import msgspec

from ._errors import RequestError
from ._tool_check import as_text
from ._types import ChatResponse, Message, ToolCall

__all__ = [
    "ChunkEvent",
    "DoneEvent",
    "ReplyEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "ToolRun",
    "ToolRunEvent",
    "ToolTurn",
    "TurnCall",
]


class ToolRun(msgspec.Struct, kw_only=True):
    """The outcome of a tool run.

    Attributes:
        reply: the model's last reply (without tool calls, unless ``max_steps`` ended the run).
        messages: the whole transcript: the messages given, then each assistant reply and the
            tool results that answered it; pass it as ``messages`` to continue.
        steps: how many chat calls were made.
        pending: calls of schema-only tools (given as a `Tool` or a mapping, not a function),
            which the run hands to the caller: it stopped after running the other calls of the
            same reply. Answer each with a ``tool`` message (``tool_call_id`` = its ``id``),
            add them to ``messages`` and run again to continue. Empty when the run finished.
    """

    reply: ChatResponse
    messages: list[Message]
    steps: int
    pending: list[ToolCall] = msgspec.field(default_factory=list[ToolCall])


class ToolRunEvent(msgspec.Struct, kw_only=True, tag=True):
    """Something that happened in a streamed tool run; ``step`` counts chat calls from 1."""

    step: int


class ChunkEvent(ToolRunEvent, kw_only=True):
    """A streamed chunk of the model's reply."""

    chunk: ChatResponse


class ReplyEvent(ToolRunEvent, kw_only=True):
    """The model's whole reply of a step, accumulated from its chunks."""

    reply: ChatResponse


class ToolCallEvent(ToolRunEvent, kw_only=True):
    """A tool call about to run."""

    call: ToolCall


class ToolResultEvent(ToolRunEvent, kw_only=True):
    """A tool call's result, as the ``tool`` message sent back to the model.

    ``error`` is the text reported to the model when the tool raised or does not exist.
    """

    call: ToolCall
    message: Message
    error: str | None = None


class DoneEvent(ToolRunEvent, kw_only=True):
    """The last event: the run's outcome."""

    run: ToolRun


Decision = Literal["run", "refused", "answered", "pending"]


class TurnCall:
    """One tool call of a turn, for the caller to run (the default), edit, refuse or answer.

    Attributes:
        call: the call as the model sent it.
        name: the tool's name.
        id: the call's id, if the model gave one.
        arguments: the arguments the function will be called with: a copy of the model's,
            yours to edit in place or replace.
        runnable: whether a function of the run answers it (False: a schema-only tool, whose
            calls you answer, or a tool the run does not have).
        decision: ``"run"`` (a runnable call, by default), ``"refused"``, ``"answered"``, or
            ``"pending"`` (a schema-only call not answered yet: the run stops there and
            hands it back in ``ToolRun.pending``).
    """

    __slots__ = ("_reply", "arguments", "call", "decision", "id", "name", "runnable")

    def __init__(self, call: ToolCall, *, runnable: bool, schema_only: bool) -> None:
        self.call: ToolCall = call
        self.name: str = call.function.name
        self.id: str | None = call.id
        self.arguments: dict[str, Any] = copy.deepcopy(call.function.arguments)
        self.runnable: bool = runnable
        self.decision: Decision = "pending" if schema_only else "run"
        self._reply = ""

    def run(self, **arguments: Any) -> None:
        """Run the call (with ``arguments`` instead of the model's, if given)."""
        if not self.runnable:
            raise RequestError(f"no function of this run answers {self.name!r}: answer it instead")
        if arguments:
            self.arguments = arguments
        self.decision = "run"

    def refuse(self, reason: str = "the user did not allow this call") -> None:
        """Do not run the call; the model is told it was refused, and why."""
        self.decision = "refused"
        self._reply = f"error: the call of {self.name} was refused: {reason}"

    def answer(self, result: object) -> None:
        """Answer the call with ``result`` (a string, or what JSON encodes); it does not run."""
        self.decision = "answered"
        self._reply = as_text(result)

    @property
    def reply(self) -> str:
        """The text sent back for a refused or answered call."""
        return self._reply

    def __repr__(self) -> str:
        return f"<TurnCall {self.name}({self.arguments!r}) {self.decision}>"


class ToolTurn:
    """One turn of a steered tool run: the model's reply and the calls it asks for.

    Decide on each of ``calls`` before asking for the next turn (the loop's next iteration),
    which runs, refuses or answers them and calls the model again. The last turn has no
    calls: its ``reply`` is the model's answer.

    Attributes:
        step: the chat call this turn came from, counted from 1.
        reply: the model's reply.
        calls: one `TurnCall` per tool call of the reply, in order.
        messages: the transcript up to and including the reply.
        run: the run's outcome (`ToolRun`), set on the last turn once the run has ended
            (at once on a final turn; after the loop when the run stopped on calls left
            pending or at ``max_steps``); None before.
    """

    __slots__ = ("calls", "messages", "reply", "run", "step")

    def __init__(
        self, step: int, reply: ChatResponse, calls: list[TurnCall], messages: list[Message]
    ) -> None:
        self.step: int = step
        self.reply: ChatResponse = reply
        self.calls: list[TurnCall] = calls
        self.messages: list[Message] = messages
        self.run: ToolRun | None = None

    @property
    def final(self) -> bool:
        """Whether this is the last turn (the reply calls no tool)."""
        return not self.calls

    def __repr__(self) -> str:
        names = ", ".join(call.name for call in self.calls) or "no calls"
        return f"<ToolTurn {self.step}: {names}>"
