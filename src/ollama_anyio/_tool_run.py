"""What a tool run returns (`ToolRun`) and, streamed, the events it yields (`ToolRunEvent`).

Plain msgspec Structs, importable without anyio, so that ``import ollama_anyio`` stays light.
"""

from __future__ import annotations

import msgspec

from ._types import ChatResponse, Message, ToolCall

__all__ = [
    "ChunkEvent",
    "DoneEvent",
    "ReplyEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "ToolRun",
    "ToolRunEvent",
]


class ToolRun(msgspec.Struct, kw_only=True):
    """The outcome of a tool run.

    Attributes:
        reply: the model's last reply (without tool calls, unless ``max_steps`` ended the run).
        messages: the whole transcript: the messages given, then each assistant reply and the
            tool results that answered it; pass it as ``messages`` to continue.
        steps: how many chat calls were made.
    """

    reply: ChatResponse
    messages: list[Message]
    steps: int


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
