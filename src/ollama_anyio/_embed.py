"""A pure, incremental decoder for ``/api/embed`` answers: vectors decoded as the body arrives.

An answer to a large batch is mostly its ``"embeddings"`` array (1,000 vectors of 768 floats
are about 9 MB of JSON). Decoding it whole means holding the text and every Python float at
once; this decoder decodes each vector as soon as its closing ``]`` has arrived and drops its
text, so the peak is the vectors plus one read's worth of bytes.

The object around the array (``model``, durations, fields a newer server adds) is kept as text
and decoded at the end, without the array. The array is found by its key, and
only where the text before it is a complete, open top-level object; anything else (no array,
``null``, a nested key of that name) falls back to decoding the whole body at the end.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from ._errors import DECODE_ERRORS, ProtocolError
from ._types import EmbedArraysResponse, EmbedResponse, RawEmbedResponse

__all__ = ["EmbedBodyDecoder", "embed_response", "float32s", "floats"]

V = TypeVar("V")

_KEY = b'"embeddings"'
_SPACE = b" \t\r\n"


class _Object(msgspec.Struct):
    """Any JSON object: its members are skipped (not even decoded as text)."""


class _Later(msgspec.Struct):
    embeddings: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_probe = msgspec.json.Decoder(_Object)
_later = msgspec.json.Decoder(_Later)
_texts = msgspec.json.Decoder(list[msgspec.Raw])


class EmbedBodyDecoder(Generic[V]):
    """Split an embed answer into its vectors and the rest, fed in arbitrary pieces.

    Args:
        vector: turns the JSON text of one vector (``b"[0.1, 0.2]"``) into a vector; it may
            raise ``msgspec.DecodeError`` or ``msgspec.ValidationError``.
        max_vector: the longest text of one vector; a longer one raises `ProtocolError` once
            that much of it is buffered (None: no limit).

    After the last ``feed()``, ``finish()`` returns ``(rest, vectors)``: ``rest`` is the whole
    answer's JSON without its ``"embeddings"`` member, and ``vectors`` the decoded vectors;
    or ``(body, None)`` when the array could not be followed as it arrived, ``body`` being the
    whole answer to decode as usual. Raises ``msgspec.DecodeError`` for a malformed array.
    """

    def __init__(self, vector: Callable[[bytearray], V], max_vector: int | None = None) -> None:
        self._vector = vector
        self._max_vector = max_vector  # the longest text of one vector, in bytes
        self._buffer = bytearray()
        self._head = b""  # the answer's text before the array's key
        self._tail = bytearray()  # its text after the array
        self._state = "head"  # head -> vectors -> tail; or whole, to decode at the end
        self._search_from = 0
        self._expect_vector = True  # in the array: a vector (or its end) comes next
        self.vectors: list[V] = []

    def feed(self, data: bytes) -> None:
        if self._state == "tail":
            self._tail += data
            return
        self._buffer += data
        if self._state == "head":
            self._find_array()
        if self._state == "vectors":
            self._take_vectors()

    def finish(self) -> tuple[bytes, list[V] | None]:
        if self._state == "vectors":
            raise msgspec.DecodeError("the answer ended inside its embeddings")
        if self._state != "tail":
            return bytes(self._buffer), None
        # The answer without the array's member: the comma after it stands for the one before.
        head, tail = self._head.rstrip(_SPACE), bytes(self._tail).lstrip(_SPACE)
        if tail.startswith(b","):
            tail = tail[1:]
        elif tail.startswith(b"}"):
            head = head.removesuffix(b",")
        else:
            raise msgspec.DecodeError(f"unexpected {tail[:20]!r} after the embeddings")
        rest = head + tail
        if _KEY in tail:  # maybe a second member of that name: the last one wins, as in JSON
            later = _later.decode(rest).embeddings
            if later is not msgspec.UNSET:
                return rest, [self._vector(bytearray(text)) for text in _texts.decode(later)]
        return rest, self.vectors

    def _find_array(self) -> None:
        buffer = self._buffer
        while (at := buffer.find(_KEY, self._search_from)) >= 0:
            start = _skip_space(buffer, at + len(_KEY))
            if start >= len(buffer):
                self._search_from = at
                return  # the rest of the key's member has not arrived
            if buffer[start] != ord(":"):
                self._search_from = at + 1  # a string value, not a key
                continue
            start = _skip_space(buffer, start + 1)
            if start >= len(buffer):
                self._search_from = at
                return
            head = bytes(buffer[:at])
            if not _is_open_object(head):
                self._search_from = at + 1
                continue
            if buffer[start] != ord("["):  # null, or something else: decoded whole at the end
                self._state = "whole"
                return
            self._head = head
            del buffer[: start + 1]
            self._state = "vectors"
            return
        self._search_from = max(0, len(buffer) - len(_KEY))

    def _take_vectors(self) -> None:
        buffer, size, position = self._buffer, len(self._buffer), 0
        while (position := _skip_space(buffer, position)) < size:
            char = buffer[position]
            if self._expect_vector and char == ord("["):
                end = buffer.find(b"]", position)
                if end < 0:
                    if self._max_vector is not None and size - position > self._max_vector:
                        raise ProtocolError(
                            f"a vector of the embeddings is longer than the limit of "
                            f"{self._max_vector} bytes"
                        )
                    break  # the vector's end has not arrived
                self.vectors.append(self._vector(buffer[position : end + 1]))
                position = end + 1
                self._expect_vector = False
            elif not self._expect_vector and char == ord(","):
                position += 1
                self._expect_vector = True
            elif char == ord("]") and not (self._expect_vector and self.vectors):
                self._tail += buffer[position + 1 :]
                buffer.clear()
                self._state = "tail"
                return
            else:
                found = bytes(buffer[position : position + 20])
                raise msgspec.DecodeError(f"unexpected {found!r} in the embeddings")
        del buffer[:position]


def _skip_space(buffer: bytearray, position: int) -> int:
    size = len(buffer)
    while position < size and buffer[position] in _SPACE:
        position += 1
    return position


def _is_open_object(head: bytes) -> bool:
    """Whether ``head`` is a top-level JSON object cut just before one of its keys."""
    head = head.rstrip(_SPACE)
    if not head.endswith((b"{", b",")):
        return False
    try:
        _probe.decode(head + b'"":0}')
    except DECODE_ERRORS:
        return False
    return True


_float_lists = msgspec.json.Decoder(list[float])
floats = _float_lists.decode


def float32s(text: bytes | bytearray | msgspec.Raw) -> array.array[float]:
    """One vector's JSON text as an ``array.array("f")``."""
    return array.array("f", _float_lists.decode(text))


def embed_response(
    rest: bytes, vectors: list[Any] | None, *, as_arrays: bool, url: str
) -> EmbedResponse | EmbedArraysResponse:
    """The answer of ``/api/embed`` from what `EmbedBodyDecoder.finish` returned.

    Raises:
        ProtocolError: the answer is not an embed answer.
    """
    try:
        if vectors is None and not as_arrays:  # not followed as it arrived: decoded whole
            return _embed_responses.decode(rest)
        if vectors is None:
            raw = _raw_responses.decode(rest)
            vectors, raw.embeddings = [float32s(vector) for vector in raw.embeddings], []
            response: msgspec.Struct = raw
        else:
            response = _embed_responses.decode(rest)
    except DECODE_ERRORS as exc:
        start = rest[:80].decode("utf-8", errors="replace")
        raise ProtocolError(f"malformed response from {url} ({exc}): {start!r}") from exc
    fields = msgspec.structs.asdict(response)
    fields["embeddings"] = vectors
    return (EmbedArraysResponse if as_arrays else EmbedResponse)(**fields)


_embed_responses = msgspec.json.Decoder(EmbedResponse)
_raw_responses = msgspec.json.Decoder(RawEmbedResponse)
