"""`AsyncCore`: a client's machinery, below its endpoints (``_endpoints``).

Construction (settings read when a client is built), ``with_options``, closing, and the single
send point, `AsyncCore._request`, laid out as the official client's
(``_request(cls, method, path, json=..., stream=...)``): it sends through the session
(``_http._session``: the path a request takes, retries, bounded reading) and decodes the answer
into ``cls``, or with ``stream=True`` returns an `AsyncStream` of ``cls`` chunks.
"""

from __future__ import annotations

import copy as _copy
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import anyio
import anyio.to_thread
import httpx
import msgspec

from . import _config, _requests
from ._async_stream import AsyncStream
from ._embed import EmbedBodyDecoder, embed_response, float32s, floats
from ._errors import DECODE_ERRORS, ProtocolError, RequestError
from ._http import _observe
from ._http._observe import DEFAULT_REQUEST_ID_HEADER, Observer, RequestHook, ResponseHook
from ._http._request_log import configure_logging
from ._http._retry import RetryPolicy
from ._http._session import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_LINE_SIZE, Session
from ._types import (
    ChatResponse,
    EmbedArraysResponse,
    EmbedResponse,
    GenerateResponse,
    ProgressResponse,
    StatusResponse,
)

__all__ = ["AsyncCore"]

T = TypeVar("T")
_C = TypeVar("_C", bound="AsyncCore")

# Bytes one decoded float takes in a list: the float object (24) and its slot (8).
_FLOAT_IN_A_LIST = 32
# And one vector, floats aside: a list's (or an array's) object and its slot in the answer.
_A_VECTOR = 96
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
# Calls that change the server's state: sent again only with retry_writes=True.
_WRITES = ("/api/create", "/api/push", "/api/copy", "/api/delete", "/api/blobs/")


def _decode(response_type: type[T], data: bytes | bytearray, url: str) -> T:
    decoder = _decoders.get(response_type)
    if decoder is None:
        decoder = _decoders[response_type] = msgspec.json.Decoder(response_type)
    try:
        result: T = decoder.decode(data)
    except DECODE_ERRORS as exc:
        start = data[:80].decode("utf-8", errors="replace")
        raise ProtocolError(f"malformed response from {url} ({exc}): {start!r}") from exc
    return result


def _is_done(chunk: GenerateResponse | ChatResponse) -> bool:
    # Newer runners may end a stream with done_reason and metrics but not "done": true
    # (SPEC 9.2); that chunk is the final one, and it says so to code that checks .done.
    if chunk.done:
        return True
    if chunk.done_reason:
        chunk.done = True
        return True
    return False


def _is_success(chunk: ProgressResponse) -> bool:
    return chunk.status == "success"


# What ends a stream of each type: a chunk that is done, or a progress line saying success.
_IS_FINAL: dict[type[Any], Callable[[Any], bool]] = {
    GenerateResponse: _is_done,
    ChatResponse: _is_done,
    ProgressResponse: _is_success,
}
# /api/embed answers are decoded as they arrive, each vector as a list or an array.
_EMBED_VECTORS: dict[type[Any], Callable[[Any], Any]] = {
    EmbedResponse: floats,
    EmbedArraysResponse: float32s,
}


def _path(url: str) -> str:
    """The API path of a URL (``/api/chat``), after the base URL's own path, if any."""
    rest = url.split("://", 1)[-1]
    path = rest[rest.find("/") :] if "/" in rest else "/"
    index = path.find("/api/")
    return path[index:] if index > 0 else path


def _is_cached(cls: type[Any], name: str) -> bool:
    return isinstance(getattr(cls, name, None), functools.cached_property)


