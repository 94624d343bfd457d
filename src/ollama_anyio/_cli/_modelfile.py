"""A pure parser for Modelfiles: the text of ``ollama create -f Modelfile``.

One instruction per line, case-insensitive: ``FROM``, ``SYSTEM``, ``TEMPLATE``,
``PARAMETER name value``, ``MESSAGE role text``, ``LICENSE``, ``ADAPTER``. A value may be
written bare (to the end of the line), in double quotes, or between triple quotes, which may
span lines. Lines starting with ``#`` are comments.

Parameter values are typed here, by the `Options` field they name (``num_ctx 4096`` is an
int, ``stop`` accumulates into a list), so a typo is reported with its line number rather than
as a server error about the whole request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from .. import Options
from ._errors import CliError

__all__ = ["Modelfile", "ModelfileError", "parse_modelfile"]

_TRIPLE = '"""'
_INSTRUCTIONS = frozenset(
    {"FROM", "SYSTEM", "TEMPLATE", "PARAMETER", "MESSAGE", "LICENSE", "ADAPTER"}
)
_ROLES = ("system", "user", "assistant", "tool")
_PARAMETERS = frozenset(f.name for f in msgspec.structs.fields(Options))
_LISTS = frozenset({"stop"})


class ModelfileError(CliError):
    """A Modelfile that cannot be parsed; the message names the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Modelfile line {line}: {message}")
        self.line = line


@dataclass
class Modelfile:
    """What a Modelfile asks for, in the shape of ``create``'s arguments."""

    from_: str | None = None
    system: str | None = None
    template: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict[str, Any])
    messages: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    license: list[str] = field(default_factory=list[str])
    adapters: list[str] = field(default_factory=list[str])


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _value(first: str, lines: list[str], index: int) -> tuple[str, int]:
    """The value starting with ``first`` on line ``index``, and the index of the next line."""
    if not first.startswith(_TRIPLE):
        return _unquote(first.strip()), index + 1
    rest = first[len(_TRIPLE) :]
    if _TRIPLE in rest:
        end = rest.index(_TRIPLE)
        if rest[end + len(_TRIPLE) :].strip():
            raise ModelfileError(index + 1, 'text after the closing """')
        return rest[:end], index + 1
    parts = [rest]
    for number in range(index + 1, len(lines)):
        line = lines[number]
        if _TRIPLE in line:
            end = line.index(_TRIPLE)
            if line[end + len(_TRIPLE) :].strip():
                raise ModelfileError(number + 1, 'text after the closing """')
            parts.append(line[:end])
            text = "\n".join(parts)
            # The newlines right inside the quotes only lay the value out on its own lines.
            text = text.removeprefix("\n").removesuffix("\n")
            return text, number + 1
        parts.append(line)
    raise ModelfileError(index + 1, 'the """ opened here is never closed')


def _split_word(text: str, line: int, what: str) -> tuple[str, str]:
    parts = text.strip().split(maxsplit=1)
    if len(parts) < 2:
        raise ModelfileError(line, f"expected {what} and a value")
    return parts[0], parts[1]


def _parameter(name: str, raw: str, line: int) -> Any:
    if name not in _PARAMETERS:
        raise ModelfileError(line, f"unknown parameter {name!r}")
    try:
        # Lax conversion turns the text into the field's type ("0.7" -> 0.7, "true" -> True).
        options = msgspec.convert({name: [raw] if name in _LISTS else raw}, Options, strict=False)
    except msgspec.ValidationError:
        raise ModelfileError(line, f"invalid value for parameter {name!r}: {raw!r}") from None
    return getattr(options, name)


def parse_modelfile(text: str) -> Modelfile:
    """Parse the text of a Modelfile.

    Raises:
        ModelfileError: an unknown instruction or parameter, a missing or ill-typed value, a
            bad message role, or an unclosed triple quote.
    """
    result = Modelfile()
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        number = index + 1
        if not line or line.startswith("#"):
            index += 1
            continue
        word, *tail = line.split(maxsplit=1)
        instruction, rest = word.upper(), tail[0] if tail else ""
        if instruction not in _INSTRUCTIONS:
            raise ModelfileError(number, f"unknown instruction {word!r}")
        if not rest:
            raise ModelfileError(number, f"{instruction} needs a value")
        if instruction == "PARAMETER":
            name, rest = _split_word(rest, number, "a parameter name")
            raw, index = _value(rest, lines, index)
            value = _parameter(name.lower(), raw, number)
            if name.lower() in _LISTS:
                result.parameters.setdefault(name.lower(), []).extend(value)
            else:
                result.parameters[name.lower()] = value
            continue
        if instruction == "MESSAGE":
            role, rest = _split_word(rest, number, "a role")
            if role.lower() not in _ROLES:
                raise ModelfileError(number, f"role must be one of {', '.join(_ROLES)}")
            content, index = _value(rest, lines, index)
            result.messages.append({"role": role.lower(), "content": content})
            continue
        value, index = _value(rest, lines, index)
        if instruction == "FROM":
            result.from_ = value
        elif instruction == "SYSTEM":
            result.system = value
        elif instruction == "TEMPLATE":
            result.template = value
        elif instruction == "LICENSE":
            result.license.append(value)
        else:
            result.adapters.append(value)
    return result
