"""The wire types: msgspec Structs for every request and response body of the Ollama API.

Responses never forbid unknown fields and give every field a default, so that a newer server
(more fields) or an older one (fewer) cannot break decoding. Requests omit the fields left at
their default (``None``), so a body carries only what the caller set; the few keys the official
client always sends (``stream``, chat ``messages`` and ``tools``, pull ``insecure``, embed
``input``) are fields without a default, which msgspec always encodes.

Every type supports attribute access (``r.message.content``) and, like the official client's
models, mapping-style access (``r["message"]["content"]``, ``"key" in r``, ``r.get("key")``,
``dict(r)``, ``r.model_dump()``) with the official semantics (SPEC 9.4, `SubscriptableStruct`).
A response field the payload may leave out is declared ``= ABSENT``: decoding stores msgspec's
UNSET there at no cost, the attribute reads None, and ``"key" in r`` can still tell a field sent
as ``null`` from one left out.
"""

from __future__ import annotations

import array
import datetime
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union, cast

import msgspec

from . import _pydantic, _structured

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
    "ShowThinking",
    "StatusResponse",
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneChoiceQuestion",
    "SystemOneContent",
    "SystemOneNoulAnswer",
    "SystemOneNoulQuestion",
    "SystemOneQuestion",
    "SystemOneRequest",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneScoreQuestion",
    "SystemOneUsage",
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
# A level name a model declares ("low", "xhigh", ...): any non-empty string (SPEC 9.1).
Think = Union[bool, str]  # noqa: UP007
KeepAlive = Union[float, str]  # noqa: UP007
ImageLike = Union[str, bytes, "os.PathLike[str]", "Image"]
ToolLike = Union["Tool", Mapping[str, Any], Callable[..., Any]]


class SubscriptableStruct(
    msgspec.Struct,
    _pydantic.PydanticModelAPI,
    kw_only=True,
    gc=False,
    metaclass=_pydantic.ModelMeta,
):
    """A Struct that can also be read like the official client's models: ``r["key"]``.

    As there (SPEC 9.4): iterating gives ``(name, value)`` for every declared field, so
    ``dict(r)`` lists them all, None ones included; ``"x" in r`` is true for a field that was
    given (decoded from the payload, even as ``null``, or set) or that always has a value;
    ``r["x"]`` raises `KeyError` where ``in`` is false; ``r.get("x", d)`` is the attribute of
    a declared field (so None for an absent one) and ``d`` for an undeclared name.
    """

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        tag = self.__struct_config__.tag_field
        if tag is not None:  # a tagged union's "type", which msgspec keeps out of the fields
            yield tag, self.__struct_config__.tag
        extras = _extra_fields(type(self))
        for name in self.__struct_fields__:
            # A field the official model lacks is listed only when it was given, so that
            # dict(r) of an official payload has the official keys exactly.
            if name not in extras or name in self:
                yield name, getattr(self, name)

    def __getitem__(self, key: str) -> Any:
        if key in self:
            return getattr(self, key)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__struct_fields__:
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        absent = _absent_fields(type(self))
        slot = absent.get(key)
        if slot is not None:
            return slot.__get__(self) is not msgspec.UNSET
        if key == self.__struct_config__.tag_field:
            return True
        return isinstance(key, str) and (
            key in self.__struct_fields__ and getattr(self, key) is not None
        )

    def __repr__(self) -> str:
        # The fields the payload left out are not shown (they read as None).
        absent = _absent_fields(type(self))
        shown = (
            f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
            if name not in absent or absent[name].__get__(self) is not msgspec.UNSET
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    def get(self, key: str, default: Any = None) -> Any:
        """The attribute ``key`` (None for a declared field left out), else ``default``."""
        return getattr(self, key, default)

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] | str = "python",
        include: Any = None,
        exclude: Any = None,
        by_alias: bool | None = None,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        **unused: Any,
    ) -> dict[str, Any]:
        """Every declared field, None ones included (unless ``exclude_none``), nested values
        as dicts and lists, as the official models' ``model_dump``.

        Args:
            mode: ``"json"`` gives only JSON types (a datetime as its ISO text).
            include, exclude: the field names to keep, or to leave out (a set, or a dict's keys).
            by_alias: accepted for the official signature; fields have their names on the wire.
            exclude_unset: leave out the fields not given (see `model_fields_set`).
            exclude_defaults: leave out the fields at their default.
            exclude_none: leave out the fields that are None.
            **unused: pydantic's other options (``round_trip``, ``warnings``, ...), ignored.
        """
        skip = _pydantic.skipped(self, include, exclude, exclude_unset, exclude_defaults)
        names = _DUMP_NAMES.get(type(self), {})
        dumped = {
            names.get(name, name): _dump(item, exclude_none, exclude_unset, exclude_defaults)
            for name, item in self
            if name not in skip and not (exclude_none and item is None)
        }
        if mode == "json":
            return cast("dict[str, Any]", msgspec.to_builtins(dumped))
        return dumped

    def model_dump_json(
        self, *, indent: int | None = None, exclude_none: bool = False, **options: Any
    ) -> str:
        """`model_dump` as a JSON string (``indent`` spaces deep if given); the same options."""
        text = _dump_encoder.encode(self.model_dump(exclude_none=exclude_none, **options))
        if indent is not None:
            text = msgspec.json.format(text, indent=indent)
        return text.decode()


