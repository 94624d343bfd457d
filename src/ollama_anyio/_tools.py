"""Tool definitions for ``chat(tools=...)``: `Tool` objects, mappings and plain Python functions.

`convert_tools` turns each entry into a `Tool` with the defaults the server expects (``type``
"function", ``parameters.type`` "object"). A function becomes a tool from its signature and its
Google-style docstring: the text before the first section is the tool's description, the ``Args:``
section describes the parameters, and the annotations give each parameter's JSON-schema type.
"""

from __future__ import annotations

import collections.abc as abc
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, Union, cast

import msgspec

from ._errors import RequestError
from ._types import Tool, ToolFunction, ToolParameters, ToolProperty

__all__ = ["ToolArg", "convert_function_to_tool", "convert_tools"]

ToolArg: TypeAlias = Tool | Mapping[str, Any] | Callable[..., Any]

_NONE = type(None)
# Looked up by an annotation's exact class, or along an enum value's MRO, which reaches bool
# before int: True is a "boolean", never an "integer".
_SCALARS: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    _NONE: "null",
}
_ARRAYS: frozenset[Any] = frozenset(
    {list, tuple, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet}
)
_OBJECTS: frozenset[Any] = frozenset({dict, abc.Mapping, abc.MutableMapping})

_SECTION = re.compile(
    r"(args|arguments|parameters|params|keyword args|keyword arguments|other parameters"
    r"|returns?|yields?|raises|examples?|notes?|attributes|see also|warnings?|todo|references)"
    r"\s*:",
    re.IGNORECASE,
)
_ARGS_SECTIONS = frozenset("args arguments parameters params".split()) | {
    "keyword args",
    "keyword arguments",
    "other parameters",
}
# "name: text", "name (type): text", "*args: text"; the lazy group lets a type hold parentheses.
_ARG_ENTRY = re.compile(r"\*{0,2}(?P<name>\w+)\s*(?:\(.*?\))?\s*:(?P<text>.*)")


def convert_tools(tools: Sequence[ToolArg] | None) -> list[Tool]:
    """Normalise the ``tools`` argument of ``chat`` into a list of `Tool`.

    Args:
        tools: `Tool` objects (kept), mappings in the shape of SPEC 2.3 (unknown keys dropped),
            or plain functions (converted from their signature and docstring); None for none.

    Raises:
        RequestError: an entry is none of these, a mapping does not fit the tool shape, or a
            function has an annotation with no JSON-schema equivalent. The message names the
            entry, e.g. ``tools[2]: ...``.
    """
    if tools is None:
        return []
    if isinstance(tools, (str, bytes, Mapping, Tool)) or callable(tools):
        raise RequestError(f"tools: expected a list of tools, got {_kind(tools)}")
    return [_convert_one(tool, f"tools[{index}]") for index, tool in enumerate(tools)]


def convert_function_to_tool(func: Callable[..., Any]) -> Tool:
    """The `Tool` that ``chat(tools=[func])`` sends for a plain function.

    Under the official client's name in ``ollama._utils`` (see `install_as_ollama`), which
    libraries built on it import.

    Raises:
        RequestError: as `convert_tools`, for an object that is not a function or an
            annotation with no JSON-schema equivalent.
    """
    if not callable(func) or isinstance(func, type):
        raise RequestError(f"expected a function, got {_kind(func)}")
    return _from_function(func, "func")


def _kind(value: object) -> str:
    if isinstance(value, type):
        return f"class {value.__qualname__}"
    return type(value).__name__


def _convert_one(tool: object, where: str) -> Tool:
    if isinstance(tool, Tool):
        return _with_defaults(tool)
    if isinstance(tool, Mapping):
        try:
            converted = msgspec.convert(dict(cast("Mapping[str, Any]", tool)), Tool)
        except msgspec.ValidationError as exc:
            raise RequestError(f"{where}: invalid tool: {exc}") from None
        return _with_defaults(converted)
    # A class is callable, but its "signature" is its constructor's: not a useful tool.
    if callable(tool) and not isinstance(tool, type):
        return _from_function(tool, where)
    raise RequestError(f"{where}: expected a Tool, a mapping or a function, got {_kind(tool)}")


def _with_defaults(tool: Tool) -> Tool:
    # replace() rather than assignment, so that the caller's Tool is never modified.
    function = tool.function
    if function is not None and function.parameters is not None:
        if function.parameters.type is None:
            parameters = msgspec.structs.replace(function.parameters, type="object")
            function = msgspec.structs.replace(function, parameters=parameters)
    if tool.type is None or function is not tool.function:
        kind = "function" if tool.type is None else tool.type
        tool = msgspec.structs.replace(tool, type=kind, function=function)
    return tool


