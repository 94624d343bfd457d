"""Wire conventions shared by every handler: Go-style JSON in and out, timestamps, responses.

The real server is written in Go, so its bytes follow ``encoding/json``: compact output with
``<``, ``>`` and ``&`` escaped, case-insensitive keys on input, ``null`` meaning "absent", and
decoder messages such as ``invalid character '}' looking for beginning of object key string``.
This module reproduces those conventions as pure functions; nothing here does I/O.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = [
    "JSON_CT",
    "NDJSON_CT",
    "ApiError",
    "AsyncBody",
    "DeferredResponse",
    "Response",
    "StreamResponse",
    "decode_body",
    "dumps",
    "error_response",
    "json_list",
    "json_mapping",
    "json_object",
    "json_objects",
    "json_response",
    "json_str_list",
    "local_timestamp",
    "utc_timestamp",
]

JSON_CT = "application/json; charset=utf-8"
NDJSON_CT = "application/x-ndjson"

# The zero-argument Go type names used in decoder messages, keyed by our field kinds.
_GO_TYPES = {
    "str": "string",
    "bool": "bool",
    "int": "int",
    "float": "float64",
    "strlist": "[]string",
    "intlist": "[]int",
    "object": "map[string]interface {}",
    "strmap": "map[string]string",
    "list": "[]interface {}",
}

FieldKind = Literal[
    "str", "bool", "int", "float", "strlist", "intlist", "object", "strmap", "list", "any"
]

# The kind of the items of each list kind.
_ITEM_KINDS: dict[FieldKind, FieldKind] = {"strlist": "str", "intlist": "int", "list": "any"}


class ApiError(Exception):
    """A request the server answers with ``{"error": message}`` and a real status code.

    Args:
        status: the HTTP status.
        message: the ``error`` text.
        charset: whether the Content-Type carries ``; charset=utf-8`` (streaming handlers that
            fail before their first line answer with plain ``application/json``).
    """

    def __init__(self, status: int, message: str, *, charset: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.charset = charset


@dataclass
class Response:
    """A complete response: status, headers and a body sent with Content-Length."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])


# A body produced on the event loop while it is sent (a real model's tokens): a function
# opening a context that yields the lines. The context is entered around the whole write, so
# whatever it holds (a model, a worker thread) is released when the response ends, however it
# ends; the lines are read in the connection's own task.
AsyncBody = Callable[[], contextlib.AbstractAsyncContextManager[AsyncIterator[bytes]]]


@dataclass
class StreamResponse:
    """A 200 response whose body is a lazily produced sequence of NDJSON lines.

    Lines are produced when the server is ready to send them, so per-chunk timestamps are
    taken at send time; each line already ends in ``\\n``. ``lines`` is an iterator, or an
    :data:`AsyncBody` for lines that take awaiting.
    """

    lines: Iterator[bytes] | AsyncBody
    content_type: str = NDJSON_CT


@dataclass
class DeferredResponse:
    """A complete response that takes awaiting to produce (a real model's whole answer).

    The emulator awaits ``produce`` before the headers, so its status can still be an error.
    """

    produce: Callable[[], Awaitable[Response]]


# Decoded JSON is untyped (``Any``); these helpers check a value's JSON type and return it
# typed, so callers get precise types without trusting the shape of the input.


# A large body is weighed before it is parsed: dense JSON (``[[],[],...]``) costs some 24
# times its size in Python objects; past the budget it is refused like a body over the limit.
_DENSE = 1024 * 1024
_DECODE_BUDGET = 256 * 1024 * 1024


def _decoded_cost(body: bytes) -> int:
    values = body.count(b",") + body.count(b"[") + body.count(b"{")
    return values * 72 + len(body)


def json_object(value: object) -> dict[str, Any] | None:
    """``value`` if it is a JSON object (a ``dict``, whose keys are strings), else ``None``."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def json_mapping(value: object) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping (a decoded JSON object or a caller's mapping), else ``None``."""
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def json_list(value: object) -> list[object] | None:
    """``value`` if it is a JSON array (a ``list``, items of any JSON type), else ``None``."""
    return cast("list[object]", value) if isinstance(value, list) else None


def json_str_list(value: object) -> list[str] | None:
    """``value`` if it is a JSON array of strings only, else ``None``."""
    items = json_list(value)
    if items is None or not all(isinstance(item, str) for item in items):
        return None
    return cast("list[str]", items)


