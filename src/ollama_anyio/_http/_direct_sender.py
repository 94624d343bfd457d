"""Replies, and the direct path: requests sent through `AnyIOTransport` without httpx's client.

For each request, httpx's client builds a `Request` (merging URLs and headers, and cookies
through ``urllib``), runs the auth and redirect machinery and event hooks, and wraps the answer
in a `Response`: about 150 µs of a 450 µs call to a local server, more than the transport and
the JSON decoding together. A client built without httpx options has none of those to apply,
so `DirectSender` frames the same request head itself (the same headers, in httpx's order),
once per method and URL, and gives the transport's answer to the client as a `DirectReply`.
Redirects are followed by the session from the answer (see `_session`); what only httpx's
client can do (keep a cookie, decode a content coding other than gzip and deflate) hands the
client over to httpx.

The client reads both paths' answers through `Reply`: `HttpxReply` wraps an `httpx.Response`.
Bodies with ``Content-Encoding: gzip`` or ``deflate`` are decompressed here, at most one read's
worth of output at a time, so a decompression bomb is stopped by the caller's size limit.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Protocol, cast

import httpx

from .._errors import Fact, Failure
from ._http11 import ResponseHead, request_head
from ._transport import BODY, AnyIOTransport, Body, httpx_response

__all__ = ["DirectReply", "DirectSender", "HttpxReply", "Reply"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # sent with Content-Length: 0 when empty
_DECODED = frozenset({"gzip", "deflate", "identity"})  # content codings decoded here
_PIECE = 256 * 1024  # the most decompressed output handed out at once


class Reply(Protocol):
    """A response whose body has not been read yet."""

    @property
    def status_code(self) -> int: ...

    def header(self, name: str) -> str | None:
        """The value of the header ``name`` (lower-case), if the response has it."""
        ...

    def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives, decompressed; the iterator has an ``aclose()``."""
        ...

    async def aclose(self) -> None:
        """Release the connection (closing it, if the body was not read to its end)."""
        ...

    def close_now(self) -> bool:
        """Close the connection without an await; False where only an await can."""
        ...

    def bound_by(self, seconds: float) -> bool:
        """Make the whole body arrive within ``seconds``, if it is our transport's (which
        then bounds only the waits it makes); False: the caller must bound it itself."""
        ...


class _Decompressed:
    """The pieces of a gzip or deflate body, decompressed at most `_PIECE` bytes at a time."""

    def __init__(self, raw: AsyncIterator[bytes], coding: str) -> None:
        self._raw = raw
        # gzip: a gzip header; deflate: zlib's header (RFC 9110 §8.4.1.2), or, as servers
        # also send, none: tried when the first bytes are not zlib's.
        self._coding = coding
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)
        self._tail = b""  # input not decompressed yet, for want of room
        self._first = True

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._tail:
                data, self._tail = self._tail, b""
            else:
                try:
                    data = await self._raw.__anext__()
                except StopAsyncIteration:
                    if not self._zlib.eof and self._coding != "identity" and not self._first:
                        raise Failure(Fact.PROTOCOL, "the compressed body is cut short") from None
                    raise
            if self._coding == "identity":
                return data
            out = self._decompress(data)
            if out:
                return out

    def _decompress(self, data: bytes) -> bytes:
        try:
            if self._first and data:
                self._first = False
                if self._coding == "deflate" and (data[0] & 0x0F) != 8:
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            out = self._zlib.decompress(data, _PIECE)
        except zlib.error as exc:
            raise Failure(Fact.PROTOCOL, f"undecodable {self._coding} body: {exc}") from None
        self._tail = self._zlib.unconsumed_tail
        return out

    async def aclose(self) -> None:
        await cast("httpx.AsyncByteStream", self._raw).aclose()


def _coding(value: str | None) -> str | None:
    """The content coding of a body that is decoded here (None: httpx must decode it)."""
    coding = (value or "identity").strip().lower()
    return coding if coding in _DECODED else None


class HttpxReply:
    """An `httpx.Response`, read as a `Reply`."""

    __slots__ = ("response",)

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self.response.headers.get(name)
        return value

    def pieces(self) -> AsyncIterator[bytes]:
        coding = _coding(self.response.headers.get("content-encoding"))
        body = self.response.extensions.get(BODY)
        if body is not None and coding == "identity":
            # our transport's body, read without httpx's chain of async generators
            return cast("AsyncIterator[bytes]", body)
        if coding is not None and not self._read_already:
            return _Decompressed(self.response.aiter_raw(), coding)
        return self.response.aiter_bytes()  # br or zstd, decoded by httpx; or in memory

    @property
    def _read_already(self) -> bool:
        # (A transport may answer with a body already in memory: a MockTransport does.)
        try:
            self.response.content  # noqa: B018
        except httpx.ResponseNotRead:
            return False
        return True

    async def aclose(self) -> None:
        await self.response.aclose()

    def close_now(self) -> bool:
        body = self.response.extensions.get(BODY)
        return isinstance(body, Body) and body.close_now()

    def bound_by(self, seconds: float) -> bool:
        body = self.response.extensions.get(BODY)
        if isinstance(body, Body) and not self._read_already:
            body.timeout = seconds
            return True
        return False


