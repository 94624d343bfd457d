"""What a prompt asks for: the keys of a JSON answer, the tools to call and their arguments.

Pure functions of the prompt and the request's tool definitions. Words are Unicode word runs,
so arguments in any script ("東京", "Zürich", "Москва") are taken from the prompt as written.
The rules are simple on purpose: the emulator's answers must be plausible and deterministic,
not clever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._wire import json_list, json_mapping

__all__ = ["chosen_tools", "json_keys", "key_schema", "subject", "subjects", "tool_arguments"]

_WORD = re.compile("\\w+(?:['\u2019-]\\w+)*")  # (an apostrophe, straight or curly)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
# (the CJK full stop and the fullwidth question and exclamation marks end clauses too)
_CLAUSES = re.compile(r"\band\b|\balso\b|[;?!\u3002\uff1f\uff01]|\.(?:\s|$)", re.IGNORECASE)
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"  # straight and curly
_QUOTED = re.compile(f"[{_QUOTES}]([A-Za-z_][A-Za-z0-9_]*)[{_QUOTES}]")
_KEY_LIST = re.compile(
    r"\b(?:keys?|fields?|properties|attributes|entries)\b\s*(?:named|called|:)?\s*([^.?!\n]+)",
    re.IGNORECASE,
)
_WITH_LIST = re.compile(r"\bwith\s+(?:the\s+|its\s+|a\s+|an\s+)?([^.?!\n]+)", re.IGNORECASE)
_ITEM_SPLIT = re.compile(r",|\band\b|\bor\b|/", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# English words that carry no argument: the question around the value a tool needs.
_STOP = frozenset(
    """a about all also am an and any are as at be been by can could current currently do does
    for from get give has have he her here his how i in into is it its just know let like look
    me much my need now of on one or our out please right she show some tell than that the their
    them then there these they this to today up us use using want was we were what whats what's
    when where which who why will with would you your""".split()
)
# Words of a tool's name or description that do not say what it is for.
_GENERIC = frozenset("tool function call calls return returns given value values".split())

_NUMERIC_KEYS = re.compile(
    r"(?:^|_)(?:age|count|year|years|number|num|total|price|population|amount|quantity|size"
    r"|score|rating|id|height|weight|length|width|temperature|days|hours|minutes)(?:$|_)"
)
_BOOLEAN_KEYS = re.compile(r"^(?:is|has|can|should)_|^(?:valid|done|enabled|active|ok)$")
_MAX_KEYS = 8


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _tool_words(tool: Mapping[str, Any]) -> set[str]:
    function: Mapping[str, Any] = tool.get("function") or {}
    name = _CAMEL.sub(" ", str(function.get("name", ""))).replace("_", " ").replace("-", " ")
    text = f"{name} {function.get('description') or ''}"
    return {_stem(w) for w in _words(text)} - _STOP - _GENERIC


def _clauses(prompt: str) -> list[str]:
    parts = [part.strip() for part in _CLAUSES.split(prompt)]
    return [part for part in parts if part] or [prompt]


def chosen_tools(
    tools: Sequence[Mapping[str, Any]], prompt: str
) -> list[tuple[Mapping[str, Any], str]]:
    """The tools the prompt asks for, in the order it asks, each with the text that asks.

    A tool is asked for when a word of the prompt is a word of its name or description
    ("weather" for ``get_current_weather``); with none asked for, the first tool is called,
    on the whole prompt, as a model given tools usually does.
    """
    clauses = _clauses(prompt)
    found: list[tuple[int, int, Mapping[str, Any], str]] = []
    for order, tool in enumerate(tools):
        words = _tool_words(tool)
        for position, clause in enumerate(clauses):
            if words & {_stem(w) for w in _words(clause)}:
                found.append((position, order, tool, clause))
                break
    if not found:
        return [(tools[0], prompt)] if tools else []
    found.sort(key=lambda item: (item[0], item[1]))
    if len(found) == 1:  # one tool: the whole prompt holds its arguments
        return [(found[0][2], prompt)]
    return [(tool, clause) for _, _, tool, clause in found]


def _runs(text: str, skip: set[str] | frozenset[str]) -> Iterator[tuple[int, int]]:
    """Spans of consecutive words not in ``skip``; a comma may join them ("San Francisco, CA")."""
    start = end = -1
    for match in _WORD.finditer(text):
        word = match.group().casefold()
        if word in skip or _stem(word) in skip or _NUMBER.fullmatch(word):
            if start >= 0:
                yield start, end
            start = -1
            continue
        if start >= 0 and text[end : match.start()].strip(" ,") != "":
            yield start, end
            start = -1
        if start < 0:
            start = match.start()
        end = match.end()
    if start >= 0:
        yield start, end


def _named(run: str) -> bool:
    # A name starts with a capital, or with a letter of a script without case (東京).
    return run[0].isupper() or not run[0].islower()


_JOINED = re.compile(r"\s*(?:,\s*)?(?:\band\b|&|\bor\b|、|和|и)\s*|\s*,\s*", re.IGNORECASE)


def subjects(text: str, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """What ``text`` is about: its first name and the names joined to it by "and"
    ("Tokyo and Toronto"), else its longest run of words that are not question words."""
    runs = list(_runs(text, _STOP | skip))
    if not runs:
        return []
    named = [(start, end) for start, end in runs if _named(text[start:end])]
    if not named:
        start, end = max(runs, key=lambda run: run[1] - run[0])
        return [text[start:end]]
    found = [named[0]]
    for start, end in named[1:]:
        if not _JOINED.fullmatch(text[found[-1][1] : start]):
            break
        found.append((start, end))
    return [text[start:end] for start, end in found]


def subject(text: str, skip: set[str] | frozenset[str] = frozenset()) -> str | None:
    """The first of `subjects`, or None."""
    found = subjects(text, skip)
    return found[0] if found else None


def tool_arguments(
    tool: Mapping[str, Any], text: str, baseline: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The arguments of each call of ``tool`` that ``text`` asks for: ``baseline`` (values
    that fit the schema) with what the text says put in.

    Numbers of the text fill number parameters in order, a word equal to an enum value picks
    it, and the text's subject ("San Francisco, CA", "東京") fills the first free string
    parameter; subjects joined by "and" ("Tokyo and Toronto") make one call each.
    """
    function: Mapping[str, Any] = tool.get("function") or {}
    parameters: Mapping[str, Any] = function.get("parameters") or {}
    properties: Mapping[str, Any] = parameters.get("properties") or {}
    arguments = dict(baseline)
    numbers = _NUMBER.findall(text)
    words = _words(text)
    skip = _tool_words(tool) | {w for key in properties for w in _words(key.replace("_", " "))}
    free: str | None = None
    for key, value in properties.items():
        schema = json_mapping(value)
        if schema is None:
            continue
        kind = schema.get("type")
        enum = json_list(schema.get("enum"))
        if enum is not None:
            chosen = next((v for v in enum if isinstance(v, str) and v.casefold() in words), None)
            if chosen is not None:
                arguments[key] = chosen
                skip.add(chosen.casefold())
        elif kind in ("integer", "number") and numbers:
            value = numbers.pop(0)
            arguments[key] = int(float(value)) if kind == "integer" else float(value)
        elif kind == "string" and free is None:
            free = key
    found = subjects(text, skip) if free is not None else []
    if not found:
        return [arguments]
    return [{**arguments, str(free): value} for value in found]


