"""HTTP/1.1 responses without I/O: a reader fed bytes, answering heads, body bytes and decisions.

`ResponseReader` is the client side of one exchange, in the spirit of h11's ``Connection``:
the transport feeds it what the socket gives, and it says when the final head is complete
(interim ``1xx`` heads skipped), how the body is framed, which bytes are body, when the body
has ended, and whether the connection may carry another request. Request heads are written
here too (`request_head`), so every byte rule of the wire is in this module.

Implemented (RFC 9112 unless named):

- §4 status line ``HTTP/1.0`` or ``HTTP/1.1``, three digits (at least ``100``: h11 refuses a
  lower one too), optional reason; §5 header lines ``token ":" OWS value OWS`` with values
  free of NUL, CR, LF, VT and FF.
- §2.2: a head's lines may end in a bare LF instead of CRLF (as h11 accepts them); a lone CR
  is still an error.
- RFC 9110 §15.2: ``1xx`` heads are read and skipped; ``101`` is an error, as we never ask to
  upgrade.
- §6.3 body framing, in its order: no body after HEAD, ``1xx``, ``204`` and ``304``; then
  ``Transfer-Encoding`` (only ``chunked`` is understood: any other coding, or a list, makes the
  length unknowable and is an error, as in h11); then ``Content-Length`` (repeated or listed
  values must agree, §6.3 item 5); else the body runs to the end of the connection.
- §7.1 chunked bodies: extensions ignored, trailer lines checked like header lines and dropped.
- §9.3 persistence: a connection is reused only after an HTTP/1.1 answer without
  ``Connection: close`` whose body was framed by length or chunks and read to its end, with
  nothing after it; never after an answer carrying both ``Transfer-Encoding`` and
  ``Content-Length`` (§6.3 item 3: a sign of response splitting).
- Bounds: a head (each interim one included) of at most 64 KiB, a chunk-size line of at most
  1 KiB, trailers of at most 64 KiB; exceeding one is a `FramingError`.

Left out on purpose: pipelining (one request at a time per connection), upgrades and CONNECT,
obs-fold continuation lines (§5.2, deprecated: an error), bare LF line ends in chunked
framing (h11 refuses them there too), HTTP/0.9 and versions other than 1.0 and 1.1, transfer codings
other than ``chunked`` (content codings, ``Content-Encoding``, are the layer above's).

Why not h11 itself: it costs about 5 µs per chunk, and Ollama sends every line of a stream as
its own chunk. Here a whole chunk costs one regular-expression match; h11 is kept as the oracle
of the differential test (tests/test_http11.py).
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_HEAD",
    "ChunkedDecoder",
    "FramingError",
    "IncompleteBody",
    "ResponseHead",
    "ResponseReader",
    "parse_head",
    "request_head",
]

MAX_HEAD = 64 * 1024
_MAX_SIZE_LINE = 1024
_MAX_LENGTH_DIGITS = 20  # as h11: a longer Content-Length is not a number anyone sends
# A chunk's size line: hex digits (a sign, "0x" or "_", which int() would take, are errors),
# optional extensions (ignored), optional trailing whitespace (as h11 allows).
_CHUNK_START = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?[ \t]*\r\n")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Characters no head may hold: NUL, VT, FF (and CR or LF but as a CRLF pair, see `_clean`).
_CONTROL = re.compile(rb"[\x00\x0b\x0c]")
_OWS = b" \t"


class FramingError(Exception):
    """The bytes from the server are not a well-formed HTTP/1.1 response."""


class IncompleteBody(FramingError):
    """The server closed the connection before the end its framing announced."""


class ResponseHead:
    """A response's status line and headers."""

    __slots__ = ("_index", "_repeated", "headers", "http_version", "reason", "status")

    def __init__(
        self, http_version: bytes, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.http_version = http_version
        self.status = status
        self.reason = reason
        self.headers = headers
        self._index: dict[bytes, bytes] | None = None
        self._repeated: dict[bytes, list[bytes]] = {}  # names given more than once: all values

    def _build_index(self) -> dict[bytes, bytes]:
        index: dict[bytes, bytes] = {}
        for key, value in self.headers:
            key = key.lower()
            if key in index:
                self._repeated.setdefault(key, [index[key]]).append(value)
            index[key] = value
        self._index = index
        return index

    def header(self, name: bytes) -> bytes | None:
        """The value of the last header called ``name`` (lower-case), if any."""
        index = self._index
        if index is None:  # a response's headers are looked up five times or so
            index = self._build_index()
        return index.get(name)

    def values(self, name: bytes) -> list[bytes]:
        """Every comma-separated element of the headers called ``name``, lower-cased."""
        value = self.header(name)
        if value is None:
            return []
        if name in self._repeated:
            value = b",".join(self._repeated[name])
        if b"," not in value:
            return [value.lower()] if value else []
        elements = (element.strip(_OWS).lower() for element in value.split(b","))
        return [element for element in elements if element]

    @property
    def keep_alive(self) -> bool:
        """Whether the server lets the connection persist (RFC 9112 §9.3), framing aside."""
        if self.http_version != b"HTTP/1.1":
            return False  # HTTP/1.0's keep-alive extension is not worth its corner cases (h11)
        return self.header(b"connection") is None or b"close" not in self.values(b"connection")


# The blank line that ends a head: CRLF CRLF, or with bare LFs (RFC 9112 §2.2).
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _head_end(buffer: bytes, start: int) -> tuple[int, int]:
    """Where the head's last line ends (its CR or LF) and where the body starts; -1s if the
    blank line has not come yet."""
    match = _BLANK_LINE.search(buffer, max(0, start - 2))
    if match is None:
        return -1, -1
    end = match.start()
    if end and buffer[end - 1] == 0x0D:  # (b"\r")
        end -= 1
    return end, match.end()


def parse_head(buffer: bytes, searched: int = 0) -> tuple[ResponseHead, bytes] | None:
    """Parse a response head at the start of ``buffer``.

    Returns the head and the bytes after it, or None if the head is not complete yet.
    ``searched``: how much of ``buffer`` is known to hold no end of head (a trickled head is
    then not searched again from its start).

    Raises:
        FramingError: the head is malformed or longer than 64 KiB.
    """
    end, body_start = _head_end(buffer, searched)
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise FramingError("response head longer than 64 KiB")
        return None
    if end > MAX_HEAD:
        raise FramingError("response head longer than 64 KiB")
    block = buffer[:end]
    pairs = block.count(b"\r\n")
    if block.count(b"\n") != pairs:  # some bare LF line ends (§2.2)
        block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        clean = b"\r" not in block and _CONTROL.search(block) is None
    else:  # (what `_clean` checks, its two LF counts made here already)
        lines = block.split(b"\r\n")
        clean = block.count(b"\r") == pairs and _CONTROL.search(block) is None
    status_line = lines[0]
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if (
        version not in (b"HTTP/1.1", b"HTTP/1.0")
        or len(code) != 3
        or not code.isdigit()
        or not code.isascii()
        or code[0] == 0x30  # (b"0": a status below 100 is no HTTP status at all)
    ):
        raise FramingError(f"malformed status line: {status_line[:80]!r}")
    if not clean:
        raise FramingError(f"a control character in the response head: {block[:80]!r}")
    return ResponseHead(version, int(code), reason, _header_lines(lines[1:])), buffer[body_start:]


def _clean(block: bytes) -> bool:
    """Whether ``block`` is free of NUL, VT, FF, and of CR and LF but in CRLF pairs."""
    # (Three counts and a search cost less than one regular expression with lookarounds.)
    pairs = block.count(b"\r\n")
    return (
        block.count(b"\r") == pairs
        and block.count(b"\n") == pairs
        and _CONTROL.search(block) is None
    )


def _header_lines(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Parse header lines, already split on CRLF and free of NUL, VT, FF, lone CR or LF."""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise FramingError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip(_OWS)))
    return headers


class _Empty:
    """No body (HEAD, 204, 304)."""

    __slots__ = ("rest",)
    done = True

    def __init__(self, rest: bytes) -> None:
        self.rest = rest

    def feed(self, data: bytes) -> bytes:
        self.rest += data
        return b""

    def end_of_input(self) -> None:
        return None


class _Length:
    """A body of ``Content-Length`` bytes."""

    __slots__ = ("done", "left", "rest")

    def __init__(self, length: int) -> None:
        self.left = length
        self.done = not length
        self.rest = b""

    def feed(self, data: bytes) -> bytes:
        left = self.left
        if len(data) < left:
            self.left = left - len(data)
            return data
        self.left, self.done = 0, True
        if len(data) > left:
            self.rest += data[left:]
            return data[:left]
        return data

    def end_of_input(self) -> None:
        if not self.done:
            raise IncompleteBody(
                f"the server closed the connection {self.left} bytes before the body's end"
            )


class _UntilClose:
    """A body that ends when the server closes the connection."""

    __slots__ = ("done",)
    rest = b""

    def __init__(self) -> None:
        self.done = False

    def feed(self, data: bytes) -> bytes:
        return data

    def end_of_input(self) -> None:
        self.done = True


class ChunkedDecoder:
    """Decode a ``Transfer-Encoding: chunked`` body fed in arbitrary pieces.

    ``feed(data)`` returns the body bytes that ``data`` completes (possibly empty); once the
    last chunk and the trailers have been read, ``done`` is True and ``rest`` holds any bytes
    after the body.
    """

    __slots__ = ("_buffer", "_remaining", "_state", "_trailers", "rest")

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self) -> None:
        self._buffer = b""
        self._state = self._SIZE
        self._remaining = 0
        self._trailers = 0  # bytes of trailer lines read
        self.rest = b""

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def end_of_input(self) -> None:
        if self._state != self._DONE:
            raise IncompleteBody("the server closed the connection inside a chunked body")

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
                    if buffer[pos:] != b"\r"[: size - pos]:
                        raise FramingError("chunk data not followed by CRLF")
                    break
                if buffer[pos : pos + 2] != b"\r\n":
                    raise FramingError("chunk data not followed by CRLF")
                pos += 2
                state = self._SIZE
            elif state == self._TRAILER:
                end = buffer.find(b"\r\n", pos)
                if end < 0:
                    if self._trailers + size - pos > MAX_HEAD:
                        raise FramingError("trailers longer than 64 KiB")
                    break
                self._trailers += end + 2 - pos
                if self._trailers > MAX_HEAD:
                    raise FramingError("trailers longer than 64 KiB")
                if end == pos:
                    state = self._DONE
                else:  # checked, then dropped
                    line = buffer[pos:end]
                    if not _clean(line):
                        raise FramingError(f"malformed trailer line: {line[:80]!r}")
                    _header_lines([line])
                pos = end + 2
            else:  # done: what follows belongs to no response of ours
                self.rest += buffer[pos:]
                pos = size
                break
        self._buffer = buffer[pos:] if pos < size else b""
        self._state, self._remaining = state, remaining
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)


Body = _Empty | _Length | _UntilClose | ChunkedDecoder


class ResponseReader:
    """The client side of one request's answer: feed bytes, get the head, then the body.

    ``feed_head(data)`` returns the final head once it is complete (None until then); from then
    on ``body`` decodes the body: ``body.feed(data)`` returns body bytes, ``body.done`` says
    when it has ended, ``body.end_of_input()`` is called when the server closes the connection
    (an error if the framing says more was to come). ``reusable`` says, once the body is done,
    whether the connection may carry another request.

    Args:
        method: the request's method (a HEAD answer has no body).
    """

    __slots__ = ("_buffer", "_method", "_searched", "_smuggled", "body", "head", "interim")

    def __init__(self, method: bytes) -> None:
        self._method = method
        self._buffer = b""
        self._searched = 0
        self._smuggled = False
        self.head: ResponseHead | None = None
        self.body: Body = _Empty(b"")
        self.interim = 0  # 1xx heads skipped

    def feed_head(self, data: bytes) -> ResponseHead | None:
        """Take bytes before the final head; return it once complete.

        Raises:
            FramingError: a malformed or too long head, a ``101``, or a body framing that
                cannot be known (see the module docstring).
        """
        buffer = self._buffer + data if self._buffer else data
        while True:
            parsed = parse_head(buffer, self._searched)
            if parsed is None:
                self._buffer, self._searched = buffer, len(buffer)
                return None
            head, buffer = parsed
            self._searched = 0
            if head.status >= 200:
                break
            if head.status == 101:
                raise FramingError("101 Switching Protocols to a request that asked for none")
            self.interim += 1  # RFC 9110 §15.2: an interim answer; the real one follows
        self._buffer = b""
        self.head = head
        self.body = self._framing(head, buffer)
        return head

    def _framing(self, head: ResponseHead, rest: bytes) -> Body:
        # RFC 9112 §6.3, in its order.
        codings = head.values(b"transfer-encoding")
        lengths = head.values(b"content-length")
        if codings and codings != [b"chunked"]:
            raise FramingError(
                f"unsupported Transfer-Encoding {b', '.join(codings).decode('latin-1')!r}"
            )
        if self._method == b"HEAD" or head.status in (204, 304):
            self._check_lengths(lengths)
            return _Empty(rest)
        if codings:
            self._check_lengths(lengths)
            self._smuggled = bool(lengths)
            body: Body = ChunkedDecoder()
        elif lengths:
            body = _Length(self._check_lengths(lengths))
        else:
            body = _UntilClose()
        self._buffer = rest  # see `pop_rest`
        return body

    @staticmethod
    def _check_lengths(lengths: list[bytes]) -> int:
        if not lengths:
            return 0
        if len(set(lengths)) != 1:
            raise FramingError("conflicting Content-Length values")
        length = lengths[0]
        if not (length.isdigit() and length.isascii()) or len(length) > _MAX_LENGTH_DIGITS:
            raise FramingError(f"bad Content-Length: {length[:40]!r}")
        return int(length)

    @property
    def content_length(self) -> int | None:
        """The announced length of the body, if it is framed by one."""
        body = self.body
        return body.left if isinstance(body, _Length) else None

    def pop_rest(self) -> bytes:
        """The bytes that came after the head, undecoded: the start of the body, to feed."""
        rest, self._buffer = self._buffer, b""
        return rest

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request: see the module docstring."""
        head, body = self.head, self.body
        return (
            head is not None
            and body.done
            and not body.rest
            and not isinstance(body, _UntilClose)
            and not self._smuggled
            and head.keep_alive
        )


def request_head(method: bytes, target: bytes, headers: bytes) -> bytes:
    """A request head: the request line, ``headers`` (whole lines, CRLF-ended), a blank line."""
    return b"%s %s HTTP/1.1\r\n%s\r\n" % (method, target, headers)
