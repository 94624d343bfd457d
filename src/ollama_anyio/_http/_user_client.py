"""The caller's own httpx client (``http_client=``), used as given, never closed by us.

An ``httpx.AsyncClient`` is used directly: its transport, proxies, limits, event hooks, auth and
default headers apply to every request; each request also carries our headers and our timeout
(an httpx client's default of 5 s would cut a model's first token short).

An ``httpx.Client`` (for the blocking `Client`, whose core runs in its portal's event loop) is
used through `ThreadedClient`: each blocking step of it (sending and reading the head, reading
one piece of the body, closing) runs in a worker thread, and its response is handed on as an
``httpx.Response`` with an async body, so that everything above reads it as any other. A step
already running in a thread cannot be interrupted: a cancelled call waits for it (bounded by
the timeouts) before its response is closed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx

from .._errors import RequestError

__all__ = ["ThreadedClient", "UserClient", "user_client"]


class _ThreadedBody(httpx.AsyncByteStream):
    """The raw body of a blocking client's streamed response, read in worker threads."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._pieces: Iterator[bytes] = response.iter_raw()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            piece = await anyio.to_thread.run_sync(next, self._pieces, None)
            if piece is None:
                return
            yield piece

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._response.close)


class ThreadedClient:
    """A blocking ``httpx.Client`` with the part of ``httpx.AsyncClient`` the session uses."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    def build_request(self, method: str, url: httpx.URL, **kwargs: Any) -> httpx.Request:
        return self._client.build_request(method, url, **kwargs)

    async def send(
        self, request: httpx.Request, *, stream: bool, follow_redirects: bool
    ) -> httpx.Response:
        send = functools.partial(
            self._client.send, request, stream=True, follow_redirects=follow_redirects
        )
        response = await anyio.to_thread.run_sync(send)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ThreadedBody(response),
            request=request,
            extensions=response.extensions,
        )


UserClient = httpx.AsyncClient | ThreadedClient


def user_client(value: object, options: dict[str, Any]) -> UserClient:
    """The client to send with, from ``http_client=``.

    Raises:
        RequestError: ``value`` is no httpx client, or httpx options came with it.
    """
    if options:
        names = ", ".join(sorted(options))
        raise RequestError(
            f"http_client= comes configured: pass {names} to the httpx client itself"
        )
    if isinstance(value, httpx.AsyncClient):
        return value
    if isinstance(value, httpx.Client):
        return ThreadedClient(value)
    raise RequestError(
        f"http_client must be an httpx.AsyncClient or httpx.Client, got {type(value).__name__}"
    )