class DirectReply:
    """The transport's answer, as it came: a parsed head and a body read on demand."""

    __slots__ = ("_body", "head")

    def __init__(self, head: ResponseHead, body: Body) -> None:
        self.head = head
        self._body = body

    @property
    def status_code(self) -> int:
        return self.head.status

    def header(self, name: str) -> str | None:
        value = self.head.header(name.encode())
        return None if value is None else value.decode("latin-1")

    def pieces(self) -> AsyncIterator[bytes]:
        coding = self.head.header(b"content-encoding")
        if coding is None:
            return self._body
        return _Decompressed(self._body, _coding(coding.decode("latin-1")) or "identity")

    async def aclose(self) -> None:
        await self._body.aclose()

    def close_now(self) -> bool:
        return self._body.close_now()

    def bound_by(self, seconds: float) -> bool:
        self._body.timeout = seconds
        return True


class DirectSender:
    """Sends requests for one httpx client straight through its `AnyIOTransport`.

    Use it only for a client with no auth, cookies, event hooks, proxies, query parameters or
    other httpx options, which are what httpx's client layer would add to a request.

    Args:
        transport: the client's transport.
        headers: the client's headers (``httpx.AsyncClient.headers``), httpx's defaults included.
    """

    def __init__(self, transport: AnyIOTransport, headers: httpx.Headers) -> None:
        self._transport = transport
        self._headers = b"".join(b"%s: %s\r\n" % pair for pair in headers.raw)
        # Sent to another origin after a redirect, as httpx does: without the Authorization.
        self._headers_elsewhere = b"".join(
            b"%s: %s\r\n" % (name, value)
            for name, value in headers.raw
            if name.lower() != b"authorization"
        )
        self._routes: dict[tuple[str, str], tuple[tuple[str, str, int], bytes, bytes]] = {}

    def _route(self, method: str, url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        """The origin of ``url``, its request target and its Host header line."""
        route = self._routes.get((method, url))
        if route is None:
            parsed = httpx.URL(url)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            origin = (parsed.scheme, parsed.host, port)
            route = (origin, parsed.raw_path, b"Host: %s\r\n" % parsed.netloc)
            if len(self._routes) < 64:
                self._routes[(method, url)] = route
        return route

    @staticmethod
    def must_hand_over(reply: Reply) -> bool:
        """Whether the client must go over to httpx's client from this answer on: it sets a
        cookie, which only httpx's jar keeps and sends back (see `Session`)."""
        return reply.header("set-cookie") is not None

    def handles(self, coding: str | None) -> bool:
        """Whether an answer with this Content-Encoding can be read on the direct path."""
        return coding is None or _coding(coding) is not None

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str] | None,
        timeouts: dict[str, float | None],
        *,
        elsewhere: bool = False,
    ) -> Reply:
        """Send a request as httpx's client would, and return its answer, body unread.

        ``elsewhere``: the request follows a redirect to another origin than the first one's.
        """
        origin, target, host = self._route(method, url)
        lines = host
        if content is None and method in _BODY_METHODS:
            lines += b"Content-Length: 0\r\n"
        lines += self._headers_elsewhere if elsewhere else self._headers
        if headers:
            # (A list, not a generator: join makes one of a generator first anyway.)
            lines += "".join([f"{name}: {value}\r\n" for name, value in headers.items()]).encode(
                "ascii"
            )
        if content is not None:
            lines += b"Content-Length: %d\r\n" % len(content)
        method_bytes = method.encode()
        response_head, body = await self._transport.request(
            origin,
            method_bytes,
            request_head(method_bytes, target, lines),
            b"" if content is None else content,
            timeouts,
        )
        if not self.handles(_header(response_head, b"content-encoding")):
            return HttpxReply(httpx_response(response_head, body))  # httpx decompresses
        return DirectReply(response_head, body)


def _header(head: ResponseHead, name: bytes) -> str | None:
    value = head.header(name)
    return None if value is None else value.decode("latin-1")