def _key(item: str) -> str | None:
    words: list[str] = []
    for word in _WORD.findall(item):
        if word.casefold() in _STOP:
            if words:
                break
            continue
        words.append(word.casefold())
        if len(words) == 3:
            break
    key = "_".join(words)
    return key if key and key.isidentifier() else None


def json_keys(prompt: str) -> list[str]:
    """The keys a prompt asks a JSON answer to have: quoted names, or a list after "keys",
    "fields", ... or "with"; none when it names none."""
    quoted = list(dict.fromkeys(_QUOTED.findall(prompt)))
    if quoted:
        return quoted[:_MAX_KEYS]
    for pattern in (_KEY_LIST, _WITH_LIST):
        match = pattern.search(prompt)
        if match:
            keys = [_key(item) for item in _ITEM_SPLIT.split(match.group(1))]
            found = list(dict.fromkeys(key for key in keys if key))
            if found:
                return found[:_MAX_KEYS]
    return []


def key_schema(key: str) -> dict[str, Any]:
    """A JSON-schema guess for a key from its name: ``age`` a number, ``is_open`` a boolean."""
    if _BOOLEAN_KEYS.search(key):
        return {"type": "boolean"}
    if _NUMERIC_KEYS.search(key):
        return {"type": "integer", "minimum": 1, "maximum": 100}
    if key.endswith(("items", "list", "tags")) or (key.endswith("s") and not key.endswith("ss")):
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}
