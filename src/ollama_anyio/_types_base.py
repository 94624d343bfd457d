"""The machinery every wire type shares, and the objects requests and responses share.

`SubscriptableStruct` gives each msgspec Struct the official models' mapping-style access (SPEC
9.4); ``ABSENT`` marks a response field the payload may leave out; `RequestStruct` omits the
fields left at their default. The shared objects (`Options`, `Message`, `Tool`, `ToolCall`, ...)
go both ways. The package's types are gathered in ``_types`` (see its docstring).
"""

from __future__ import annotations

import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar, Union, cast

import msgspec

from . import _pydantic, _structured

_T = TypeVar("_T")

# Aliases evaluated at run time on Python 3.10, hence Union rather than "|" with forward refs.
JsonSchema = dict[str, Any]
# A type (Struct, dataclass, TypedDict, pydantic model) is sent as its JSON schema.
Format = Union[Literal["", "json"], JsonSchema, type]  # noqa: UP007
# A level name a model declares ("low", "xhigh", ...): any non-empty string (SPEC 9.1).
Think = Union[bool, str]  # noqa: UP007
KeepAlive = Union[float, str]  # noqa: UP007


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

    # As dataclasses, with the official fields (see `DataclassFields`).
    __dataclass_fields__: ClassVar[Any] = _pydantic.DataclassFields(lambda cls: _extra_fields(cls))

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

    @property
    def model_fields_set(self) -> set[str]:
        """The fields given: sent by the server, or set to other than their default."""
        absent = _absent_fields(type(self))
        given: set[str] = set()
        for name, default in _pydantic.defaults(type(self)).items():
            slot = absent.get(name)
            if slot is not None:
                if slot.__get__(self) is not msgspec.UNSET:
                    given.add(name)
            elif getattr(self, name) != default:
                given.add(name)
        return given

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
        names = DUMP_NAMES.get(type(self), {})
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
        text = dump_encoder.encode(self.model_dump(exclude_none=exclude_none, **options))
        if indent is not None:
            text = msgspec.json.format(text, indent=indent)
        return text.decode()


# A field declared ``x: T | None = ABSENT`` stores msgspec's UNSET while the payload leaves it
# out, which costs nothing when decoding, and still reads as None: `read_absent_as_none`
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
EXTRAS: dict[type[Any], frozenset[str]] = {}
_EXTRAS_BY_CLASS: dict[type[Any], frozenset[str]] = {}


def _extra_fields(cls: type[Any]) -> frozenset[str]:
    extras = _EXTRAS_BY_CLASS.get(cls)
    if extras is None:
        extras = frozenset[str]().union(*(EXTRAS.get(klass, ()) for klass in cls.__mro__))
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


def read_absent_as_none(cls: type[Any]) -> None:
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
        if type(value) in DUMPED_WHOLE:
            return value.model_dump()
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
DUMP_NAMES: dict[type[Any], dict[str, str]] = {}
# Types whose model_dump() is not a dict of their fields (`Image`: its base64 text).
DUMPED_WHOLE: set[type[Any]] = set()


dump_encoder = msgspec.json.Encoder()


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


def vectors_repr(self: msgspec.Struct) -> str:
    # Printing a thousand vectors of 768 floats in full is 10 MB of text, which also happens
    # unasked: asyncio.run() on Python 3.11 formats the result of its main task.
    fields = (f"{name}={_short_repr(getattr(self, name))}" for name in self.__struct_fields__)
    return f"{type(self).__name__}({', '.join(fields)})"


class RequestStruct(SubscriptableStruct, kw_only=True, omit_defaults=True):
    """Base of request bodies and of the types that go into them: unset fields are not sent."""


# ---------------------------------------------------------------------------------------------
# Shared objects


class Options(RequestStruct, kw_only=True, omit_defaults=True):
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


class ToolCallFunction(RequestStruct, kw_only=True, omit_defaults=True):
    """The function a tool call invokes."""

    name: str = ""
    arguments: dict[str, Any] = msgspec.field(default_factory=dict[str, Any])
    index: int | None = None


class ToolCall(RequestStruct, kw_only=True, omit_defaults=True):
    """A call of a tool requested by the model; ``id`` is what a ``tool`` message answers."""

    Function = ToolCallFunction

    function: ToolCallFunction = msgspec.field(default_factory=ToolCallFunction)
    id: str | None = None


_ToolCall = ToolCall  # the name Message.ToolCall shadows inside Message's body


class Message(RequestStruct, kw_only=True, omit_defaults=True):
    """A chat message (SPEC 2.1): in the request history and in every chat response."""

    ToolCall = ToolCall

    role: str = ""
    content: str = ""
    thinking: str | None = None
    images: list[Any] | None = None
    # (tool_name before tool_calls, in the official model's order: dumps list keys alike)
    tool_name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None

    def parse(self, cls: type[_T]) -> _T:
        """``content`` read as ``cls`` (the type given as ``format=``).

        Raises:
            StructuredOutputError: the content does not conform; ``.text`` holds it.
        """
        return _structured.parse(self.content, cls)


class ToolProperty(RequestStruct, kw_only=True, omit_defaults=True):
    """One parameter of a tool, as a JSON-schema property (SPEC 2.3)."""

    type: str | list[str] | None = None
    items: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    properties: dict[str, Any] | None = None
    required: list[str] | None = None
    anyOf: list[Any] | None = None


class ToolParameters(RequestStruct, kw_only=True, omit_defaults=True):
    """The parameters of a tool: a JSON schema of type ``object``."""

    Property = ToolProperty

    type: str | None = None  # the tool normaliser sends "object" when unset
    defs: Any = msgspec.field(default=None, name="$defs")
    items: Any = None
    required: list[str] | None = None
    properties: dict[str, ToolProperty] | None = None


class ToolFunction(RequestStruct, kw_only=True, omit_defaults=True):
    """The function a tool exposes: name, description and parameters."""

    Parameters = ToolParameters

    name: str | None = None
    description: str | None = None
    parameters: ToolParameters | None = None


class Tool(RequestStruct, kw_only=True, omit_defaults=True):
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


ToolLike = Union["Tool", Mapping[str, Any], Callable[..., Any]]