# A field declared ``x: T | None = ABSENT`` stores msgspec's UNSET while the payload leaves it
# out, which costs nothing when decoding, and still reads as None: `_read_absent_as_none`
# puts a small descriptor over its slot. `SubscriptableStruct.__contains__` reads the slot
# itself to tell "absent" from "null". (Only response types use it: a request field set to
# None must not be sent as null.)
ABSENT: Any = msgspec.UNSET

_ABSENT_SLOTS: dict[type[Any], dict[object, Any]] = {}


class _AbsentAsNone:
    """Reads a field's slot, giving None for UNSET; writes it as is."""

    __slots__ = ("slot",)

    def __init__(self, slot: Any) -> None:
        self.slot = slot

    def __get__(self, obj: object, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        value = self.slot.__get__(obj, owner)
        return None if value is msgspec.UNSET else value

    def __set__(self, obj: object, value: Any) -> None:
        self.slot.__set__(obj, value)


# The fields each type declares beyond the official model of the same name (ollama 0.6.3);
# test_result_shapes checks this table against the installed official package.
_EXTRAS: dict[type[Any], frozenset[str]] = {}
_EXTRAS_BY_CLASS: dict[type[Any], frozenset[str]] = {}


def _extra_fields(cls: type[Any]) -> frozenset[str]:
    extras = _EXTRAS_BY_CLASS.get(cls)
    if extras is None:
        extras = frozenset[str]().union(*(_EXTRAS.get(klass, ()) for klass in cls.__mro__))
        _EXTRAS_BY_CLASS[cls] = extras
    return extras


def _absent_fields(cls: type[Any]) -> dict[object, Any]:
    """The slots of ``cls``'s fields that default to ABSENT, by name (cached per class)."""
    slots = _ABSENT_SLOTS.get(cls)
    if slots is None:
        slots = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, _AbsentAsNone):
                    slots[name] = value.slot
        _ABSENT_SLOTS[cls] = slots
    return slots


absent_fields = _absent_fields  # (for _pydantic)


def _read_absent_as_none(cls: type[Any]) -> None:
    for name, default in zip(
        cls.__struct_fields__[len(cls.__struct_fields__) - len(cls.__struct_defaults__) :],
        cls.__struct_defaults__,
        strict=True,
    ):
        slot = vars(cls).get(name)
        if default is msgspec.UNSET and slot is not None and not isinstance(slot, _AbsentAsNone):
            setattr(cls, name, _AbsentAsNone(slot))


def _dump(
    value: object, exclude_none: bool, exclude_unset: bool = False, exclude_defaults: bool = False
) -> object:
    if isinstance(value, SubscriptableStruct):
        return value.model_dump(
            exclude_none=exclude_none,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
        )
    if isinstance(value, (list, tuple)):
        items = cast("Sequence[object]", value)
        return [_dump(item, exclude_none, exclude_unset, exclude_defaults) for item in items]
    if isinstance(value, dict):
        pairs = cast("dict[object, object]", value).items()
        return {
            key: _dump(item, exclude_none, exclude_unset, exclude_defaults) for key, item in pairs
        }
    if isinstance(value, array.array):
        return cast("array.array[float]", value).tolist()
    return value


# Fields model_dump() names as on the wire, as the official models do: CreateRequest.from_.
_DUMP_NAMES: dict[type[Any], dict[str, str]] = {}


