"""The key-value metadata of a GGUF file, read from its header without loading the model.

llama.cpp's server reports little of a model's metadata, and the ``gguf`` package would be a
dependency of its own, so the header is read here: a magic, a version, two counts, then the
key-value pairs (GGUF versions 2 and 3). Array values (the tokenizer's vocabulary) are read
past, not kept.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["GgufError", "read_metadata"]

_MAGIC = b"GGUF"
# GGUF value types: the struct format of each fixed-size one.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING = 8
_ARRAY = 9
# A header key or string longer than this is a damaged file, not metadata to read.
_MAX_STRING = 64 << 20
_MAX_PAIRS = 1 << 16


class GgufError(ValueError):
    """The file is not a GGUF file, or its header is damaged."""


def _read(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise GgufError("the GGUF header ends early")
    return data


def _scalar(file: BinaryIO, kind: int) -> Any:
    code = "<" + _SCALARS[kind]
    (value,) = struct.unpack(code, _read(file, struct.calcsize(code)))
    return value


def _string(file: BinaryIO) -> str:
    size = _scalar(file, 10)
    if size > _MAX_STRING:
        raise GgufError(f"a GGUF string of {size} bytes")
    return _read(file, size).decode("utf-8", errors="replace")


def _value(file: BinaryIO, kind: int, *, keep: bool) -> Any:
    if kind in _SCALARS:
        return _scalar(file, kind)
    if kind == _STRING:
        return _string(file)
    if kind == _ARRAY:
        item_kind = _scalar(file, 4)
        count = _scalar(file, 10)
        if item_kind in _SCALARS and not keep:
            file.seek(count * struct.calcsize(_SCALARS[item_kind]), 1)
            return None
        items = [_value(file, item_kind, keep=False) for _ in range(count)]
        return items if keep else None
    raise GgufError(f"unknown GGUF value type {kind}")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of the GGUF file at ``path``: scalars and strings; arrays as ``None``.

    Raises:
        GgufError: not a GGUF file, or a damaged header.
        OSError: the file cannot be read.
    """
    with Path(path).open("rb") as file:
        if _read(file, 4) != _MAGIC:
            raise GgufError(f"{path} is not a GGUF file")
        version = _scalar(file, 4)
        if version not in (2, 3):
            raise GgufError(f"GGUF version {version} is not supported")
        _scalar(file, 10)  # the tensor count
        pairs = _scalar(file, 10)
        if pairs > _MAX_PAIRS:
            raise GgufError(f"{pairs} GGUF metadata pairs")
        metadata: dict[str, Any] = {}
        for _ in range(pairs):
            key = _string(file)
            metadata[key] = _value(file, _scalar(file, 4), keep=False)
        return metadata
