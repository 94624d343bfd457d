"""The official types' pydantic surface on our Structs, without a pydantic dependency.

The official client's types are pydantic models, and code built on it uses them as such: as
field types of its own models, through ``model_fields``, ``model_validate`` and the rest, and by
constructing them from nested dicts (``ChatResponse(message={...})``). This module gives our
Structs that behaviour:

- `ModelMeta`, the metaclass of every public type, converts and checks the arguments of a
  *call* (``Message(tool_calls=[{...}])``). Decoding never calls the class, so the hot path
  (one Struct per streamed chunk) is untouched; `__post_init__` would run on every decode.
- `PydanticModelAPI`, a mixin of `SubscriptableStruct`, has the class and instance methods
  (``model_validate``, ``model_copy``, ``__get_pydantic_core_schema__``, ...). pydantic is
  imported only by the methods that need it, and only where it is installed.
- `DataclassFields` lists the official fields as ``__dataclass_fields__``, for the code that
  serializes dataclasses but not models it does not know (``dataclasses.asdict``, FastAPI,
  OpenInference).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import importlib.util
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union, cast

import msgspec

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic_core import CoreSchema

__all__ = [
    "DataclassFields",
    "FieldInfo",
    "ModelMeta",
    "PydanticModelAPI",
    "construct",
    "defaults",
    "skipped",
    "struct_fields",
    "validation_error",
]

_S = TypeVar("_S")
_O = TypeVar("_O")

_struct_call: Callable[..., Any] = msgspec.StructMeta.__call__


# ---------------------------------------------------------------------------------------------
# Construction: convert and check the arguments of a call


class _Check:
    """How one field's argument is checked: kept as it is if an instance of ``accept`` (and, for
    a container of Structs, each item an instance of ``items``), else converted by msgspec
    (dicts into Structs, "1" into 1), which raises if it cannot."""

    __slots__ = ("accept", "items", "type")

    def __init__(
        self, type_: Any, accept: tuple[type[Any], ...], items: tuple[type[Any], ...] | None
    ) -> None:
        self.type = type_
        self.accept = accept
        self.items = items

    def keeps(self, value: Any) -> bool:
        """Whether ``value`` is right as it is (no conversion needed)."""
        if not isinstance(value, self.accept):
            return value is msgspec.UNSET  # a field left out, given back by copy.deepcopy
        items = self.items
        if items is None or value is None:
            return True
        each: Iterable[Any] = value
        if isinstance(value, dict):
            each = cast("Mapping[Any, Any]", value).values()
        return all(isinstance(item, items) for item in each)


_PLANS: dict[type[Any], dict[str, _Check]] = {}
# Container types: the item types a list's (or a dict's values') Structs must have, or _DEEP
# where the items are not that simple (then msgspec converts every time).
_Accepts = tuple[tuple[type[Any], ...], tuple[type[Any], ...] | None]
_DEEP: tuple[type[Any], ...] = ()
_CONTAINERS: dict[Any, tuple[type[Any], ...]] = {
    list: (list,),
    dict: (dict,),
    Sequence: (list, tuple),
    Mapping: (dict,),
}


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _has_struct(tp: Any) -> bool:
    return _is_struct(tp) or any(_has_struct(arg) for arg in typing.get_args(tp))


def _accepts(tp: Any) -> _Accepts | None:
    """The types a value of annotation ``tp`` may have as it is, and for a container of
    Structs the types of its items; None where we do not check (Any, a path, an array)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _accepts(typing.get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        accept: tuple[type[Any], ...] = ()
        items: tuple[type[Any], ...] | None = None
        for arg in typing.get_args(tp):
            part = _accepts(arg)
            if part is None:
                return None
            accept += part[0]
            if part[1] is not None:
                items = part[1] if items is None else _DEEP  # two containers: let msgspec choose
        return accept, items
    if origin is Literal:
        return (), None  # never kept as it is: msgspec checks the value
    if tp is None or tp is type(None):
        return (type(None),), None
    if tp is float:
        return (float, int), None  # an int is a float to Python's types (and is sent as given)
    if tp in (str, int, bool, bytes, datetime.datetime) or _is_struct(tp):
        return (cast("type[Any]", tp),), None
    if origin in _CONTAINERS:
        args = typing.get_args(tp)
        if any(arg is not Any and _accepts(arg) is None for arg in args):
            return None
        if not any(_has_struct(arg) for arg in args):
            return _CONTAINERS[origin], None
        item = _accepts(args[-1])  # a list's items, a dict's values
        if item is None or item[1] is not None or not item[0]:
            return _CONTAINERS[origin], _DEEP
        return _CONTAINERS[origin], item[0]
    return None


def struct_fields(cls: type[Any]) -> tuple[msgspec.structs.FieldInfo, ...]:
    """``msgspec.structs.fields(cls)``; an annotation Python cannot evaluate here (such as
    ``array.array[float]`` before Python 3.12) reads as ``Any``."""
    try:
        return msgspec.structs.fields(cls)
    except TypeError:
        pass
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        namespace = vars(sys.modules[klass.__module__])
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            try:
                hints[name] = typing.get_type_hints(
                    type("_", (), {"__annotations__": {name: annotation}}), namespace
                )[name]
            except Exception:
                hints[name] = Any
    names: tuple[str, ...] = cls.__struct_fields__
    given: tuple[Any, ...] = cls.__struct_defaults__
    result: list[msgspec.structs.FieldInfo] = []
    for index, (name, encode_name) in enumerate(
        zip(names, cls.__struct_encode_fields__, strict=True)
    ):
        at = index - (len(names) - len(given))
        default: Any = given[at] if at >= 0 else msgspec.NODEFAULT
        factory: Any = msgspec.NODEFAULT
        if type(default).__name__ == "Factory":
            default, factory = msgspec.NODEFAULT, default.factory
        result.append(
            msgspec.structs.FieldInfo(
                name=name,
                encode_name=encode_name,
                type=hints.get(name, Any),
                default=default,
                default_factory=factory,
            )
        )
    return tuple(result)


def _plan(cls: type[Any]) -> dict[str, _Check]:
    plan: dict[str, _Check] = {}
    for field in struct_fields(cls):
        accepts = _accepts(field.type)
        if accepts is not None:
            plan[field.name] = _Check(field.type, *accepts)
    _PLANS[cls] = plan
    return plan


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return cast("tuple[str, ...]", cls.__struct_fields__)


class ModelMeta(msgspec.StructMeta):
    """The metaclass of our types: ``Type(**fields)`` checks and converts as the official
    models do (nested dicts and lists become our types, a bad value is a `ValueError`), and
    ignores the keywords that are not fields, as they do. Decoding does not call it."""

    if not TYPE_CHECKING:  # the type checkers read each type's own signature

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                self = _struct_call(cls, *args, **kwargs) if args else construct(cls, **kwargs)
            except TypeError:
                self = _call_leniently(cls, args, kwargs)
            if kwargs:
                plan = _PLANS.get(cls)
                if plan is None:
                    plan = _plan(cls)
                for name, value in kwargs.items():
                    check = plan.get(name)
                    if check is None or check.keeps(value):
                        continue
                    try:
                        converted = msgspec.convert(value, check.type, strict=False)
                    except msgspec.ValidationError as exc:
                        raise validation_error(cls, exc, value, (name,)) from None
                    setattr(self, name, converted)
            return self


def _call_leniently(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The call again without the keywords that are not fields (the official models ignore
    them); a missing required field is a `ValueError`, as there."""
    fields = _field_names(cls)
    known = {name: value for name, value in kwargs.items() if name in fields}
    missing = [
        name
        for name, required in zip(fields, _required(cls), strict=True)
        if required and name not in known
    ]
    if missing or args:
        raise validation_error(cls, None, kwargs, (missing[0],) if missing else (), "missing")
    kwargs.clear()
    kwargs.update(known)
    return _struct_call(cls, **known)


def _required(cls: Any) -> list[bool]:
    fields = _field_names(cls)
    optional = len(cast("tuple[Any, ...]", cls.__struct_defaults__))
    return [index < len(fields) - optional for index in range(len(fields))]


_PATH = re.compile(r" - at `\$(.*)`$")
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def validation_error(
    cls: type[Any],
    error: msgspec.DecodeError | None,
    value: Any,
    loc: tuple[str | int, ...] = (),
    kind: str = "value_error",
) -> Exception:
    """The error a bad value gives: pydantic's ``ValidationError`` where pydantic is installed
    (as the official models raise), else msgspec's `ValidationError`; both are ValueErrors."""
    message = "field required" if error is None else str(error)
    match = _PATH.search(message)
    if match is not None:
        message = message[: match.start()]
        for name, index in _PART.findall(match.group(1)):
            loc += (name,) if name else (int(index),)
    try:
        import pydantic_core
    except ImportError:
        where = ".".join(str(part) for part in loc)
        return msgspec.ValidationError(f"{cls.__name__}{'.' if where else ''}{where}: {message}")
    detail: Any = {"type": kind, "loc": loc, "input": value}
    if kind in ("value_error", "json_invalid"):
        detail["ctx"] = {"error": message}
    return pydantic_core.ValidationError.from_exception_data(cls.__name__, [detail])


# Per class: a blank instance, and the fields a copy of it cannot take from it (required ones,
# and those whose default is a new list or dict each time).
_TEMPLATES: dict[type[Any], tuple[Any, frozenset[str]]] = {}
_SHAREABLE = (bool, int, float, str, bytes, tuple, frozenset, type(None))


def _template(cls: type[Any]) -> tuple[Any, frozenset[str]]:
    own: set[str] = set()
    placeholders: dict[str, Any] = {}
    for field in struct_fields(cls):
        if field.required:
            own.add(field.name)
            placeholders[field.name] = None
        elif field.default_factory is not msgspec.NODEFAULT:
            if not isinstance(field.default_factory(), _SHAREABLE):
                own.add(field.name)
    entry = (_struct_call(cls, **placeholders), frozenset(own))
    _TEMPLATES[cls] = entry
    return entry


def construct(cls: type[_S], **fields: Any) -> _S:
    """An instance from fields already checked (by our request builders, or pydantic).

    A copy of a blank instance with ``fields`` replaced, where that is safe: msgspec's
    ``replace`` is several times faster than calling a class that has a metaclass of its own.
    """
    entry = _TEMPLATES.get(cls)
    if entry is None:
        entry = _template(cls)
    template, own = entry
    if own and not own <= fields.keys():
        return cast(_S, _struct_call(cls, **fields))
    return cast(_S, msgspec.structs.replace(template, **fields))


# ---------------------------------------------------------------------------------------------
# model_fields


class FieldInfo:
    """A field as ``Type.model_fields`` lists it: the parts of pydantic's ``FieldInfo`` that
    code reads (``annotation``, ``default``, ``alias``, ``is_required()``)."""

    __slots__ = ("alias", "annotation", "default", "default_factory", "description")

    def __init__(
        self,
        annotation: Any,
        default: Any,
        default_factory: Callable[[], Any] | None,
        alias: str | None,
    ) -> None:
        self.annotation = annotation
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.description: str | None = None

    def is_required(self) -> bool:
        """Whether the field has no default."""
        return self.default is Ellipsis and self.default_factory is None

    def get_default(self, *, call_default_factory: bool = False) -> Any:
        """The default, made by the factory if ``call_default_factory``."""
        if self.default_factory is not None:
            return self.default_factory() if call_default_factory else None
        return None if self.default is Ellipsis else self.default

    def __repr__(self) -> str:
        shown = f"annotation={self.annotation!r} required={self.is_required()}"
        if not self.is_required():
            shown += f" default={self.get_default()!r}"
        if self.alias is not None:
            shown += f" alias={self.alias!r}"
        return f"FieldInfo({shown})"


_FIELDS: dict[type[Any], dict[str, FieldInfo]] = {}


def model_fields(cls: type[Any]) -> dict[str, FieldInfo]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = {}
        for field in struct_fields(cls):
            default = field.default
            if default is msgspec.UNSET:  # ABSENT: read as None
                default = None
            elif default is msgspec.NODEFAULT:
                default = Ellipsis
            factory = field.default_factory
            fields[field.name] = FieldInfo(
                field.type,
                default,
                None if factory is msgspec.NODEFAULT else factory,
                field.encode_name if field.encode_name != field.name else None,
            )
        _FIELDS[cls] = fields
    return fields


class _ClassProperty(Generic[_O]):
    """A read-only attribute computed from the class, readable on the class and instances."""

    def __init__(self, func: Callable[[type[Any]], _O]) -> None:
        self.func = func

    def __get__(self, obj: object, owner: type[Any] | None = None) -> _O:
        return self.func(owner if owner is not None else type(obj))


# ---------------------------------------------------------------------------------------------
# The mixin


def defaults(cls: type[Any]) -> dict[str, Any]:
    """Each field's default value (a new one from its factory)."""
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in model_fields(cls).items()
    }


_ADAPTERS: dict[type[Any], Any] = {}


def _adapter(cls: type[Any]) -> Any:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def _pydantic_installed() -> bool:
    return "pydantic" in sys.modules or importlib.util.find_spec("pydantic") is not None


_DATACLASS_FIELDS: dict[type[Any], dict[str, dataclasses.Field[Any]]] = {}


def _dataclass_field(name: str) -> dataclasses.Field[Any]:
    field: dataclasses.Field[Any] = dataclasses.field()
    field.name = name
    field.type = Any
    # The marker dataclasses.fields() keeps a field by (it leaves out ClassVars and InitVars).
    setattr(field, "_field_type", getattr(dataclasses, "_FIELD"))  # noqa: B009, B010
    return field


class DataclassFields:
    """``__dataclass_fields__``: our types pass as dataclasses to code that serializes those
    and not pydantic models it does not know (``dataclasses.asdict``, FastAPI's encoder,
    OpenInference's span values), with the official model's fields: those ``extras`` does not
    name (a field the official model lacks is left out, as pydantic leaves it out there)."""

    def __init__(self, extras: Callable[[type[Any]], frozenset[str]]) -> None:
        self.extras = extras

    def __get__(self, obj: object, owner: type[Any] | None = None) -> dict[str, Any]:
        cls: type[Any] = owner if owner is not None else type(obj)
        fields = _DATACLASS_FIELDS.get(cls)
        if fields is None:
            extras = self.extras(cls)
            names = [name for name in _field_names(cls) if name not in extras]
            tag = cls.__struct_config__.tag_field
            fields = {name: _dataclass_field(name) for name in ([tag, *names] if tag else names)}
            _DATACLASS_FIELDS[cls] = fields
        return fields


class PydanticModelAPI:
    """The ``BaseModel`` methods that code written for the official types calls."""

    __slots__ = ()

    # The official models' configuration is empty; code reads it (``extra``, ``frozen``).
    model_config: typing.ClassVar[dict[str, Any]] = {}
    model_fields: typing.ClassVar[_ClassProperty[dict[str, FieldInfo]]] = _ClassProperty(
        model_fields
    )

    @classmethod
    def model_validate(
        cls: type[_S],
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any = None,
    ) -> _S:
        """An instance from a mapping of fields (nested ones converted), or ``obj`` itself.

        Raises:
            ValueError: a field has a bad value (pydantic's ``ValidationError`` where pydantic
                is installed).
        """
        if isinstance(obj, cls):
            return obj
        try:
            return msgspec.convert(
                obj, cls, strict=bool(strict), from_attributes=bool(from_attributes)
            )
        except msgspec.ValidationError as exc:
            raise validation_error(cls, exc, obj) from None

    @classmethod
    def model_validate_json(
        cls: type[_S],
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        context: Any = None,
    ) -> _S:
        """An instance decoded from JSON.

        Raises:
            ValueError: not JSON, or a field has a bad value (pydantic's ``ValidationError``
                where pydantic is installed).
        """
        try:
            return msgspec.json.decode(json_data, type=cls, strict=bool(strict))
        except msgspec.ValidationError as exc:
            raise validation_error(cls, exc, json_data) from None
        except msgspec.DecodeError as exc:
            raise validation_error(cls, exc, json_data, (), "json_invalid") from None

    @classmethod
    def model_construct(cls: type[_S], _fields_set: set[str] | None = None, **values: Any) -> _S:
        """An instance from ``values`` as they are, unchecked."""
        fields = _field_names(cls)
        return construct(cls, **{name: value for name, value in values.items() if name in fields})

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool = True,
        ref_template: str = "#/$defs/{model}",
        mode: Literal["validation", "serialization"] = "validation",
    ) -> dict[str, Any]:
        """The JSON schema of the type: pydantic's where pydantic is installed, else msgspec's."""
        if _pydantic_installed():
            schema: dict[str, Any] = _adapter(cls).json_schema(
                by_alias=by_alias, ref_template=ref_template, mode=mode
            )
            return schema
        (root,), defs = msgspec.json.schema_components(
            [cls], ref_template=ref_template.replace("{model}", "{name}")
        )
        name = root["$ref"].rsplit("/", 1)[-1]
        schema = dict(defs.pop(name))
        if defs:
            schema["$defs"] = defs
        return schema

    def model_copy(self: _S, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> _S:
        """A copy (of nested objects too if ``deep``), with the fields in ``update`` replaced."""
        copied = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            setattr(copied, name, value)
        return copied

    # pydantic's hooks: our types as field types of pydantic models, TypeAdapter, FastAPI.

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema(cls, handler)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target["title"] = cls.__name__
        properties = target.get("properties", {})
        for name, info in model_fields(cls).items():
            default = info.get_default()
            alias = info.alias or name
            if not info.is_required() and alias in properties and default is not None:
                if isinstance(default, (str, int, float, bool)) and info.default_factory is None:
                    properties[alias].setdefault("default", default)
            elif not info.is_required() and alias in properties and info.default_factory is None:
                properties[alias].setdefault("default", None)
        if cls.__doc__:
            target.setdefault("description", cls.__doc__.strip().split("\n\n", 1)[0])
        return json_schema


# ---------------------------------------------------------------------------------------------
# pydantic's core schema


def core_schema(cls: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
    """A typed-dict schema of the Struct's fields (by their names on the wire), then the Struct
    built from them; an instance passes as it is; serialized as `model_dump` gives it."""
    from pydantic.errors import PydanticSchemaGenerationError
    from pydantic_core import core_schema as cs

    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    for field in struct_fields(cls):
        try:
            schema = handler.generate_schema(field.type)
        except PydanticSchemaGenerationError:
            schema = cs.any_schema()  # e.g. array.array: any value, kept
        fields[field.encode_name] = cs.typed_dict_field(schema, required=field.required)
        names[field.encode_name] = field.name
    config = cls.__struct_config__
    if config.tag_field is not None:
        fields[config.tag_field] = cs.typed_dict_field(
            cs.literal_schema([config.tag]), required=False
        )

    def build(value: dict[str, Any]) -> Any:
        return construct(cls, **{names[key]: item for key, item in value.items() if key in names})

    from_dict = cs.no_info_after_validator_function(build, cs.typed_dict_schema(fields))
    return cs.json_or_python_schema(
        json_schema=from_dict,
        python_schema=cs.no_info_wrap_validator_function(_instance_or(cls), from_dict),
        serialization=cs.plain_serializer_function_ser_schema(_serialize, info_arg=True),
        ref=f"{cls.__module__}.{cls.__qualname__}:{id(cls)}",
    )


def _instance_or(cls: type[Any]) -> Callable[[Any, Callable[[Any], Any]], Any]:
    def validate(value: Any, handler: Callable[[Any], Any]) -> Any:
        return value if isinstance(value, cls) else handler(value)

    return validate


def _serialize(value: Any, info: Any) -> Any:
    if not isinstance(value, PydanticModelAPI):
        return value
    dump = cast(Any, value).model_dump
    return dump(exclude_none=bool(info.exclude_none), by_alias=info.by_alias)


def image_core_schema(cls: type[Any]) -> CoreSchema:
    """`Image`: given as a str, bytes or path (or ``{"value": ...}``), serialized as base64."""
    from pydantic_core import core_schema as cs

    def build(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            value = cast("dict[str, Any]", value).get("value")
        import os

        if isinstance(value, (str, bytes, os.PathLike)):
            return construct(cls, value=value)
        raise ValueError(f"an image is a str, bytes or path, not {type(value).__name__}")

    return cs.no_info_plain_validator_function(
        build,
        json_schema_input_schema=cs.str_schema(),
        serialization=cs.plain_serializer_function_ser_schema(
            lambda value: value.model_dump() if isinstance(value, cls) else value,
            return_schema=cs.str_schema(),
        ),
    )


def skipped(
    value: PydanticModelAPI, include: Any, exclude: Any, exclude_unset: bool, exclude_defaults: bool
) -> frozenset[str] | set[str]:
    """The fields `model_dump` leaves out for these options (none, at no cost, by default)."""
    if include is None and exclude is None and not exclude_unset and not exclude_defaults:
        return frozenset()
    cls: type[Any] = type(value)
    skip: set[str] = set()
    if include is not None:
        skip.update(name for name in _field_names(cls) if name not in include)
    if exclude is not None:
        skip.update(
            name
            for name in exclude
            if not isinstance(exclude, Mapping) or cast("Mapping[str, Any]", exclude)[name] is True
        )
    if exclude_unset:
        given: set[str] = getattr(value, "model_fields_set")  # noqa: B009  (SubscriptableStruct's)
        skip.update(set(_field_names(cls)) - given)
    if exclude_defaults:
        default = defaults(cls)
        skip.update(name for name in _field_names(cls) if getattr(value, name) == default[name])
    return skip
