"""Request parameters with server-side semantics: ``keep_alive``, ``think``, ``options``, images.

Each parser returns a plain Python value or raises :class:`ApiError` with the status and text
the real server uses for the same mistake.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from ._wire import ApiError, json_list, json_object

__all__ = [
    "DEFAULT_KEEP_ALIVE",
    "check_format",
    "check_images",
    "parse_keep_alive",
    "parse_options",
    "parse_think",
]

DEFAULT_KEEP_ALIVE = 300.0

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_INT_OPTIONS = frozenset(
    "num_ctx num_batch num_gpu main_gpu num_thread num_keep seed num_predict top_k "
    "repeat_last_n draft_num_predict".split()
)
_FLOAT_OPTIONS = frozenset(
    "top_p min_p typical_p temperature repeat_penalty presence_penalty frequency_penalty".split()
)


# Separate from the client's check (_requests.check_keep_alive) on purpose: an oracle must not
# share the code it checks, or one bug would pass both sides.
def _go_duration(text: str) -> float:
    """Seconds in a Go duration string (``1h30m``, ``-1s``, ``300ms``, ``0``)."""
    body = text.lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise ApiError(400, f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            if re.fullmatch(r"[0-9.]+", body[pos:]):
                raise ApiError(400, f'time: missing unit in duration "{text}"')
            raise ApiError(400, f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def parse_keep_alive(value: Any) -> float:
    """``keep_alive`` in seconds; negative means forever, ``0`` unload when idle.

    Raises:
        ApiError: 400 for unit-less or malformed strings and non-number, non-string values.
    """
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, bool):
        raise ApiError(400, "Unsupported type: 'bool'")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _go_duration(value)
    go_type = "map[string]interface {}" if isinstance(value, dict) else "[]interface {}"
    raise ApiError(400, f"Unsupported type: '{go_type}'")


def parse_think(value: Any) -> bool | str | None:
    """``think`` as ``None`` (absent), a bool, or a level name (SPEC 9.1: any non-empty string;
    the model resolves it, see ``Model.thinking_level``).

    Raises:
        ApiError: 400 for an empty string and for other JSON types.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value:
            return value
        raise ApiError(400, 'invalid think value: "" (must be a level name, true, or false)')
    raise ApiError(400, "think must be a boolean or a string (a level name, true, or false)")


def parse_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate the known ``options`` keys; unknown keys and nulls are ignored.

    Raises:
        ApiError: 500 ``option "<key>" must be of type <type>`` for a wrong value type.
    """
    result: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _INT_OPTIONS:
            if not number:
                raise ApiError(500, f'option "{key}" must be of type int')
            result[key] = int(value)
        elif key in _FLOAT_OPTIONS:
            if not number:
                raise ApiError(500, f'option "{key}" must be of type float32')
            result[key] = float(value)
        elif key == "stop":
            items = json_list(value)
            if items is None:
                raise ApiError(500, 'option "stop" must be of type array')
            result[key] = [str(item) for item in items]
        elif key == "use_mmap":
            if not isinstance(value, bool):
                raise ApiError(500, 'option "use_mmap" must be of type bool')
            result[key] = value
    return result


def check_format(fmt: Any) -> Literal["json"] | dict[str, Any] | None:
    """``format`` as ``None``, ``"json"`` or a schema object.

    Raises:
        ApiError: 500 for any other value, as the server fails at inference time.
    """
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return "json"
    schema = json_object(fmt)
    if schema is not None:
        return schema
    raw = json.dumps(fmt, separators=(",", ":"))
    raise ApiError(500, f'invalid format: {raw}; expected "json" or a valid JSON Schema object')


def check_images(images: Any) -> None:
    """Check that every image is standard, padded base64.

    Raises:
        ApiError: 400 ``illegal base64 data at input byte N``.
    """
    for image in images or ():
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            bad = next(
                (i for i, c in enumerate(image) if not (c.isalnum() or c in "+/=")),
                len(image) - len(image) % 4,
            )
            raise ApiError(400, f"illegal base64 data at input byte {bad}") from None
