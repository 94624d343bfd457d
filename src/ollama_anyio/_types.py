"""The wire types: msgspec Structs for every request and response body of the Ollama API.

Responses never forbid unknown fields and give every field a default, so that a newer server
(more fields) or an older one (fewer) cannot break decoding. Requests omit the fields left at
their default (``None``), so a body carries only what the caller set; the few keys the official
client always sends (``stream``, chat ``messages`` and ``tools``, pull ``insecure``, embed
``input``) are fields without a default, which msgspec always encodes.

Every type supports attribute access (``r.message.content``) and, like the official client's
models, mapping-style access (``r["message"]["content"]``, ``"key" in r``, ``r.get("key")``).
"""

from __future__ import annotations

import array
import datetime
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union, cast

import msgspec

from . import _structured

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "CopyRequest",
    "CreateRequest",
    "DeleteRequest",
    "EmbedArraysResponse",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "GenerateRequest",
    "GenerateResponse",
    "Image",
    "ListResponse",
    "Logprob",
    "Message",
    "ModelDetails",
    "Options",
    "ProcessResponse",
    "ProgressResponse",
    "PullRequest",
    "PushRequest",
    "ShowRequest",
    "ShowResponse",
    "StatusResponse",
    "TokenLogprob",
    "Tool",
    "VersionResponse",
    "WebFetchRequest",
    "WebFetchResponse",
    "WebSearchRequest",
    "WebSearchResponse",
    "WebSearchResult",
]

_T = TypeVar("_T")

# Aliases evaluated at run time on Python 3.10, hence Union rather than "|" with forward refs.
JsonSchema = dict[str, Any]
# A type (Struct, dataclass, TypedDict, pydantic model) is sent as its JSON schema.
Format = Union[Literal["", "json"], JsonSchema, type]  # noqa: UP007
Think = Union[bool, Literal["low", "medium", "high", "max"]]  # noqa: UP007
KeepAlive = Union[float, str]  # noqa: UP007
ImageLike = Union[str, bytes, "os.PathLike[str]", "Image"]
ToolLike = Union["Tool", Mapping[str, Any], Callable[..., Any]]


class SubscriptableStruct(msgspec.Struct, kw_only=True, gc=False):
    """A Struct that can also be read like the official client's models: ``r["key"]``."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__struct_fields__:
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and getattr(self, key, None) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` if there is no such field or it is None."""
        value = getattr(self, key, None)
        return default if value is None else value

    def keys(self) -> Iterator[str]:
        """The names of the fields that hold a value (not None)."""
        return (name for name in self.__struct_fields__ if getattr(self, name) is not None)

    def model_dump(self) -> dict[str, Any]:
        """The value as plain Python objects (dicts, lists, str, numbers), as in JSON."""
        result: dict[str, Any] = msgspec.to_builtins(self, enc_hook=_to_builtin)
        return result

    def model_dump_json(self) -> str:
        """The value as a JSON string."""
        return msgspec.json.encode(self).decode()


def _to_builtin(value: object) -> object:
    if isinstance(value, array.array):
        return cast("array.array[float]", value).tolist()
    raise NotImplementedError(f"cannot convert {type(value).__name__}")


_REPR_ITEMS = 4


def _short_repr(value: object) -> str:
    """A repr that shows a long vector, or list of vectors, by its first items and its length."""
    if not isinstance(value, (list, array.array)):
        return repr(value)
    items = cast("list[object] | array.array[float]", value)
    shown = ", ".join(_short_repr(item) for item in items[:_REPR_ITEMS])
    if len(items) > _REPR_ITEMS:
        shown += f", ...({len(items)} in all)"
    if isinstance(items, array.array):
        return f"array({items.typecode!r}, [{shown}])"
    return f"[{shown}]"


