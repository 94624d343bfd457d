"""HTTP/1.1 response framing without I/O: the head, then a body by length, chunks, or to EOF.

Why not h11: it costs about 5 µs per chunk of a chunked body (13 µs on a loaded machine), and
Ollama sends every line of a stream as its own chunk, so h11 alone would spend more per line
than the whole budget of a streamed token. This module does only what a client of Ollama needs
(responses, no pipelining, no upgrades), decodes whole buffers with ``bytes.find``, and is
strict: anything it does not understand is a `FramingError`, never a guess.
"""

from __future__ import annotations

import re

__all__ = ["ChunkedDecoder", "FramingError", "ResponseHead", "parse_head"]

MAX_HEAD = 64 * 1024
_MAX_SIZE_LINE = 1024
# A chunk's size line: hex digits (a sign, "0x" or "_", which int() would take, are errors),
# optional whitespace, optional extensions (ignored).
_CHUNK_START = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r\n")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class FramingError(Exception):
    """The bytes from the server are not a well-formed HTTP/1.1 response."""


class ResponseHead:
    """A response's status line and headers."""

    __slots__ = ("_index", "headers", "http_version", "reason", "status")

    def __init__(
        self, http_version: bytes, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.http_version = http_version
        self.status = status
        self.reason = reason
        self.headers = headers
        self._index: dict[bytes, bytes] | None = None

    def header(self, name: bytes) -> bytes | None:
        """The value of the last header called ``name`` (lower-case), if any."""
        index = self._index
        if index is None:  # a response's headers are looked up five times or so
            index = self._index = {key.lower(): value for key, value in self.headers}
        return index.get(name)

    @property
    def keep_alive(self) -> bool:
        connection = (self.header(b"connection") or b"").lower()
        if self.http_version == b"HTTP/1.0":
            return b"keep-alive" in connection
        return b"close" not in connection


def parse_head(buffer: bytes) -> tuple[ResponseHead, bytes] | None:
    """Parse a response head at the start of ``buffer``.

    Returns the head and the bytes after it, or None if the head is not complete yet.

    Raises:
        FramingError: the head is malformed or longer than 64 KiB.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise FramingError("response head longer than 64 KiB")
        return None
    lines = buffer[:end].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise FramingError(f"malformed status line: {lines[0][:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise FramingError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip(b" \t")))
    return ResponseHead(version, int(code), reason, headers), buffer[end + 4 :]


class ChunkedDecoder:
    """Decode a ``Transfer-Encoding: chunked`` body fed in arbitrary pieces.

    ``feed(data)`` returns the body bytes that ``data`` completes (possibly empty); once the
    last chunk and the trailers have been read, ``done`` is True and ``rest`` holds any bytes
    after the body.
    """

    __slots__ = ("_buffer", "_remaining", "_state", "rest")

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self) -> None:
        self._buffer = b""
        self._state = self._SIZE
        self._remaining = 0
        self.rest = b""

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes) -> bytes:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        pos, state, remaining = 0, self._state, self._remaining
        size = len(buffer)
        # Whole chunks, the common case, one regular-expression match each; a chunk not all
        # here yet (or anything odd) is left to the general loop below.
        while state == self._SIZE and (match := _CHUNK_START.match(buffer, pos)):
            start = match.end()
            if start - pos > _MAX_SIZE_LINE:
                break  # too long: the general loop says so
            length = int(match.group(1), 16)
            if not length:
                pos, state = start, self._TRAILER
                break
            stop = start + length
            if buffer[stop : stop + 2] != b"\r\n":
                break
            out.append(buffer[start:stop])
            pos = stop + 2
        while pos < size or state == self._DONE:
            if state == self._DATA:
                take = min(remaining, size - pos)
                out.append(buffer[pos : pos + take])
                pos += take
                remaining -= take
                if remaining:
                    break
                state = self._DATA_END
            elif state == self._SIZE:
                end = buffer.find(b"\r\n", pos)
                if end < 0:
                    if size - pos > _MAX_SIZE_LINE:
                        raise FramingError("chunk size line too long")
                    break
                if end - pos > _MAX_SIZE_LINE:
                    raise FramingError("chunk size line too long")
                match = _CHUNK_START.match(buffer, pos, end + 2)
                if match is None:
                    raise FramingError(f"bad chunk size: {buffer[pos:end][:40]!r}")
                remaining = int(match.group(1), 16)
                pos = end + 2
                state = self._DATA if remaining else self._TRAILER
            elif state == self._DATA_END:
                if size - pos < 2:
                    break
                if buffer[pos : pos + 2] != b"\r\n":
                    raise FramingError("chunk data not followed by CRLF")
                pos += 2
                state = self._SIZE
            elif state == self._TRAILER:
                end = buffer.find(b"\r\n", pos)
                if end < 0:
                    if size - pos > MAX_HEAD:
                        raise FramingError("trailers longer than 64 KiB")
                    break
                state = self._DONE if end == pos else self._TRAILER
                pos = end + 2
            else:  # done: what follows belongs to the next response
                self.rest += buffer[pos:]
                pos = size
                break
        self._buffer = buffer[pos:] if pos < size else b""
        self._state, self._remaining = state, remaining
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)
