"""A tool call's arguments checked against the tool, with what was wrong said in the model's terms.

The model sees a tool as its JSON schema (name, argument names, JSON types), never as Python:
when a call does not fit, the runner answers with the tool's name, the argument's name and the
JSON type expected, so that the model can correct its next call. (Calling the function anyway
would raise Python's ``TypeError``, whose text carries the function's qualified name and
Python's words, meaningless to the model.) Pure.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ._types import Tool

__all__ = ["argument_problem", "as_text"]

# A JSON type, as the schema names it, and the Python values of a decoded JSON of that type.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
_ARTICLES = {"integer": "an integer", "array": "an array", "object": "an object"}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name in ("string", "integer", "number", "array", "object", "null"):
        if isinstance(value, _JSON_TYPES[name]):
            return name
    return type(value).__name__  # pragma: no cover - arguments come from JSON


def _fits(value: object, kinds: list[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, _JSON_TYPES.get(kind, ())) for kind in kinds)


def _described(kinds: list[str]) -> str:
    return " or ".join(_ARTICLES.get(kind, f"a {kind}") for kind in kinds)


def _show(value: object) -> str:
    text = as_text(value)
    return text if len(text) <= 60 else text[:57] + "..."


def argument_problem(
    tool: Tool, function: Callable[..., Any] | None, arguments: Mapping[str, Any]
) -> str | None:
    """What is wrong with ``arguments`` for ``tool``, for the model to read; None if nothing.

    Names not among the tool's arguments (unless the function takes ``**kwargs``), required
    arguments left out (those the function has no default for; for a schema-only tool, its
    ``required`` list), and values whose JSON type or enum the schema does not allow.
    """
    spec = tool.function
    name = spec.name if spec is not None and spec.name else "the tool"
    parameters = None if spec is None else spec.parameters
    properties = dict((parameters.properties if parameters is not None else None) or {})
    if not isinstance(arguments, Mapping):
        return f"the arguments of {name} must be a JSON object, got {_show(arguments)}"
    listed = ", ".join(properties) or "none"
    open_ended = False
    required: list[str] = list((parameters.required if parameters is not None else None) or [])
    if function is not None:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
            signature = None
        if signature is not None:
            params = signature.parameters.values()
            open_ended = any(p.kind is p.VAR_KEYWORD for p in params)
            required = [
                p.name
                for p in params
                if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and p.name in properties
            ]
    problems: list[str] = []
    unknown = [key for key in arguments if key not in properties]
    if unknown and not open_ended:
        words = ", ".join(repr(key) for key in unknown)
        problems.append(f"{name} has no argument {words} (its arguments: {listed})")
    missing = [key for key in required if key not in arguments]
    if missing:
        words = ", ".join(repr(key) for key in missing)
        problems.append(f"{name} needs the argument {words}")
    for key, value in arguments.items():
        schema = properties.get(key)
        if schema is None:
            continue
        kind = schema.type
        kinds = [kind] if isinstance(kind, str) else list(kind or [])
        if kinds and not _fits(value, kinds):
            problems.append(
                f"the argument {key!r} of {name} must be {_described(kinds)}, got "
                f"{_described([_json_type(value)])} ({_show(value)})"
            )
        elif schema.enum and value not in schema.enum:
            allowed = ", ".join(_show(v) for v in schema.enum)
            problems.append(f"the argument {key!r} of {name} must be one of {allowed}")
    if not problems:
        return None
    return "; ".join(problems)


def as_text(value: object) -> str:
    """A tool result as the text of a ``tool`` message: a string as is, else its JSON."""
    if isinstance(value, str):
        return value
    try:
        return msgspec.json.encode(value).decode()
    except TypeError:
        return str(value)