def _vectors_repr(self: msgspec.Struct) -> str:
    # Printing a thousand vectors of 768 floats in full is 10 MB of text, which also happens
    # unasked: asyncio.run() on Python 3.11 formats the result of its main task.
    fields = (f"{name}={_short_repr(getattr(self, name))}" for name in self.__struct_fields__)
    return f"{type(self).__name__}({', '.join(fields)})"


class _RequestStruct(SubscriptableStruct, kw_only=True, omit_defaults=True):
    """Base of request bodies and of the types that go into them: unset fields are not sent."""


# ---------------------------------------------------------------------------------------------
# Shared objects


class Options(_RequestStruct, kw_only=True, omit_defaults=True):
    """Model parameters (SPEC 1.14). Only the fields you set are sent.

    The obsolete keys (``numa``, ``low_vram``, ``f16_kv``, ``logits_all``, ``vocab_only``,
    ``use_mlock``, ``embedding_only``, ``tfs_z``, ``mirostat*``, ``penalize_newline``) are kept for
    code written against the official client; current servers ignore them.
    """

    # load time
    numa: bool | None = None
    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    low_vram: bool | None = None
    f16_kv: bool | None = None
    logits_all: bool | None = None
    vocab_only: bool | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    embedding_only: bool | None = None
    num_thread: int | None = None
    # run time
    draft_num_predict: int | None = None
    num_keep: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    tfs_z: float | None = None
    typical_p: float | None = None
    repeat_last_n: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    mirostat: int | None = None
    mirostat_tau: float | None = None
    mirostat_eta: float | None = None
    penalize_newline: bool | None = None
    stop: list[str] | None = None


class Image(SubscriptableStruct, kw_only=True):
    """An image given as bytes, a path, or a base64 string; sent as base64."""

    value: Union[str, bytes, os.PathLike[str]]  # noqa: UP007  (msgspec reads this at run time)


class ToolCallFunction(_RequestStruct, kw_only=True, omit_defaults=True):
    """The function a tool call invokes."""

    name: str = ""
    arguments: dict[str, Any] = msgspec.field(default_factory=dict[str, Any])
    index: int | None = None


class ToolCall(_RequestStruct, kw_only=True, omit_defaults=True):
    """A call of a tool requested by the model; ``id`` is what a ``tool`` message answers."""

    Function = ToolCallFunction

    function: ToolCallFunction = msgspec.field(default_factory=ToolCallFunction)
    id: str | None = None


_ToolCall = ToolCall  # the name Message.ToolCall shadows inside Message's body


class Message(_RequestStruct, kw_only=True, omit_defaults=True):
    """A chat message (SPEC 2.1): in the request history and in every chat response."""

    ToolCall = ToolCall

    role: str = ""
    content: str = ""
    thinking: str | None = None
    images: list[Any] | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None

    def parse(self, cls: type[_T]) -> _T:
        """``content`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the content does not conform; ``.text`` holds it.
        """
        return _structured.parse(self.content, cls)


class ToolProperty(_RequestStruct, kw_only=True, omit_defaults=True):
    """One parameter of a tool, as a JSON-schema property (SPEC 2.3)."""

    type: str | list[str] | None = None
    items: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    properties: dict[str, Any] | None = None
    required: list[str] | None = None
    anyOf: list[Any] | None = None


class ToolParameters(_RequestStruct, kw_only=True, omit_defaults=True):
    """The parameters of a tool: a JSON schema of type ``object``."""

    Property = ToolProperty

    type: str | None = None  # the tool normaliser sends "object" when unset
    defs: Any = msgspec.field(default=None, name="$defs")
    items: Any = None
    required: list[str] | None = None
    properties: dict[str, ToolProperty] | None = None


class ToolFunction(_RequestStruct, kw_only=True, omit_defaults=True):
    """The function a tool exposes: name, description and parameters."""

    Parameters = ToolParameters

    name: str | None = None
    description: str | None = None
    parameters: ToolParameters | None = None