_dump_encoder = msgspec.json.Encoder()


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

    def model_dump(self, **options: Any) -> str:  # type: ignore[override]
        """The image as the base64 text sent to the server (a file is read).

        Raises:
            RequestError: the file does not exist or cannot be read, or a str is neither a
                file nor base64.
        """
        from ._images import encode_image  # (it imports this module)

        return encode_image(self)

    def model_dump_json(
        self, *, indent: int | None = None, exclude_none: bool = False, **options: Any
    ) -> str:
        """`model_dump` as a JSON string."""
        return _dump_encoder.encode(self.model_dump()).decode()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return _pydantic.image_core_schema(cls)


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
    bytes: list[int] | None = ABSENT


class Logprob(TokenLogprob, kw_only=True):
    """A generated token's log probability and, if asked for, the most likely alternatives."""

    top_logprobs: list[TokenLogprob] | None = ABSENT


class ModelDetails(SubscriptableStruct, kw_only=True):
    """Format, family, size and quantization of a model (SPEC 2.6)."""

    parent_model: str | None = ABSENT
    format: str | None = ABSENT
    family: str | None = ABSENT
    families: list[str] | None = ABSENT
    parameter_size: str | None = ABSENT
    quantization_level: str | None = ABSENT
    context_length: int | None = ABSENT
    embedding_length: int | None = ABSENT


# ---------------------------------------------------------------------------------------------
# Responses


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


_ASSISTANT = _pydantic.construct(Message, role="assistant")


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


class EmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer: one vector per input, in input order."""

    embeddings: list[list[float]] = msgspec.field(default_factory=list[list[float]])

    def __repr__(self) -> str:
        return _vectors_repr(self)


class EmbedArraysResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed(..., as_arrays=True)`` answer: each vector an ``array.array("f")``.

    Each vector is decoded on its own and packed into 4-byte float32 slots, so at most one
    vector's floats exist as Python objects at a time: a sixth of the memory of lists of
    floats. ``numpy.frombuffer(vector, "float32")`` wraps a vector without a copy.
    """

    embeddings: list[array.array[float]] = msgspec.field(default_factory=list["array.array[float]"])

    def __repr__(self) -> str:
        return _vectors_repr(self)


class RawEmbedResponse(_BaseGenerateResponse, kw_only=True):
    """An ``embed`` answer with its vectors left as raw JSON, decoded later one at a time."""

    embeddings: list[msgspec.Raw] = msgspec.field(default_factory=list[msgspec.Raw])


class EmbeddingsResponse(SubscriptableStruct, kw_only=True):
    """A legacy ``embeddings`` answer: one vector."""

    embedding: list[float] = msgspec.field(default_factory=list[float])

    def __repr__(self) -> str:
        return _vectors_repr(self)


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


# ---------------------------------------------------------------------------------------------
# Requests. Field order follows the official client's bodies; unset fields are not sent.

OptionsArg = Union[Mapping[str, Any], Options]  # noqa: UP007


class _ModelRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    model: str


def _false() -> bool:
    # A factory, not a default: omit_defaults would leave a default False out of the body,
    # and the official client always sends "stream".
    return False


def _no_messages() -> list[Message]:
    return []  # (likewise: "messages": [] is sent)


def _no_tools() -> list[Tool]:
    return []


class GenerateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/generate``."""

    stream: bool = msgspec.field(default_factory=_false)
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

    stream: bool = msgspec.field(default_factory=_false)
    options: Any = None
    format: Any = None
    keep_alive: KeepAlive | None = None
    messages: list[Message] = msgspec.field(default_factory=_no_messages)
    tools: list[Tool] = msgspec.field(default_factory=_no_tools)
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

    stream: bool = msgspec.field(default_factory=_false)
    insecure: bool = msgspec.field(default_factory=_false)


class PushRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/push``."""

    stream: bool = msgspec.field(default_factory=_false)
    insecure: bool = msgspec.field(default_factory=_false)


class CreateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/create``."""

    stream: bool = msgspec.field(default_factory=_false)
    quantize: str | None = None
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: Any = None
    messages: list[Message] | None = None
    from_: str | None = msgspec.field(default=None, name="from")


_DUMP_NAMES[CreateRequest] = {"from_": "from"}


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


# ---------------------------------------------------------------------------------------------
# Decision models (SPEC 9.3): POST /v1/systemone, one JSON object each way.

# (Annotated: a Union of builtins is shared through typing's cache, and its __module__ is set
# below; the metadata makes this one ours alone.)
SystemOneContent = Annotated[Union[str, dict[str, Any], list[Any]], "SystemOneContent"]  # noqa: UP007
"""Text, or a JSON object or array that the server renders as text."""


def _tag(self: msgspec.Struct) -> str:
    """The kind of question or answer: ``"choice"``, ``"noul"`` or ``"score"`` (its tag)."""
    return cast(str, self.__struct_config__.tag)


class _SystemOneQuestion(_RequestStruct, kw_only=True, omit_defaults=True, tag_field="type"):
    instructions: SystemOneContent

    @property
    def type(self) -> str:
        """The kind of question (msgspec writes it as its tag ``"type"``), the official field."""
        return _tag(self)


class SystemOneChoiceQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="choice"):
    """Which of ``criteria`` (choice name → description, or None to use the name) fits best."""

    criteria: dict[str, Union[str, None]]  # noqa: UP007


class SystemOneNoulQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="noul"):
    """A yes/no question; ``criteria`` may describe ``"false"`` and ``"true"``."""

    criteria: Union[dict[Literal["false", "true"], str], None] = None  # noqa: UP007


class SystemOneScoreQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="score"):
    """A level on a scale: ``criteria`` describes each level, lowest first."""

    criteria: list[str]


SystemOneQuestion = Union[SystemOneChoiceQuestion, SystemOneNoulQuestion, SystemOneScoreQuestion]  # noqa: UP007


class SystemOneRequest(_RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST /v1/systemone``."""

    model: str
    state: SystemOneContent
    questions: dict[str, SystemOneQuestion]
    keep_alive: KeepAlive | None = None


class _SystemOneAnswer(SubscriptableStruct, kw_only=True, tag_field="type"):
    @property
    def type(self) -> str:
        """The kind of answer (msgspec reads it from its tag ``"type"``), the official field."""
        return _tag(self)


class SystemOneNoulAnswer(_SystemOneAnswer, kw_only=True, tag="noul"):
    """The answer to a noul question: ``noul`` is the probability of true."""

    noul: float = 0.0


class SystemOneChoiceAnswer(_SystemOneAnswer, kw_only=True, tag="choice"):
    """The answer to a choice question: the likeliest choice, and each choice's probability."""

    choice: str = ""
    probabilities: dict[str, float] = msgspec.field(default_factory=dict[str, float])
    confidence: float = 0.0


class SystemOneScoreAnswer(_SystemOneAnswer, kw_only=True, tag="score"):
    """The answer to a score question: the expected level (zero-based, may be fractional)."""

    score: float = 0.0
    legend: dict[str, str] = msgspec.field(default_factory=dict[str, str])
    probabilities: dict[str, float] = msgspec.field(default_factory=dict[str, float])
    confidence: float = 0.0


SystemOneAnswer = Union[SystemOneNoulAnswer, SystemOneChoiceAnswer, SystemOneScoreAnswer]  # noqa: UP007


class SystemOneUsage(SubscriptableStruct, kw_only=True):
    """The tokens a ``systemone`` call read and wrote."""

    input_tokens: int = 0
    output_tokens: int = 0


class SystemOneResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``systemone()``: one answer per question, by the question's name."""

    model: str = ""
    answers: dict[str, SystemOneAnswer] = msgspec.field(default_factory=dict[str, SystemOneAnswer])
    usage: SystemOneUsage = msgspec.field(default_factory=SystemOneUsage)


for _alias in (SystemOneContent, SystemOneQuestion, SystemOneAnswer):
    setattr(_alias, "__module__", __name__)  # noqa: B010  (shown as the package's, as classes are)


_EXTRAS.update(
    {
        _BaseGenerateResponse: frozenset({"remote_model", "remote_host"}),
        GenerateResponse: frozenset({"tool_calls"}),
        ListModel: frozenset({"name", "remote_model", "remote_host", "capabilities"}),
        ShowResponse: frozenset(
            {
                "system",
                "renderer",
                "parser",
                "messages",
                "remote_model",
                "remote_host",
                "projector_info",
                "tensors",
                "requires",
                "thinking",
            }
        ),
        ModelDetails: frozenset({"context_length", "embedding_length"}),
        Message: frozenset({"tool_call_id"}),
        ToolCall: frozenset({"id"}),
        ToolCallFunction: frozenset({"index"}),
        TokenLogprob: frozenset({"bytes"}),
        ToolProperty: frozenset({"properties", "required", "anyOf"}),
        Options: frozenset({"draft_num_predict", "min_p"}),
    }
)


def _every_subclass(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _every_subclass(sub)


_read_absent_as_none(SubscriptableStruct)
for _cls in _every_subclass(SubscriptableStruct):
    _read_absent_as_none(_cls)