class AsyncCore:
    """A client's machinery: its session, options, streams, lifecycle and send point.

    It takes the arguments of `AsyncClient` (see there); `AsyncEndpoints` adds the endpoints.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        follow_redirects: bool = True,
        timeout: Any = _config.DEFAULT,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        retry_writes: bool = False,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        request_id_header: str | None = DEFAULT_REQUEST_ID_HEADER,
        on_request: RequestHook | Sequence[RequestHook] | None = None,
        on_response: ResponseHook | Sequence[ResponseHook] | None = None,
        http_client: httpx.AsyncClient | httpx.Client | None = None,
        **kwargs: Any,
    ) -> None:
        configure_logging()  # OLLAMA_ANYIO_LOG: read when a client is built, never at import
        try:
            retry = RetryPolicy(max_retries, retry_backoff, retry_writes)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"invalid retry settings: {exc}") from None
        client_headers = _config.build_headers(headers)
        self._session = Session(
            _config.host_from_env(host),
            headers=client_headers,
            api_key=_config.api_key_from_env(api_key),
            api_key_to_host=api_key is not None,
            timeout=_config.default_timeout() if timeout is _config.DEFAULT else timeout,
            retry=retry,
            follow_redirects=follow_redirects,
            max_line_size=max_line_size,
            max_body_size=max_body_size,
            options=kwargs,
            observer=Observer(client_headers, request_id_header, on_request, on_response),
            http_client=http_client,
        )
        self._base_url = self._session.base_url
        self._streams: weakref.WeakSet[AsyncStream[Any]] = weakref.WeakSet()

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:11434``."""
        return self._base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._base_url}>"

    def with_options(
        self: _C, *, timeout: Any = _config.DEFAULT, max_retries: int | None = None
    ) -> _C:
        """A view of this client, sharing its connections, whose calls use other options.

        ``client.with_options(timeout=5).chat(...)`` gives one call its own timeout;
        ``max_retries=0`` turns retries off for it.
        """
        clone = _copy.copy(self)
        # The helper groups cached on this client see this client: the view builds its own.
        for name in [n for n in vars(clone) if _is_cached(type(clone), n)]:
            del vars(clone)[name]
        retry = self._session.retry
        clone._session = self._session.with_options(
            timeout=timeout,
            retry=None
            if max_retries is None
            else RetryPolicy(max_retries, retry.backoff, retry.retry_writes),
        )
        return clone

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every stream still open and every connection."""
        for stream in list(self._streams):
            await stream.aclose()
        await self._session.aclose()

    async def close(self) -> None:
        """The same as `aclose` (the official ``AsyncClient`` names it ``close``)."""
        await self.aclose()

    # -----------------------------------------------------------------------------------------
    # The send point: every endpoint ends in one call of `_request`

    @overload
    async def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        content: Any = None,
    ) -> T: ...

    @overload
    async def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        content: Any = None,
    ) -> AsyncStream[T]: ...

    @overload
    async def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool,
        content: Any = None,
    ) -> T | AsyncStream[T]: ...

    async def _request(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool = False,
        content: Any = None,
    ) -> T | AsyncStream[T]:
        """Send one request and decode its answer: the one place every endpoint sends from.

        Args:
            cls: what the answer decodes to: a response Struct (`EmbedResponse` and
                `EmbedArraysResponse` are decoded as they arrive; `StatusResponse` is the
                status alone, the body unread).
            method: the HTTP method.
            path: the path under the server's base URL, or a whole ``https://`` URL (web
                search through ollama.com, which needs an API key).
            json: the request body, a request Struct (or anything msgspec encodes), encoded
                here and nowhere else.
            stream: return an `AsyncStream` of ``cls`` chunks, opened when first read.
            content: a body already in bytes, or an async iterable of pieces (a blob).

        Raises:
            RequestError: ``path`` is on ollama.com and the client has no API key.
            ResponseError: the server answered with an error.
        """
        if path[0] == "/":
            url = self._base_url + path
        elif self._session.has_credentials:
            url = path
        else:
            raise RequestError(
                "web_search and web_fetch need an ollama.com API key: set OLLAMA_API_KEY or "
                "pass api_key="
            )
        if type(json) is _requests.JsonBody:
            json = json.struct  # (the Struct itself: encoded directly, and read by telemetry)
        if json is not None:
            content = _requests.encoder.encode(json)
        idempotent = not path.startswith(_WRITES)
        session = self._session
        # OpenTelemetry (`_otel`) gets each call while instrumented: one check when not.
        telemetry = _observe.telemetry
        if stream:
            opened = AsyncStream(
                lambda: session.send(method, url, content, idempotent=idempotent),
                cls,
                _IS_FINAL.get(cls, _is_done),
                url,
                read_timeout=session.timeouts["read"],
                max_line_size=session.limits(url).line,
                max_accumulated=session.limits(url).body,
                owner=self,
                watch=None if telemetry is None else telemetry.stream(url, _path(url), json),
            )
            self._streams.add(opened)
            return opened
        if telemetry is not None:
            return await telemetry.call(  # type: ignore[no-any-return]
                method,
                url,
                _path(url),
                json,
                lambda: self._answer(cls, method, url, content, idempotent),
            )
        if cls in _EMBED_VECTORS or cls is StatusResponse:
            return await self._answer(cls, method, url, content, idempotent)
        # (`_answer`'s common case, without its own coroutine: this is every chat's path.)
        return _decode(cls, await session.read(method, url, content, idempotent=idempotent), url)

    async def _answer(
        self, cls: type[T], method: str, url: str, content: Any, idempotent: bool
    ) -> T:
        """Send a request answered whole and decode the answer into ``cls`` (`_request`)."""
        session = self._session
        vector = _EMBED_VECTORS.get(cls)
        if vector is not None:
            rest, vectors = await self._read_embed(url, content, vector)
            answer: Any = embed_response(
                rest, vectors, as_arrays=cls is EmbedArraysResponse, url=url
            )
            return answer  # type: ignore[no-any-return]
        data = await session.read(method, url, content, idempotent=idempotent)
        if cls is StatusResponse:
            return StatusResponse(status="success")  # type: ignore[return-value]
        return _decode(cls, data, url)

    # The blocking Client's own `_request` crosses into this, not into `_request`: a wrapper on
    # `AsyncClient._request` sees each async call once, and no blocking call.
    _send = _request

    async def _read_embed(
        self, url: str, content: bytes, vector: Callable[[Any], Any]
    ) -> tuple[bytes, list[Any] | None]:
        """Send an embed request and decode its vectors as they arrive (see `_embed`).

        What the vectors take is weighed before each is decoded (a float is 32 bytes in a list
        and its slot, 4 in an array, and each vector is a list while it is decoded; a vector
        itself about 96): past the decode budget (see `_http._limits`) the answer is a
        `ProtocolError`.
        """
        session = self._session
        limits = session.limits(url)
        budget = session.decode_budget(limits)
        kept = 4 if vector is float32s else _FLOAT_IN_A_LIST
        spent = 0

        def weighed(text: Any) -> Any:
            nonlocal spent
            count = text.count(b",") + 1
            spent += count * kept + _A_VECTOR
            if spent > budget or count * _FLOAT_IN_A_LIST > budget:
                raise ProtocolError(
                    f"the embeddings from {url} would take more than the limit of "
                    f"{budget >> 20} MiB to decode"
                )
            return vector(text)

        reply = await session.send("POST", url, content)
        # A vector's text has at least 2 bytes a float: one that could not be decoded within
        # the budget is refused as it grows, not once it is all here.
        decoder = EmbedBodyDecoder(weighed, max_vector=budget // _FLOAT_IN_A_LIST * 2)
        try:
            await session.each_piece(reply, url, decoder.feed, limits)
            rest, vectors = decoder.finish()
            session.check_density(rest, url, limits)  # (the whole answer, if vectors is None)
            return rest, vectors
        except DECODE_ERRORS as exc:
            raise ProtocolError(f"malformed response from {url} ({exc})") from exc
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()

    @staticmethod
    async def _build_body_in_thread_if(
        reads_files: bool, build: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """The request body ``build(*args, **kwargs)`` makes, built in a worker thread when it
        ``reads_files`` (images named by a path: reading them must not block the event loop)."""
        if reads_files:
            return await anyio.to_thread.run_sync(lambda: build(*args, **kwargs))
        return build(*args, **kwargs)