def json_objects(values: Iterable[object]) -> list[dict[str, Any]]:
    """The JSON objects among ``values``, in order (other values are skipped)."""
    return [obj for obj in map(json_object, values) if obj is not None]


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` the way Go's ``encoding/json`` does (compact, HTML characters escaped)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # These characters can only occur inside JSON strings, so a textual replacement is exact.
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.encode()


def json_response(obj: Any, status: int = 200, *, charset: bool = True) -> Response:
    """A single JSON object, without trailing newline."""
    content_type = JSON_CT if charset else "application/json"
    return Response(status, dumps(obj), content_type)


def error_response(status: int, message: str, *, charset: bool = True) -> Response:
    """The ``{"error": message}`` body every API error uses."""
    return json_response({"error": message}, status, charset=charset)


def _format_timestamp(moment: _dt.datetime, nanos: int) -> str:
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    offset = moment.utcoffset()
    if offset is None or offset == _dt.timedelta(0):
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{base}.{frac}{zone}" if frac else f"{base}{zone}"


def utc_timestamp(ns: int | None = None) -> str:
    """RFC 3339 UTC time with nanoseconds, trailing zeros trimmed (``created_at``)."""
    ns = time.time_ns() if ns is None else ns
    moment = _dt.datetime.fromtimestamp(ns // 1_000_000_000, _dt.timezone.utc)
    return _format_timestamp(moment, ns % 1_000_000_000)


def local_timestamp(moment: _dt.datetime) -> str:
    """RFC 3339 time in the server's local zone (``modified_at``, ``expires_at``)."""
    local = moment.astimezone()
    return _format_timestamp(local.replace(microsecond=0), local.microsecond * 1000)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _quote_char(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return repr(char) if not char.isprintable() else f"'{char}'"


def _syntax_message(exc: json.JSONDecodeError) -> str:
    """Translate Python's decoder message into the one Go's decoder would give."""
    doc, pos = exc.doc, exc.pos
    if pos >= len(doc.rstrip()) or exc.msg.startswith("Unterminated"):
        return "unexpected end of JSON input"
    char = _quote_char(doc[pos])
    contexts = {
        "Expecting value": "looking for beginning of value",
        "Expecting property name enclosed in double quotes": (
            "looking for beginning of object key string"
        ),
        "Expecting ':' delimiter": "after object key",
        "Expecting ',' delimiter": "after object key:value pair",
        "Extra data": "after top-level value",
        "Invalid control character at": "in string literal",
    }
    context = contexts.get(exc.msg, "looking for beginning of value")
    return f"invalid character {char} {context}"


def _check(value: Any, kind: FieldKind) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in _ITEM_KINDS:
        inner = _ITEM_KINDS[kind]
        items = json_list(value)
        return items is not None and all(v is None or _check(v, inner) for v in items)
    if kind == "strmap":
        obj = json_object(value)
        return obj is not None and all(isinstance(v, str) for v in obj.values())
    return isinstance(value, dict)


def decode_body(
    body: bytes, struct: str, fields: Mapping[str, FieldKind], *, required: bool = True
) -> dict[str, Any]:
    """Decode a request body with Go ``encoding/json`` semantics.

    Keys are matched case-insensitively to ``fields`` (unknown keys dropped, the last of
    duplicate keys wins), ``null`` values are dropped, and wrong types raise the decoder's
    message.

    Args:
        body: the raw request body.
        struct: the Go struct name used in type error messages (``GenerateRequest``).
        fields: canonical (lower-case) field name to expected kind.
        required: whether an empty body is an error.

    Returns:
        The known fields present in the body, under their canonical names.

    Raises:
        ApiError: 400 for an empty body, malformed JSON or a wrong field type.
    """
    if not body.strip():
        if required:
            raise ApiError(400, "missing request body")
        return {}
    if len(body) > _DENSE and _decoded_cost(body) > _DECODE_BUDGET:
        raise ApiError(413, "http: request body too large")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(400, _syntax_message(exc)) from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid character looking for beginning of value") from None
    except RecursionError:  # Go's decoder stops at 10,000 levels with these words
        raise ApiError(400, "exceeded max depth") from None
    except ValueError:  # an integer past Python's digit limit (4,300): too big for Go's too
        raise ApiError(400, "json: cannot unmarshal number into Go value of type int") from None
    if data is None:
        return {}
    obj = json_object(data)
    if obj is None:
        raise ApiError(
            400, f"json: cannot unmarshal {_json_kind(data)} into Go value of type api.{struct}"
        )
    result: dict[str, Any] = {}
    for key, value in obj.items():
        name = key.lower()
        if name not in fields:
            continue
        if value is None:
            result.pop(name, None)
            continue
        kind = fields[name]
        if not _check(value, kind):
            raise ApiError(
                400,
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                f"{struct}.{name} of type {_GO_TYPES.get(kind, 'interface {}')}",
            )
        result[name] = value
    return result


def lower_keys(obj: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Pick ``names`` from a nested JSON object, case-insensitively, dropping nulls."""
    wanted = set(names)
    result: dict[str, Any] = {}
    for key, value in obj.items():
        name = key.lower()
        if name in wanted and value is not None:
            result[name] = value
    return result