class Tool(_RequestStruct, kw_only=True, omit_defaults=True):
    """A tool definition (SPEC 2.3) for ``chat(tools=...)``."""

    Function = ToolFunction

    type: str | None = None  # the tool normaliser sends "function" when unset
    function: ToolFunction | None = None


class TokenLogprob(SubscriptableStruct, kw_only=True):
    """A token with its log probability."""

    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None


class Logprob(TokenLogprob, kw_only=True):
    """A generated token's log probability and, if asked for, the most likely alternatives."""

    top_logprobs: list[TokenLogprob] | None = None


class ModelDetails(SubscriptableStruct, kw_only=True):
    """Format, family, size and quantization of a model (SPEC 2.6)."""

    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None


# ---------------------------------------------------------------------------------------------
# Responses


class _BaseGenerateResponse(SubscriptableStruct, kw_only=True):
    model: str = ""
    created_at: datetime.datetime | None = None
    done: bool = False
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    remote_model: str | None = None
    remote_host: str | None = None


class GenerateResponse(_BaseGenerateResponse, kw_only=True):
    """A ``generate`` answer, or one chunk of its stream."""

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    tool_calls: list[ToolCall] | None = None
    logprobs: list[Logprob] | None = None
    # image generation, removed from current servers (SPEC 4.23); kept for older ones
    image: str | None = None
    completed: int | None = None
    total: int | None = None

    def parse(self, cls: type[_T]) -> _T:
        """``response`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the answer does not conform; ``.truncated`` tells whether
                generation stopped at the length limit.
        """
        return _structured.parse(self.response, cls, done_reason=self.done_reason)


def _assistant() -> Message:
    return Message(role="assistant")


class ChatResponse(_BaseGenerateResponse, kw_only=True):
    """A ``chat`` answer, or one chunk of its stream."""

    message: Message = msgspec.field(default_factory=_assistant)
    logprobs: list[Logprob] | None = None

    def parse(self, cls: type[_T]) -> _T:
        """``message.content`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the answer does not conform; ``.truncated`` tells whether
                generation stopped at the length limit.
        """
        return _structured.parse(self.message.content, cls, done_reason=self.done_reason)


class EmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer: one vector per input, in input order."""

    embeddings: list[list[float]] = msgspec.field(default_factory=list[list[float]])

    __repr__ = _vectors_repr


class EmbedArraysResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed(..., as_arrays=True)`` answer: each vector an ``array.array("f")``.

    Each vector is decoded on its own and packed into 4-byte float32 slots, so at most one
    vector's floats exist as Python objects at a time: a sixth of the memory of lists of
    floats. ``numpy.frombuffer(vector, "float32")`` wraps a vector without a copy.
    """

    embeddings: list[array.array[float]] = msgspec.field(default_factory=list["array.array[float]"])

    __repr__ = _vectors_repr


class RawEmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer with its vectors left as raw JSON, decoded later one at a time."""

    embeddings: list[msgspec.Raw] = msgspec.field(default_factory=list[msgspec.Raw])


class EmbeddingsResponse(SubscriptableStruct, kw_only=True):
    """A legacy ``embeddings`` answer: one vector."""

    embedding: list[float] = msgspec.field(default_factory=list[float])

    __repr__ = _vectors_repr


class StatusResponse(SubscriptableStruct, kw_only=True):
    """The status of an operation, e.g. ``success`` for ``copy`` and ``delete``."""

    status: str | None = None


class ProgressResponse(StatusResponse, kw_only=True):
    """A progress event of ``pull``, ``push`` or ``create`` (SPEC 2.7)."""

    completed: int | None = None
    total: int | None = None
    digest: str | None = None


class ListModel(SubscriptableStruct, kw_only=True):
    """A model stored on the server, as ``list()`` shows it."""

    name: str | None = None
    model: str | None = None
    remote_model: str | None = None
    remote_host: str | None = None
    modified_at: datetime.datetime | None = None
    size: int | None = None
    digest: str | None = None
    details: ModelDetails | None = None
    capabilities: list[str] | None = None


class ListResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``list()``: the models stored on the server."""

    Model = ListModel

    models: list[ListModel] = msgspec.field(default_factory=list[ListModel])


