"""A pure, incremental NDJSON decoder: bytes in, Structs out, no I/O.

Ollama streams one compact JSON object per line. TCP may split or merge lines anywhere, even
inside a multi-byte UTF-8 character, so the decoder keeps the unfinished tail of the last chunk and
decodes only complete lines; ``flush()`` decodes a last line that has no trailing newline.

A line may be an error (``{"error": "..."}``) instead of a chunk: those raise `ResponseError` at
their place in the stream, after the lines before them were returned. The check is a substring
search per chunk, so the common case costs one ``in`` and one ``decode_lines`` call.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ._errors import DECODE_ERRORS, ProtocolError, ResponseError, parse_error_body
from ._http._limits import DECODE_BUDGET, decoded_cost

__all__ = ["NDJSONDecoder"]

T = TypeVar("T")

_ERROR_KEY = b'"error"'


class NDJSONDecoder(Generic[T]):
    """Decode newline-delimited JSON into values of one type, fed in arbitrary pieces.

    Args:
        line_type: the type of every line (a msgspec Struct).
        status_code: the HTTP status of the response, put on errors raised for error lines.
        max_line_size: the longest line accepted: a longer one raises `ProtocolError` once
            that much of it is buffered (None: no limit).

    ``feed(chunk)`` returns the values of the lines the chunk completes; ``flush()`` returns the
    value of an unterminated last line. Both raise `ResponseError` for an error line (after
    returning nothing of the lines after it) and `ProtocolError` for a malformed line.
    """

    def __init__(
        self, line_type: type[T], status_code: int = 200, *, max_line_size: int | None = None
    ) -> None:
        self._decoder = msgspec.json.Decoder(line_type)
        self._status_code = status_code
        self._max_line_size = max_line_size
        # Pieces of the current unfinished line; joined once, when its newline arrives.
        self._tail: list[bytes] = []
        self._tail_size = 0
        # An error found after some good lines of a batch: raised on the next call, so that the
        # lines before it are delivered first.
        self._pending: Exception | None = None

    def feed(self, chunk: bytes) -> list[T]:
        if self._pending is not None:
            raise self._pending
        end = chunk.rfind(b"\n")
        if end < 0:
            if chunk:
                self._tail.append(chunk)
                self._grow(len(chunk))
            return []
        if self._tail:
            self._grow(chunk.find(b"\n"))
            self._tail.append(chunk[: end + 1])
            complete = b"".join(self._tail)
            self._tail.clear()
            self._tail_size = 0
        else:
            complete = chunk if end == len(chunk) - 1 else chunk[: end + 1]
        if end < len(chunk) - 1:
            self._tail.append(chunk[end + 1 :])
            self._grow(len(chunk) - end - 1)
        return self._decode(complete)

    def _grow(self, size: int) -> None:
        # Lines inside one chunk are as long as the chunk at most: only a line that spans
        # chunks can grow past the limit, and it does so in the tail.
        self._tail_size += size
        if self._max_line_size is not None and self._tail_size > self._max_line_size:
            self._tail.clear()
            raise ProtocolError(
                f"a line of the response stream is longer than the limit of "
                f"{self._max_line_size} bytes (max_line_size)"
            )

    def flush(self) -> list[T]:
        if self._pending is not None:
            raise self._pending
        if not self._tail:
            return []
        rest = b"".join(self._tail)
        self._tail.clear()
        self._tail_size = 0
        return self._decode(rest)

    def _decode(self, lines: bytes) -> list[T]:
        # A long line is weighed before it is decoded: dense JSON (``[[],[],...]``) costs
        # some 24 times its size in objects (see `_limits`).
        cost = decoded_cost(lines)
        if cost:
            budget = max(DECODE_BUDGET, 4 * (self._max_line_size or 0))
            if cost > budget:
                raise ProtocolError(
                    f"a line of the response stream would take about {cost >> 20} MiB to "
                    f"decode, more than the limit of {budget >> 20} MiB"
                )
        if _ERROR_KEY not in lines:
            try:
                return self._decoder.decode_lines(lines)
            except DECODE_ERRORS:
                pass  # find the bad line below, to name it
        values: list[T] = []
        for line in lines.split(b"\n"):
            if not line.strip():
                continue
            try:
                values.append(self._decode_line(line))
            except (ResponseError, ProtocolError) as exc:
                if not values:
                    raise
                self._pending = exc
                break
        return values

    def _decode_line(self, line: bytes) -> T:
        if _ERROR_KEY in line:
            message, signin_url = parse_error_body(line)
            try:
                is_error = bool(msgspec.json.decode(line, type=_ErrorLine).error)
            except DECODE_ERRORS:
                is_error = False
            if is_error:
                raise ResponseError(message, self._status_code, signin_url)
        try:
            return self._decoder.decode(line)
        except DECODE_ERRORS as exc:
            start = line[:80].decode("utf-8", errors="replace")
            raise ProtocolError(
                f"malformed line in the response stream ({exc}): {start!r}"
            ) from exc


class _ErrorLine(msgspec.Struct):
    error: object = None
