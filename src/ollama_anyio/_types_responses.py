"""The response bodies of the Ollama API (see ``_types`` for the rules they follow)."""

from __future__ import annotations

import array
import datetime
from typing import Any, Generic, TypeVar, Union, cast

import msgspec

from . import _structured
from ._errors import StructuredOutputError
from ._pydantic import construct
from ._types_base import (
    ABSENT,
    EXTRAS,
    Logprob,
    Message,
    ModelDetails,
    SubscriptableStruct,
    ToolCall,
    vectors_repr,
)

# ---------------------------------------------------------------------------------------------
# Responses

_T = TypeVar("_T")


class _BaseGenerateResponse(SubscriptableStruct, kw_only=True):
    model: str | None = ABSENT
    created_at: str | None = ABSENT
    done: bool | None = ABSENT
    done_reason: str | None = ABSENT
    total_duration: int | None = ABSENT
    load_duration: int | None = ABSENT
    prompt_eval_count: int | None = ABSENT
    prompt_eval_duration: int | None = ABSENT
    eval_count: int | None = ABSENT
    eval_duration: int | None = ABSENT
    remote_model: str | None = ABSENT
    remote_host: str | None = ABSENT


EXTRAS[_BaseGenerateResponse] = frozenset({"remote_model", "remote_host"})


class GenerateResponse(_BaseGenerateResponse, kw_only=True):
    """A ``generate`` answer, or one chunk of its stream."""

    response: str | None = ABSENT
    thinking: str | None = ABSENT
    context: list[int] | None = ABSENT
    tool_calls: list[ToolCall] | None = ABSENT
    logprobs: list[Logprob] | None = ABSENT
    # image generation, removed from current servers (SPEC 4.23); kept for older ones
    image: str | None = ABSENT
    completed: int | None = ABSENT
    total: int | None = ABSENT

    def parse(self, cls: type[_T]) -> _T:
        """``response`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the answer does not conform; ``.truncated`` tells whether
                generation stopped at the length limit.
        """
        return _structured.parse(self.response or "", cls, done_reason=self.done_reason)


def _assistant() -> Message:
    # Called while decoding a chunk without "message": a copy of a blank one is the fastest
    # way (no argument checks; every field is immutable, so a shallow copy is a new message).
    return msgspec.structs.replace(_ASSISTANT)


_ASSISTANT = construct(Message, role="assistant")


class ChatResponse(_BaseGenerateResponse, kw_only=True):
    """A ``chat`` answer, or one chunk of its stream."""

    message: Message = msgspec.field(default_factory=_assistant)
    logprobs: list[Logprob] | None = ABSENT

    def parse(self, cls: type[_T]) -> _T:
        """``message.content`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the answer does not conform; ``.truncated`` tells whether
                generation stopped at the length limit.
        """
        return _structured.parse(self.message.content, cls, done_reason=self.done_reason)


# Structured output typed once: ``chat(..., format=Pet)`` answers a ParsedChatResponse[Pet],
# a ChatResponse (every field, repr and dump the official shape) whose ``parsed`` is the Pet,
# read when the answer arrived. The value is kept outside the fields (``dict=True``), so it is
# never sent, dumped or compared; the classes need ``gc=True`` for that.

_S = TypeVar("_S")


_PARSED_VALUE = "_parsed_value"  # the attribute (not a field) that holds it


def _parsed(reply: object) -> Any:
    try:
        return getattr(reply, _PARSED_VALUE)
    except AttributeError:
        raise AttributeError(
            "this copy of the reply does not keep its parsed value: use .parse(T)"
        ) from None


class ParsedChatResponse(ChatResponse, Generic[_S], kw_only=True, dict=True, gc=True):
    """A ``chat`` answer to ``format=T`` (a type): a `ChatResponse` whose `parsed` is a T."""

    @property
    def parsed(self) -> _S:
        """``message.content`` read as the type given as ``format=`` when the answer came."""
        return cast(_S, _parsed(self))


class ParsedGenerateResponse(GenerateResponse, Generic[_S], kw_only=True, dict=True, gc=True):
    """A ``generate`` answer to ``format=T`` (a type): a `GenerateResponse`, `parsed` a T."""

    @property
    def parsed(self) -> _S:
        """``response`` read as the type given as ``format=`` when the answer came."""
        return cast(_S, _parsed(self))


_PARSED: dict[type[Any], type[Any]] = {
    ChatResponse: ParsedChatResponse,
    GenerateResponse: ParsedGenerateResponse,
}
_PARSED_TYPES = frozenset(_PARSED.values())


def answer_type(cls: type[Any], format: object, stream: bool) -> type[Any]:
    """The class a chat/generate answer decodes into: the parsed twin for a type ``format``."""
    if format is None or stream or not _structured.is_schema_type(format):
        return cls  # (None first: the common call pays one comparison)
    return _PARSED.get(cls, cls)


def with_parsed(reply: _T, format: object) -> _T:
    """``reply``, with its ``parsed`` value read as ``format`` if it is a parsed twin.

    Raises:
        StructuredOutputError: the answer does not conform (the error's ``reply`` is it).
    """
    answer: Any = reply
    if type(answer) in _PARSED_TYPES:  # (the parsed twins only: exactly these types)
        try:
            value = answer.parse(cast("type[Any]", format))
        except StructuredOutputError as exc:
            exc.reply = answer
            raise
        setattr(answer, _PARSED_VALUE, value)
    return reply


class EmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer: one vector per input, in input order."""

    embeddings: list[list[float]] = msgspec.field(default_factory=list[list[float]])

    def __repr__(self) -> str:
        return vectors_repr(self)


class EmbedArraysResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed(..., as_arrays=True)`` answer: each vector an ``array.array("f")``.

    Each vector is decoded on its own and packed into 4-byte float32 slots, so at most one
    vector's floats exist as Python objects at a time: a sixth of the memory of lists of
    floats. ``numpy.frombuffer(vector, "float32")`` wraps a vector without a copy.
    """

    embeddings: list[array.array[float]] = msgspec.field(default_factory=list["array.array[float]"])

    def __repr__(self) -> str:
        return vectors_repr(self)


class RawEmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer with its vectors left as raw JSON, decoded later one at a time."""

    embeddings: list[msgspec.Raw] = msgspec.field(default_factory=list[msgspec.Raw])


class EmbeddingsResponse(SubscriptableStruct, kw_only=True):
    """A legacy ``embeddings`` answer: one vector."""

    embedding: list[float] = msgspec.field(default_factory=list[float])

    def __repr__(self) -> str:
        return vectors_repr(self)


class StatusResponse(SubscriptableStruct, kw_only=True):
    """The status of an operation, e.g. ``success`` for ``copy`` and ``delete``."""

    status: str | None = ABSENT


class ProgressResponse(StatusResponse, kw_only=True):
    """A progress event of ``pull``, ``push`` or ``create`` (SPEC 2.7)."""

    completed: int | None = ABSENT
    total: int | None = ABSENT
    digest: str | None = ABSENT


class ListModel(SubscriptableStruct, kw_only=True):
    """A model stored on the server, as ``list()`` shows it."""

    name: str | None = ABSENT
    model: str | None = ABSENT
    remote_model: str | None = ABSENT
    remote_host: str | None = ABSENT
    modified_at: datetime.datetime | None = ABSENT
    size: int | None = ABSENT
    digest: str | None = ABSENT
    details: ModelDetails | None = ABSENT
    capabilities: list[str] | None = ABSENT


class ListResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``list()``: the models stored on the server."""

    Model = ListModel

    models: list[ListModel] = msgspec.field(default_factory=list[ListModel])


class ShowTensor(SubscriptableStruct, kw_only=True):
    """A tensor of a model's weights, as ``show()`` lists it."""

    name: str = ""
    type: str = ""
    shape: list[int] | None = ABSENT


class ShowThinking(SubscriptableStruct, kw_only=True):
    """The thinking controls a model declares (SPEC 9.1): ``think=`` takes one of ``values``."""

    values: list[Union[bool, str]] = msgspec.field(default_factory=list[Union[bool, str]])  # noqa: UP007
    default: Union[bool, str, None] = ABSENT  # noqa: UP007


class ShowResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``show()``: a model's metadata (SPEC 4.8)."""

    Tensor = ShowTensor
    Thinking = ShowThinking

    license: str | None = ABSENT
    modelfile: str | None = ABSENT
    parameters: str | None = ABSENT
    template: str | None = ABSENT
    system: str | None = ABSENT
    renderer: str | None = ABSENT
    parser: str | None = ABSENT
    details: ModelDetails | None = ABSENT
    messages: list[Message] | None = ABSENT
    remote_model: str | None = ABSENT
    remote_host: str | None = ABSENT
    modelinfo: dict[str, Any] | None = msgspec.field(default=ABSENT, name="model_info")
    projector_info: dict[str, Any] | None = ABSENT
    tensors: list[ShowTensor] | None = ABSENT
    capabilities: list[str] | None = ABSENT
    modified_at: datetime.datetime | None = ABSENT
    requires: str | None = ABSENT
    thinking: ShowThinking | None = ABSENT

    @property
    def model_info(self) -> dict[str, Any] | None:
        """``modelinfo`` under its name on the wire."""
        return self.modelinfo


class ProcessModel(SubscriptableStruct, kw_only=True):
    """A model loaded in memory, as ``ps()`` shows it."""

    name: str | None = ABSENT
    model: str | None = ABSENT
    digest: str | None = ABSENT
    expires_at: datetime.datetime | None = ABSENT
    size: int | None = ABSENT
    size_vram: int | None = ABSENT
    details: ModelDetails | None = ABSENT
    context_length: int | None = ABSENT


class ProcessResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``ps()``: the models loaded in memory."""

    Model = ProcessModel

    models: list[ProcessModel] = msgspec.field(default_factory=list[ProcessModel])


class VersionResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``GET /api/version``."""

    version: str = ""


class WebSearchResult(SubscriptableStruct, kw_only=True):
    """One result of ``web_search()``."""

    title: str | None = ABSENT
    url: str | None = ABSENT
    content: str | None = ABSENT


class WebSearchResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``web_search()``."""

    results: list[WebSearchResult] = msgspec.field(default_factory=list[WebSearchResult])


class WebFetchResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``web_fetch()``: a page's title, text and links."""

    title: str | None = ABSENT
    content: str | None = ABSENT
    links: list[str] | None = ABSENT