def _from_function(func: Callable[..., Any], where: str) -> Tool:
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        raise RequestError(f"{where}: expected a Tool, a mapping or a function, got {_kind(func)}")
    where = f"{where}: function {name!r}"
    try:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func)
    # get_type_hints evaluates string annotations: any error of theirs can surface here.
    except (TypeError, ValueError, NameError, AttributeError, SyntaxError) as exc:
        raise RequestError(f"{where}: cannot read its signature: {exc}") from None
    summary, arg_docs = _parse_docstring(inspect.getdoc(func))
    properties: dict[str, ToolProperty] = {}
    required: list[str] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if index == 0 and param.name in ("self", "cls"):
            continue
        annotation, optional = _split_optional(hints.get(param.name, str))
        schema = _schema(annotation, f"{where}: parameter {param.name!r}")
        # "" rather than nothing, as the official client sends for an undocumented one
        schema["description"] = arg_docs.get(param.name, "")
        properties[param.name] = msgspec.convert(schema, ToolProperty)
        # The official client lists parameters with a default as required too (SPEC 7.4); only
        # an Optional annotation, or a None default, makes a parameter optional.
        if not optional and param.default is not None:
            required.append(param.name)
    parameters = ToolParameters(type="object", properties=properties, required=required or None)
    return Tool(
        type="function",
        function=ToolFunction(name=name, description=summary or "", parameters=parameters),
    )


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    """The annotation without its ``None`` member, and whether it had one."""
    origin = typing.get_origin(annotation)
    if annotation is _NONE:
        return annotation, True
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = tuple(arg for arg in args if arg is not _NONE)
        if len(rest) == len(args):
            return annotation, False
        return (rest[0] if len(rest) == 1 else Union[rest]), True  # noqa: UP007
    if origin is Literal:
        values = typing.get_args(annotation)
        rest = tuple(value for value in values if value is not None)
        if rest and len(rest) < len(values):
            return Literal[rest], True
    return annotation, False


def _schema(annotation: Any, where: str) -> dict[str, Any]:
    """The JSON schema of a (resolved) annotation."""
    if annotation is Any or annotation is object:
        return {}  # no restriction
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union or origin is types.UnionType:
        return _union([_schema(arg, where) for arg in args])
    if origin is Literal:
        return _enum(args, where)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum([member.value for member in annotation], where)
    if isinstance(annotation, type) and annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    container = annotation if origin is None else origin
    if isinstance(container, type) and container in _ARRAYS:
        items = [arg for arg in args if arg is not Ellipsis]  # tuple[int, ...]
        if not items:
            return {"type": "array"}
        return {"type": "array", "items": _union([_schema(item, where) for item in items])}
    if isinstance(container, type) and container in _OBJECTS:
        return {"type": "object"}
    raise RequestError(
        f"{where}: unsupported annotation {annotation!r}; use str, int, float, bool, a list, "
        "a dict, a Literal or an Enum"
    )


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema accepting any of ``schemas``: a list of types when they are plain types."""
    if any(not schema for schema in schemas):
        return {}
    if all(schema.keys() == {"type"} for schema in schemas):
        names: list[str] = []
        for schema in schemas:
            kind_or_kinds: Any = schema["type"]
            kinds = [kind_or_kinds] if isinstance(kind_or_kinds, str) else list(kind_or_kinds)
            names.extend(kind for kind in kinds if kind not in names)
        return {"type": names[0] if len(names) == 1 else names}
    unique: list[dict[str, Any]] = []
    unique.extend(schema for schema in schemas if schema not in unique)
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _enum(values: Sequence[Any], where: str) -> dict[str, Any]:
    values = [value.value if isinstance(value, enum.Enum) else value for value in values]
    if not values:
        raise RequestError(f"{where}: an enum without values")
    names: list[str] = []
    for value in values:
        kind = next((_SCALARS[c] for c in type(value).__mro__ if c in _SCALARS), None)
        if kind is None:
            raise RequestError(f"{where}: enum value {value!r} is not a JSON scalar")
        if kind not in names:
            names.append(kind)
    return {"type": names[0] if len(names) == 1 else names, "enum": values}


def _parse_docstring(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """The summary (text before the first section) and the ``Args:`` descriptions."""
    summary: list[str] = []
    args: dict[str, list[str]] = {}
    section = "summary"
    current: list[str] | None = None
    entry_indent: int | None = None
    for line in (doc or "").splitlines():
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(text) if indent == 0 else None
        if header is not None:
            section = "args" if header[1].lower() in _ARGS_SECTIONS else "other"
            current, entry_indent = None, None
        elif section == "summary":
            summary.append(line.rstrip())
        elif section == "args" and text:
            entry_indent = indent if entry_indent is None else entry_indent
            entry = _ARG_ENTRY.fullmatch(text)
            if indent < entry_indent:  # dedented text after the entries ends the section
                section = "other"
            elif indent == entry_indent and entry is not None:
                current = args[entry["name"]] = [entry["text"].strip()]
            elif current is not None:  # continuation of the entry above
                current.append(text)
    descriptions = {name: " ".join(p for p in parts if p) for name, parts in args.items()}
    return "\n".join(summary).strip() or None, {k: v for k, v in descriptions.items() if v}
