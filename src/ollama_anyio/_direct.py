"""Replies, and the direct path: requests sent through `AnyIOTransport` without httpx's client.

For each request, httpx's client builds a `Request` (merging URLs and headers, and cookies
through ``urllib``), runs the auth and redirect machinery and event hooks, and wraps the answer
in a `Response`: about 150 µs of a 450 µs call to a local server, more than the transport and
the JSON decoding together. A client built without httpx options has none of those to apply,
so `DirectSender` frames the same request head itself (the same headers, in httpx's order),
once per method and URL, and gives the transport's answer to the client as a `DirectReply`.
Anything it does not handle goes back to httpx: a redirect, a cookie, a compressed body.

The client reads both paths' answers through `Reply`: `HttpxReply` wraps an `httpx.Response`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, cast

import httpx

from ._http11 import ResponseHead
from ._transport import BODY, AnyIOTransport, Body, httpx_response

__all__ = ["DirectReply", "DirectSender", "HttpxReply", "Reply"]

# Statuses after which httpx's client would follow a Location header.
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # sent with Content-Length: 0 when empty


class Reply(Protocol):
    """A response whose body has not been read yet."""

    @property
    def status_code(self) -> int: ...

    def header(self, name: str) -> str | None:
        """The value of the header ``name`` (lower-case), if the response has it."""
        ...

    def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives; the iterator has an ``aclose()``."""
        ...

    async def aread(self) -> bytes:
        """The whole body."""
        ...

    async def aclose(self) -> None:
        """Release the connection (closing it, if the body was not read to its end)."""
        ...


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
        body = self.response.extensions.get(BODY)
        if body is not None and "content-encoding" not in self.response.headers:
            # our transport's body, read without httpx's chain of async generators
            return cast("AsyncIterator[bytes]", body)
        return self.response.aiter_bytes()

    async def aread(self) -> bytes:
        return await self.response.aread()

    async def aclose(self) -> None:
        await self.response.aclose()


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
        return self._body

    async def aread(self) -> bytes:
        pieces = [piece async for piece in self._body]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def aclose(self) -> None:
        await self._body.aclose()


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
        self._routes: dict[tuple[str, str], tuple[tuple[str, str, int], bytes]] = {}

    def _route(self, method: str, url: str) -> tuple[tuple[str, str, int], bytes]:
        """The origin of ``url`` and the head of a request to it, up to its last headers."""
        route = self._routes.get((method, url))
        if route is None:
            parsed = httpx.URL(url)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            origin = (parsed.scheme, parsed.host, port)
            target = parsed.raw_path
            head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), target, parsed.netloc)
            route = (origin, head)
            if len(self._routes) < 64:
                self._routes[(method, url)] = route
        return route

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str] | None,
        timeouts: dict[str, float | None],
    ) -> Reply:
        """Send a request as httpx's client would, and return its answer, body unread."""
        origin, head = self._route(method, url)
        if content is None and method in _BODY_METHODS:
            head += b"Content-Length: 0\r\n"
        head += self._headers
        if headers:
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            head += lines.encode("ascii")
        if content is not None:
            head += b"Content-Length: %d\r\n" % len(content)
        head += b"\r\n"
        response_head, body = await self._transport.request(
            origin, method.encode(), head, b"" if content is None else content, timeouts
        )
        if response_head.header(b"content-encoding") is not None:
            return HttpxReply(httpx_response(response_head, body))  # httpx decompresses
        return DirectReply(response_head, body)
