"""Structured output into Python types: the JSON Schema sent as ``format``, and parsing back.

``format=`` takes a type as well as ``"json"`` or a schema mapping: a msgspec ``Struct``, a
dataclass, a ``TypedDict`` (anything ``msgspec.json.schema`` describes), or a pydantic model.
pydantic is never imported here: a class is a pydantic model only if pydantic is already
loaded (the caller defined the class with it), which `sys.modules` tells without importing.

`schema_of` gives the schema that is sent; `parse` reads an answer's text as the type, or
raises `StructuredOutputError` with the raw text, the validation message and whether the
generation was cut at the length limit. Both are pure.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Hashable
from typing import Any, TypeVar, cast

import msgspec

from ._errors import RequestError, StructuredOutputError

__all__ = ["is_schema_type", "parse", "schema_of"]

T = TypeVar("T")


def _pydantic_model(cls: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(cls, type):
        return False
    return issubclass(cls, pydantic.BaseModel)


def is_schema_type(value: object) -> bool:
    """Whether ``value`` is a type that ``format=`` turns into a JSON Schema."""
    return isinstance(value, type) and not isinstance(value, (str, bytes))


def schema_of(cls: type[Any]) -> dict[str, Any]:
    """The JSON Schema of ``cls``, with its top-level ``$ref`` inlined.

    msgspec names a Struct, dataclass or TypedDict in ``$defs`` and points at it from the top;
    the top object is inlined so that the schema's own ``type`` and ``properties`` sit at its
    root, where every grammar converter (and the emulator) looks first.

    Raises:
        RequestError: ``cls`` has no JSON Schema (e.g. a plain class).
    """
    return _schema_of(cast(Hashable, cls))


@functools.lru_cache(maxsize=256)
def _schema_of(cls: Any) -> dict[str, Any]:
    if _pydantic_model(cls):
        schema = cast("dict[str, Any]", cls.model_json_schema())
    else:
        try:
            schema = msgspec.json.schema(cls)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"format: {cls.__qualname__} has no JSON schema ({exc})") from None
    ref = schema.get("$ref")
    defs = schema.get("$defs")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and isinstance(defs, dict):
        name = ref.removeprefix("#/$defs/")
        top = dict(cast("dict[str, Any]", defs[name]))
        rest = {k: v for k, v in cast("dict[str, Any]", defs).items() if k != name}
        if f'"{ref}"' in msgspec.json.encode([top, rest]).decode():  # recursive
            rest[name] = defs[name]
        schema = {**top, "$defs": rest} if rest else top
    return schema


@functools.lru_cache(maxsize=256)
def _decoder(cls: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(cls)


def parse(text: str, cls: type[T], *, done_reason: str | None = None) -> T:
    """Read ``text`` (an answer's content) as ``cls``.

    Args:
        text: the JSON the model wrote.
        cls: a msgspec Struct, dataclass, TypedDict or other type msgspec decodes, or a
            pydantic model.
        done_reason: the answer's ``done_reason``; ``"length"`` marks the error as truncated.

    Raises:
        StructuredOutputError: ``text`` is not JSON, or does not conform to ``cls``.
    """
    truncated = done_reason == "length"
    if _pydantic_model(cls):
        pydantic = sys.modules["pydantic"]
        try:
            return cast(T, cast(Any, cls).model_validate_json(text))
        except pydantic.ValidationError as exc:
            raise StructuredOutputError(text, str(exc), truncated=truncated) from None
    try:
        decoder = _decoder(cast(Hashable, cls))
    except TypeError as exc:
        raise RequestError(f"cannot parse into {cls!r}: {exc}") from None
    try:
        return cast(T, decoder.decode(text))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StructuredOutputError(text, str(exc), truncated=truncated) from None
