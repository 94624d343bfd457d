"""Blob files: hashed and read in pieces in a worker thread, never whole in memory."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from ._errors import RequestError

__all__ = ["file_digest", "file_pieces"]

_PIECE = 1 << 20


def file_digest(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file at ``path`` and its digest, ``sha256:<hex>``; reads the file (blocking: the async
    client calls it in a worker thread).

    Raises:
        RequestError: ``path`` is not a path, or the file cannot be read.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise RequestError(f"path must be a str or a path, got {type(path).__name__}")
    file = Path(path)
    sha256 = hashlib.sha256()
    try:
        with file.open("rb") as f:
            while chunk := f.read(_PIECE):
                sha256.update(chunk)
    except OSError as exc:
        raise RequestError(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc
    return file, f"sha256:{sha256.hexdigest()}"


async def file_pieces(file: Path) -> AsyncIterator[bytes]:
    """The file's bytes, a MiB at a time: a one-shot body (an upload is never sent twice)."""
    async with await anyio.open_file(file, "rb") as f:
        while chunk := await f.read(_PIECE):
            yield chunk