class ShowTensor(SubscriptableStruct, kw_only=True):
    """A tensor of a model's weights, as ``show()`` lists it."""

    name: str = ""
    type: str = ""
    shape: list[int] | None = None


class ShowResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``show()``: a model's metadata (SPEC 4.8)."""

    Tensor = ShowTensor

    license: str | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    renderer: str | None = None
    parser: str | None = None
    details: ModelDetails | None = None
    messages: list[Message] | None = None
    remote_model: str | None = None
    remote_host: str | None = None
    model_info: dict[str, Any] | None = None
    projector_info: dict[str, Any] | None = None
    tensors: list[ShowTensor] | None = None
    capabilities: list[str] | None = None
    modified_at: datetime.datetime | None = None
    requires: str | None = None

    @property
    def modelinfo(self) -> dict[str, Any] | None:
        """``model_info`` under the official client's attribute name."""
        return self.model_info


class ProcessModel(SubscriptableStruct, kw_only=True):
    """A model loaded in memory, as ``ps()`` shows it."""

    name: str | None = None
    model: str | None = None
    digest: str | None = None
    expires_at: datetime.datetime | None = None
    size: int | None = None
    size_vram: int | None = None
    details: ModelDetails | None = None
    context_length: int | None = None


class ProcessResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``ps()``: the models loaded in memory."""

    Model = ProcessModel

    models: list[ProcessModel] = msgspec.field(default_factory=list[ProcessModel])


class VersionResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``GET /api/version``."""

    version: str = ""


class WebSearchResult(SubscriptableStruct, kw_only=True):
    """One result of ``web_search()``."""

    title: str | None = None
    url: str | None = None
    content: str | None = None


class WebSearchResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``web_search()``."""

    results: list[WebSearchResult] = msgspec.field(default_factory=list[WebSearchResult])


class WebFetchResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``web_fetch()``: a page's title, text and links."""

    title: str | None = None
    content: str | None = None
    links: list[str] | None = None


# ---------------------------------------------------------------------------------------------
# Requests. Field order follows the official client's bodies; unset fields are not sent.

OptionsArg = Union[Mapping[str, Any], Options]  # noqa: UP007


class _ModelRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    model: str


class GenerateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/generate``."""

    stream: bool
    options: Any = None
    format: Any = None
    keep_alive: KeepAlive | None = None
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: Sequence[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None
    think: Any = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None


class ChatRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/chat``."""

    stream: bool
    options: Any = None
    format: Any = None
    keep_alive: KeepAlive | None = None
    messages: list[Message]
    tools: list[Tool]
    think: Any = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None


class EmbedRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/embed``."""

    input: Union[str, Sequence[str]]  # noqa: UP007
    truncate: bool | None = None
    options: Any = None
    keep_alive: KeepAlive | None = None
    dimensions: int | None = None


class EmbeddingsRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/embeddings``."""

    prompt: str | None = None
    options: Any = None
    keep_alive: KeepAlive | None = None


class PullRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/pull``."""

    stream: bool
    insecure: bool


class PushRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/push``."""

    stream: bool
    insecure: bool


class CreateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/create``."""

    stream: bool
    quantize: str | None = None
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: Any = None
    messages: list[Message] | None = None
    from_: str | None = msgspec.field(default=None, name="from")


class ShowRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/show``."""

    verbose: bool | None = None


class DeleteRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``DELETE /api/delete``."""


class CopyRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/copy``."""

    source: str
    destination: str


class WebSearchRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST https://ollama.com/api/web_search``."""

    query: str
    max_results: int | None = None


class WebFetchRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST https://ollama.com/api/web_fetch``."""

    url: str
