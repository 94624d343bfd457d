"""`AsyncClient`: every endpoint of the Ollama API, on anyio (trio or asyncio).

Each endpoint is three steps: build and check the body (`_requests`, pure), send it
(`AsyncClient._send`, the one place that sends requests: straight to our transport when httpx's
client layer has nothing to add, see `_direct`, else through httpx), and decode the answer (a
msgspec decoder, the incremental `_embed` decoder, or an `AsyncStream` for streamed answers).
"""

from __future__ import annotations

import array
import builtins
import copy as _copy
import hashlib
import logging
import os
import time
import urllib.request
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx
import msgspec

from . import _batch, _config, _management, _requests
from ._async_stream import AsyncStream
from ._direct import REDIRECTS, DirectReply, DirectSender, HttpxReply, Reply
from ._embed import EmbedBodyDecoder
from ._errors import (
    DECODE_ERRORS,
    OllamaConnectionError,
    OllamaTimeoutError,
    ProtocolError,
    RequestError,
    ResponseError,
    response_error,
    translate_errors,
)
from ._progress import TransferProgress
from ._raw import configure_logging, observe, reply_headers
from ._retry import RETRY_STATUSES, RetryPolicy, is_unsent
from ._status_errors import UsageLimitError
from ._transport import AnyIOTransport
from ._types import (
    ChatResponse,
    EmbedArraysResponse,
    EmbeddingsResponse,
    EmbedResponse,
    Format,
    GenerateResponse,
    ImageLike,
    KeepAlive,
    ListResponse,
    Message,
    OptionsArg,
    ProcessResponse,
    ProgressResponse,
    RawEmbedResponse,
    ShowResponse,
    StatusResponse,
    Think,
    ToolLike,
    VersionResponse,
    WebFetchResponse,
    WebSearchResponse,
)

if TYPE_CHECKING:
    from ._generated_raw import AsyncRawClient

__all__ = ["AsyncClient"]

logger = logging.getLogger("ollama_anyio")

T = TypeVar("T")

_WEB_URL = "https://ollama.com"
_BLOB_CHUNK = 1 << 20
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decode(type: type[T], data: bytes | bytearray, url: str) -> T:
    decoder = _decoders.get(type)
    if decoder is None:
        decoder = _decoders[type] = msgspec.json.Decoder(type)
    try:
        result: T = decoder.decode(data)
    except DECODE_ERRORS as exc:
        start = data[:80].decode("utf-8", errors="replace")
        raise ProtocolError(f"malformed response from {url} ({exc}): {start!r}") from exc
    return result


# Options that shape httpx's own transport: with any of them, httpx builds it as usual and
# our AnyIOTransport is not used. (``proxy=`` needs no entry: httpx mounts it over ours.)
_TRANSPORT_OPTIONS = frozenset(
    {"transport", "verify", "cert", "http1", "http2", "limits", "mounts"}
)


class _Pool:
    """The httpx client (its connection pool), shared by a client and its `with_options` views.

    Our transport's plain connections belong to no event loop, so one pool serves a client
    used from one loop after another (a second ``asyncio.run()``, where the official client
    fails with "Event loop is closed"). httpx's own transport keeps connections bound to the
    loop that opened them: with it (``per_loop``), a new loop gets a new pool, and the old
    pool's idle sockets are left to the garbage collector, as nothing can close them without
    their loop.
    """

    def __init__(
        self,
        factory: Callable[[], httpx.AsyncClient],
        *,
        per_loop: bool,
        direct: Callable[[httpx.AsyncClient], DirectSender] | None = None,
    ) -> None:
        self._factory = factory
        self._http = factory()
        self._per_loop = per_loop
        self._loop: object = None
        # Requests skip httpx's client layer (see `_direct`) while this is set.
        self.direct = None if direct is None else direct(self._http)

    def get(self) -> httpx.AsyncClient:
        if self._per_loop:
            loop = anyio.lowlevel.current_token()
            if loop != self._loop:
                if self._loop is not None:
                    self._http = self._factory()
                self._loop = loop
        return self._http

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        if not self._per_loop or self._loop in (None, anyio.lowlevel.current_token()):
            await self._http.aclose()
        else:  # its loop has ended: forget it (see above), and refuse further use
            self._http = self._factory()
            await self._http.aclose()


_httpx_logger = logging.getLogger("httpx")
# Headers the direct path writes itself; given by the caller, httpx's rules decide instead.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


def _proxies_in_environment() -> bool:
    proxies = urllib.request.getproxies()  # what httpx reads, too
    return any(scheme in proxies for scheme in ("http", "https", "all"))


_float_lists = msgspec.json.Decoder(list[float])
_floats = _float_lists.decode


def _float32s(text: bytes | bytearray | msgspec.Raw) -> array.array[float]:
    return array.array("f", _float_lists.decode(text))


def _is_done(chunk: GenerateResponse | ChatResponse) -> bool:
    return chunk.done


def _is_success(chunk: ProgressResponse) -> bool:
    return chunk.status == "success"


class AsyncClient:
    """A client for one Ollama server, for trio and asyncio applications.

    Args:
        host: the server, in any form ``OLLAMA_HOST`` accepts (``"localhost:11434"``,
            ``"https://example.com/ollama"``); default ``OLLAMA_HOST``, else
            ``http://127.0.0.1:11434``.
        timeout: an ``httpx.Timeout``, a number of seconds, or None for no timeout. The default
            gives up connecting after 10 s and waits up to 600 s between bytes, as a local
            model may take minutes to load.
        headers: headers sent with every request.
        api_key: a key for ollama.com (default ``OLLAMA_API_KEY``). From the environment it is
            sent only to https://ollama.com; given here, it is sent to ``host`` as well.
        max_retries: how many times a request the server cannot have acted on is tried again
            (connection refused, 429, 502, 503), after ``retry_backoff`` seconds, doubling,
            with jitter, or as ``Retry-After`` says. Never after a response body has begun.
        retry_writes: also retry ``create``, ``push``, ``copy`` and ``delete``.
        follow_redirects, **kwargs: passed on to ``httpx.AsyncClient`` (e.g. ``transport``,
            ``verify``, ``proxy``).

    Use it as ``async with AsyncClient() as client:``, or call ``aclose()`` when done.
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
        **kwargs: Any,
    ) -> None:
        configure_logging()  # OLLAMA_ANYIO_LOG: read when a client is built, never at import
        self._base_url = _config.host_from_env(host)
        self._headers = _config.build_headers(headers)
        self._api_key = _config.api_key_from_env(api_key)
        self._api_key_to_host = api_key is not None
        self._timeout = _config.default_timeout() if timeout is _config.DEFAULT else timeout
        self._timeouts = _config.timeouts(self._timeout)  # checked; used by the direct path
        try:
            self._retry = RetryPolicy(max_retries, retry_backoff, retry_writes)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"invalid retry settings: {exc}") from None
        # httpx ignores proxies from the environment when given a transport: with one set,
        # httpx's own transport is used, as it routes by them (NO_PROXY included).
        ours = not _TRANSPORT_OPTIONS & kwargs.keys() and not (
            kwargs.get("trust_env", True) and _proxies_in_environment()
        )
        # With no httpx option at all, httpx's client layer has nothing to add (see `_direct`).
        # (The base URL never has credentials: parse_host drops them.)
        direct = ours and not kwargs and not _FRAMING_HEADERS & self._headers.keys()
        self._follow_redirects = follow_redirects

        def new_http_client() -> httpx.AsyncClient:
            if ours:  # a new transport for each pool: pools never share connections
                kwargs["transport"] = AnyIOTransport()
            return httpx.AsyncClient(
                follow_redirects=follow_redirects,
                timeout=self._timeout,
                headers=self._headers,
                **kwargs,
            )

        self._pool = _Pool(
            new_http_client,
            per_loop=not ours,
            direct=(
                (lambda http: DirectSender(kwargs["transport"], http.headers)) if direct else None
            ),
        )
        self._timeout_is_default = True  # the pool's httpx client has self._timeout
        self._urls: dict[str, httpx.URL] = {}
        self._key_to_base_url = self._api_key_to_host or _config.is_ollama_com(self._base_url)
        self._streams: weakref.WeakSet[AsyncStream[Any]] = weakref.WeakSet()

    @property
    def base_url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:11434``."""
        return self._base_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._base_url}>"

    def with_options(
        self, *, timeout: Any = _config.DEFAULT, max_retries: int | None = None
    ) -> AsyncClient:
        """A view of this client, sharing its connections, whose calls use other options.

        ``client.with_options(timeout=5).chat(...)`` gives one call its own timeout;
        ``max_retries=0`` turns retries off for it.
        """
        clone = _copy.copy(self)
        if timeout is not _config.DEFAULT:
            clone._timeouts = _config.timeouts(timeout)
            clone._timeout = timeout
            clone._timeout_is_default = False
        if max_retries is not None:
            clone._retry = RetryPolicy(max_retries, self._retry.backoff, self._retry.retry_writes)
        return clone

    @property
    def with_raw_response(self) -> AsyncRawClient:
        """The same endpoints, each returning a `RawResponse`: the result, with the HTTP
        status, headers and elapsed time of its answer (``await
        client.with_raw_response.chat(...)``). Streaming calls are left out: a stream
        has ``status_code`` and ``headers`` of its own."""
        from ._generated_raw import AsyncRawClient

        return AsyncRawClient(self)

    async def __aenter__(self) -> AsyncClient:
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
        with anyio.CancelScope(shield=True):
            await self._pool.aclose()

    # -----------------------------------------------------------------------------------------
    # Transport: the one place that sends requests

    def _request_headers(self, url: str) -> dict[str, str] | None:
        """The headers one request adds to the client's: the API key, where it may go."""
        if not self._api_key or "authorization" in self._headers:
            return None
        if url.startswith(self._base_url):
            allowed = self._key_to_base_url
        else:
            allowed = _config.is_ollama_com(url)
        if not allowed:
            return None
        _config.check_header("authorization", self._api_key, shown="OLLAMA_API_KEY")
        return {"authorization": f"Bearer {self._api_key}"}

    def _url(self, url: str) -> httpx.URL:
        # Parsing a URL is a good part of httpx's cost per request; there are few of them.
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) < 64:
                self._urls[url] = parsed
        return parsed

    async def _send(self, method: str, url: str, content: Any, *, writes: bool = False) -> Reply:
        """Send a request and return the response with its body unread, or raise.

        A status of 400 or more raises `ResponseError`. Failures that the server cannot have
        acted on are retried (see `RetryPolicy`); ``writes`` marks a call that changes the
        server's state.
        """
        http = self._pool.get()
        started = time.perf_counter()
        may_go_direct = (
            isinstance(content, (bytes, type(None)))  # not a streamed upload
            and not http.is_closed
            and not _httpx_logger.isEnabledFor(logging.INFO)  # nobody reads httpx's request log
        )
        attempt = 0
        while True:
            # Read again on each attempt: the previous answer may have set a cookie.
            direct = self._pool.direct if may_go_direct else None
            try:
                with translate_errors(url):
                    if direct is not None:
                        reply = await direct.send(
                            method, url, content, self._request_headers(url), self._timeouts
                        )
                    else:
                        request = http.build_request(
                            method,
                            self._url(url),
                            content=content,
                            headers=self._request_headers(url),
                            timeout=httpx.USE_CLIENT_DEFAULT
                            if self._timeout_is_default
                            else self._timeout,
                        )
                        reply = HttpxReply(await http.send(request, stream=True))
            except (OllamaConnectionError, OllamaTimeoutError) as exc:
                if not (is_unsent(exc) and self._retry.allows(attempt, writes=writes)):
                    observe(method, url, None, started, attempt, exc)
                    raise
                delay, reason = self._retry.delay(attempt), str(exc)
            else:
                if direct is not None and self._leave_direct_path(reply, method, url):
                    await reply.aclose()
                    may_go_direct = False  # and the same attempt again, through httpx
                    continue
                if reply.status_code < 400:
                    observe(method, url, reply, started, attempt)
                    return reply
                try:
                    with translate_errors(url):
                        body = await reply.aread()
                finally:
                    with anyio.CancelScope(shield=True):
                        await reply.aclose()
                error = response_error(body, reply.status_code, reply_headers(reply))
                if (
                    reply.status_code not in RETRY_STATUSES
                    or isinstance(error, UsageLimitError)  # cannot succeed in seconds
                    or not self._retry.allows(attempt, writes=writes)
                ):
                    observe(method, url, reply, started, attempt)
                    raise error
                delay = self._retry.delay(attempt, reply.header("retry-after"))
                reason = str(error)
            attempt += 1
            logger.debug(
                "%s %s failed (%s); retry %d of %d in %.2f s",
                method,
                url,
                reason,
                attempt,
                self._retry.max_retries,
                delay,
            )
            await anyio.sleep(delay)

    def _leave_direct_path(self, reply: Reply, method: str, url: str) -> bool:
        """Whether an answer on the direct path needs httpx's client after all.

        A redirect to follow is followed by httpx: the request is sent again through it (a
        server answers a redirect without acting on the request). A cookie is kept in httpx's
        jar, and from then on every request goes through httpx, which sends it.
        """
        if (
            self._follow_redirects
            and reply.status_code in REDIRECTS
            and reply.header("location") is not None
        ):
            return True
        if reply.header("set-cookie") is not None:
            if isinstance(reply, DirectReply):
                headers: Any = reply.head.headers
            else:  # a compressed answer, already wrapped for httpx to decompress
                headers = cast(HttpxReply, reply).response.headers
            response = httpx.Response(
                reply.status_code, headers=headers, request=httpx.Request(method, url)
            )
            self._pool.get().cookies.extract_cookies(response)
            self._pool.direct = None
        return False

    async def _read(
        self, method: str, url: str, content: Any = None, *, writes: bool = False
    ) -> bytes:
        """Send a request and return the whole body of its answer."""
        reply = await self._send(method, url, content, writes=writes)
        try:
            with translate_errors(url):
                return await reply.aread()
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()

    async def _call(self, type: type[T], method: str, path: str, body: Any = None) -> T:
        url = self._base_url + path
        content = None if body is None else _requests.encoder.encode(body)
        return _decode(type, await self._read(method, url, content), url)

    def _stream(
        self, type: type[T], path: str, body: Any, is_final: Callable[[T], bool]
    ) -> AsyncStream[T]:
        url = self._base_url + path
        content = _requests.encoder.encode(body)
        stream = AsyncStream(lambda: self._send("POST", url, content), type, is_final, url)
        self._streams.add(stream)
        return stream

    async def _maybe_stream(
        self, type: type[T], path: str, body: Any, stream: bool, is_final: Callable[[T], bool]
    ) -> T | AsyncStream[T]:
        if stream:
            return self._stream(type, path, body, is_final)
        return await self._call(type, "POST", path, body)

    @staticmethod
    async def _build_body_in_thread_if(
        reads_files: bool, build: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """The request body ``build(*args, **kwargs)`` makes, built in a worker thread when it
        ``reads_files`` (images named by a path: reading them must not block the event loop)."""
        if reads_files:
            return await anyio.to_thread.run_sync(lambda: build(*args, **kwargs))
        return build(*args, **kwargs)

    # -----------------------------------------------------------------------------------------
    # Generation

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[False] = False,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format | None = None,
        images: Sequence[ImageLike] | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse: ...

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: Literal[True],
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format | None = None,
        images: Sequence[ImageLike] | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> AsyncStream[GenerateResponse]: ...

    @overload
    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format | None = None,
        images: Sequence[ImageLike] | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]: ...

    async def generate(
        self,
        model: str = "",
        prompt: str | None = None,
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        raw: bool | None = None,
        format: Format | None = None,
        images: Sequence[ImageLike] | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | AsyncStream[GenerateResponse]:
        """Complete a prompt (``POST /api/generate``).

        With ``stream=True``, returns an `AsyncStream` of chunks; else the whole answer.
        An empty prompt only loads the model (``keep_alive=0``: unloads it).

        Raises:
            RequestError: an argument is invalid (nothing was sent).
            ResponseError: the server answered with an error.
        """
        body = await self._build_body_in_thread_if(
            _requests.needs_io(images=images),
            _requests.generate,
            model,
            prompt,
            suffix,
            system=system,
            template=template,
            context=context,
            stream=stream,
            think=think,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            raw=raw,
            format=format,
            images=images,
            options=options,
            keep_alive=keep_alive,
            truncate=truncate,
            shift=shift,
            width=width,
            height=height,
            steps=steps,
        )
        return await self._maybe_stream(GenerateResponse, "/api/generate", body, stream, _is_done)

    @overload
    async def chat(
        self,
        model: str = "",
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        tools: Sequence[ToolLike] | None = None,
        stream: Literal[False] = False,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse: ...

    @overload
    async def chat(
        self,
        model: str = "",
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        tools: Sequence[ToolLike] | None = None,
        stream: Literal[True],
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> AsyncStream[ChatResponse]: ...

    @overload
    async def chat(
        self,
        model: str = "",
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        tools: Sequence[ToolLike] | None = None,
        stream: bool,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]: ...

    async def chat(
        self,
        model: str = "",
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        tools: Sequence[ToolLike] | None = None,
        stream: bool = False,
        think: Think | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncStream[ChatResponse]:
        """Answer a conversation (``POST /api/chat``).

        ``messages`` are mappings or `Message` objects; ``tools`` are `Tool` objects, mappings,
        or plain Python functions (described from their signature and docstring). With
        ``stream=True``, returns an `AsyncStream` of chunks; else the whole answer.

        Raises:
            RequestError: an argument is invalid (nothing was sent).
            ResponseError: the server answered with an error.
        """
        body = await self._build_body_in_thread_if(
            _requests.needs_io(messages=messages),
            _requests.chat,
            model,
            messages,
            tools=tools,
            stream=stream,
            think=think,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            format=format,
            options=options,
            keep_alive=keep_alive,
            truncate=truncate,
            shift=shift,
        )
        return await self._maybe_stream(ChatResponse, "/api/chat", body, stream, _is_done)

    @overload
    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
        *,
        as_arrays: Literal[False] = False,
    ) -> EmbedResponse: ...

    @overload
    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
        *,
        as_arrays: Literal[True],
    ) -> EmbedArraysResponse: ...

    @overload
    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
        *,
        as_arrays: bool,
    ) -> EmbedResponse | EmbedArraysResponse: ...

    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
        *,
        as_arrays: bool = False,
    ) -> EmbedResponse | EmbedArraysResponse:
        """Embed one text or several (``POST /api/embed``): one vector per input, in order.

        With ``as_arrays=True`` each vector is an ``array.array("f")`` (see
        `EmbedArraysResponse`), for large batches headed for numpy or a vector store.
        """
        body = _requests.embed(
            model,
            input,
            truncate=truncate,
            options=options,
            keep_alive=keep_alive,
            dimensions=dimensions,
        )
        url = self._base_url + "/api/embed"
        rest, vectors = await self._read_embed(url, body, _float32s if as_arrays else _floats)
        if vectors is None and not as_arrays:  # not followed as it arrived: decoded whole
            return _decode(EmbedResponse, rest, url)
        if vectors is None:
            raw = _decode(RawEmbedResponse, rest, url)
            vectors, raw.embeddings = [_float32s(vector) for vector in raw.embeddings], []
            response: msgspec.Struct = raw
        else:
            response = _decode(EmbedResponse, rest, url)
        fields = msgspec.structs.asdict(response)
        fields["embeddings"] = vectors
        return (EmbedArraysResponse if as_arrays else EmbedResponse)(**fields)

    async def _read_embed(
        self, url: str, body: Any, vector: Callable[[Any], Any]
    ) -> tuple[bytes, list[Any] | None]:
        """Send an embed request and decode its vectors as they arrive (see `_embed`)."""
        reply = await self._send("POST", url, _requests.encoder.encode(body))
        pieces = reply.pieces()
        decoder = EmbedBodyDecoder(vector)
        try:
            with translate_errors(url):
                async for piece in pieces:
                    decoder.feed(piece)
            return decoder.finish()
        except DECODE_ERRORS as exc:
            raise ProtocolError(f"malformed response from {url} ({exc})") from exc
        finally:
            with anyio.CancelScope(shield=True):
                await pieces.aclose()  # type: ignore[attr-defined]
                await reply.aclose()

    async def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:
        """Embed one text with the legacy endpoint (``POST /api/embeddings``)."""
        body = _requests.embeddings(model, prompt, options=options, keep_alive=keep_alive)
        return await self._call(EmbeddingsResponse, "POST", "/api/embeddings", body)

    # -----------------------------------------------------------------------------------------
    # Models

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Download a model from a registry (``POST /api/pull``), with progress if streamed."""
        body = _requests.pull(model, insecure=insecure, stream=stream)
        return await self._maybe_stream(ProgressResponse, "/api/pull", body, stream, _is_success)

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: Literal[False] = False
    ) -> ProgressResponse: ...

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: Literal[True]
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def push(
        self, model: str, *, insecure: bool = False, stream: bool
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Upload a model to a registry (``POST /api/push``), with progress if streamed."""
        body = _requests.push(model, insecure=insecure, stream=stream)
        return await self._maybe_stream(ProgressResponse, "/api/push", body, stream, _is_success)

    @overload
    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg | None = None,
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        stream: Literal[False] = False,
    ) -> ProgressResponse: ...

    @overload
    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg | None = None,
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        stream: Literal[True],
    ) -> AsyncStream[ProgressResponse]: ...

    @overload
    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg | None = None,
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        stream: bool,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]: ...

    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: Mapping[str, str] | None = None,
        adapters: Mapping[str, str] | None = None,
        template: str | None = None,
        license: str | Sequence[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg | None = None,
        messages: Sequence[Mapping[str, Any] | Message] | None = None,
        *,
        stream: bool = False,
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Create a model from an existing one (``from_``) or from uploaded blobs (``files``)."""
        body = await self._build_body_in_thread_if(
            _requests.needs_io(messages=messages),
            _requests.create,
            model,
            quantize=quantize,
            from_=from_,
            files=files,
            adapters=adapters,
            template=template,
            license=license,
            system=system,
            parameters=parameters,
            messages=messages,
            stream=stream,
        )
        return await self._maybe_stream(ProgressResponse, "/api/create", body, stream, _is_success)

    async def create_blob(self, path: str | os.PathLike[str]) -> str:
        """Upload a file as a blob (``POST /api/blobs/:digest``) and return its digest.

        The file is hashed and sent in pieces, in a worker thread, never whole in memory.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise RequestError(f"path must be a str or a path, got {type(path).__name__}")
        file = Path(path)

        def digest_file() -> str:
            sha256 = hashlib.sha256()
            with file.open("rb") as f:
                while chunk := f.read(_BLOB_CHUNK):
                    sha256.update(chunk)
            return f"sha256:{sha256.hexdigest()}"

        try:
            digest = await anyio.to_thread.run_sync(digest_file)
        except OSError as exc:
            raise RequestError(f"cannot read {str(file)!r}: {exc.strerror or exc}") from exc

        async def content() -> Any:
            async with await anyio.open_file(file, "rb") as f:
                while chunk := await f.read(_BLOB_CHUNK):
                    yield chunk

        # The body is a one-shot generator: an upload is never retried.
        await self._read("POST", f"{self._base_url}/api/blobs/{digest}", content(), writes=True)
        return digest

    async def blob_exists(self, digest: str) -> bool:
        """Whether the server holds the blob ``digest`` (``HEAD /api/blobs/:digest``)."""
        url = f"{self._base_url}/api/blobs/{_requests.check_digest(digest)}"
        try:
            await self._read("HEAD", url)
        except ResponseError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    async def list(self) -> ListResponse:
        """The models stored on the server (``GET /api/tags``)."""
        return await self._call(ListResponse, "GET", "/api/tags")

    async def show(self, model: str, *, verbose: bool | None = None) -> ShowResponse:
        """A model's details, template, parameters and metadata (``POST /api/show``).

        ``verbose=True`` also returns large array metadata such as the tokenizer vocabulary.
        """
        body = _requests.show(model, verbose=verbose)
        return await self._call(ShowResponse, "POST", "/api/show", body)

    async def ps(self) -> ProcessResponse:
        """The models loaded in memory (``GET /api/ps``)."""
        return await self._call(ProcessResponse, "GET", "/api/ps")

    async def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``)."""
        body = _requests.encoder.encode(_requests.copy(source, destination))
        await self._read("POST", self._base_url + "/api/copy", body, writes=True)
        return StatusResponse(status="success")

    async def delete(self, model: str) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        body = _requests.encoder.encode(_requests.delete(model))
        await self._read("DELETE", self._base_url + "/api/delete", body, writes=True)
        return StatusResponse(status="success")

    async def version(self) -> str:
        """The server's version, e.g. ``"0.12.6"`` (``GET /api/version``)."""
        return (await self._call(VersionResponse, "GET", "/api/version")).version

    # -----------------------------------------------------------------------------------------
    # Beyond the official client: model management (see `_management`)

    async def exists(self, model: str) -> bool:
        """Whether the server has ``model`` (``POST /api/show`` answers, rather than 404)."""
        return await _management.exists(self, model)

    async def ensure(
        self,
        model: str,
        *,
        insecure: bool = False,
        on_progress: Callable[[TransferProgress], object] | None = None,
    ) -> bool:
        """Pull ``model`` if the server does not have it; returns whether it was pulled.

        ``on_progress`` is called with one `TransferProgress` after each progress chunk: bytes
        ``completed`` of ``total`` over every layer, a ``fraction`` that never goes backwards,
        and the ``status`` line. (The blocking client calls it in its own thread.)

        Raises:
            ResponseError: the pull failed (e.g. no such model in the registry).
        """
        return await _management.ensure(self, model, insecure=insecure, on_progress=on_progress)

    async def is_loaded(self, model: str) -> bool:
        """Whether ``model`` is loaded in memory (listed by ``GET /api/ps``)."""
        return await _management.is_loaded(self, model)

    async def load(self, model: str, *, keep_alive: KeepAlive | None = None) -> GenerateResponse:
        """Load ``model`` into memory, to stay ``keep_alive`` (e.g. ``"1h"``, ``-1``: forever).

        A generate request without a prompt (SPEC 4.3); the answer's ``done_reason`` is
        ``"load"``. For a generative model: an embedding model loads on its first embed.
        """
        return await _management.load(self, model, keep_alive)

    async def unload(self, model: str) -> GenerateResponse:
        """Unload ``model`` from memory now (``keep_alive=0``; ``done_reason`` ``"unload"``)."""
        return await _management.unload(self, model)

    # -----------------------------------------------------------------------------------------
    # Beyond the official client: batch work on a task group (see `_batch`)

    @overload
    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        as_arrays: Literal[False] = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[builtins.list[float]]: ...

    @overload
    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        as_arrays: Literal[True],
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[array.array[float]]: ...

    @overload
    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        as_arrays: Literal[False] = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[builtins.list[float] | Exception]: ...

    @overload
    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        as_arrays: Literal[True],
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[array.array[float] | Exception]: ...

    @overload
    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        as_arrays: bool = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[Any]: ...

    async def embed_batch(
        self,
        model: str,
        input: Sequence[str],
        *,
        batch_size: int = 64,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        as_arrays: bool = False,
        truncate: bool | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        dimensions: int | None = None,
    ) -> builtins.list[Any]:
        """Embed any number of texts: one vector per input, in input order.

        The inputs are sent ``batch_size`` at a time (one ``embed`` request each), with at
        most ``concurrency`` requests in flight (a number, or an ``anyio.CapacityLimiter``
        shared with other calls). Each batch is retried by the client's policy.
        ``on_progress(done, total)`` is called as batches finish (inputs done; the blocking
        client calls it in its own thread). ``as_arrays=True``: each vector is an
        ``array.array("f")``, as for `embed`.

        ``errors="raise"``: the first failed batch cancels the others and is raised (an
        ``ExceptionGroup`` only if several failed at once). ``errors="return"``: every batch
        is tried, and each input of a failed batch gets its exception in place of a vector.

        Raises:
            RequestError: an argument or input is invalid (nothing was sent).
            ResponseError: a batch failed (with ``errors="raise"``).
        """
        return await _batch.embed(
            self,
            model,
            input,
            batch_size=batch_size,
            concurrency=concurrency,
            on_progress=on_progress,
            errors=errors,
            as_arrays=as_arrays,
            truncate=truncate,
            options=options,
            keep_alive=keep_alive,
            dimensions=dimensions,
        )

    @overload
    async def chat_batch(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[ChatResponse]: ...

    @overload
    async def chat_batch(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[ChatResponse | Exception]: ...

    @overload
    async def chat_batch(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[ChatResponse] | builtins.list[ChatResponse | Exception]: ...

    async def chat_batch(
        self,
        model: str,
        conversations: Sequence[Sequence[Mapping[str, Any] | Message]],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        tools: Sequence[ToolLike] | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[ChatResponse] | builtins.list[ChatResponse | Exception]:
        """Answer many conversations, at most ``concurrency`` at a time; answers in order.

        Each conversation is one ``chat`` call with the shared arguments. ``on_progress`` and
        ``errors`` work as for `embed_batch`, per conversation.

        Raises:
            RequestError: an argument or conversation is invalid (nothing was sent).
            ResponseError: a call failed (with ``errors="raise"``).
        """
        return await _batch.chat(
            self,
            model,
            conversations,
            concurrency=concurrency,
            on_progress=on_progress,
            errors=errors,
            tools=tools,
            think=think,
            format=format,
            options=options,
            keep_alive=keep_alive,
        )

    @overload
    async def generate_batch(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[GenerateResponse]: ...

    @overload
    async def generate_batch(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["return"],
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[GenerateResponse | Exception]: ...

    @overload
    async def generate_batch(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[GenerateResponse] | builtins.list[GenerateResponse | Exception]: ...

    async def generate_batch(
        self,
        model: str,
        prompts: Sequence[str],
        *,
        concurrency: int | anyio.CapacityLimiter = 4,
        on_progress: Callable[[int, int], object] | None = None,
        errors: Literal["raise", "return"] = "raise",
        system: str | None = None,
        think: Think | None = None,
        format: Format | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> builtins.list[GenerateResponse] | builtins.list[GenerateResponse | Exception]:
        """Complete many prompts, at most ``concurrency`` at a time; answers in order.

        Each prompt is one ``generate`` call with the shared arguments. ``on_progress`` and
        ``errors`` work as for `embed_batch`, per prompt.

        Raises:
            RequestError: an argument or prompt is invalid (nothing was sent).
            ResponseError: a call failed (with ``errors="raise"``).
        """
        return await _batch.generate(
            self,
            model,
            prompts,
            concurrency=concurrency,
            on_progress=on_progress,
            errors=errors,
            system=system,
            think=think,
            format=format,
            options=options,
            keep_alive=keep_alive,
        )

    # -----------------------------------------------------------------------------------------
    # Web search through ollama.com

    def _check_web_auth(self) -> None:
        if not self._api_key and "authorization" not in self._headers:
            raise RequestError(
                "web_search and web_fetch need an ollama.com API key: set OLLAMA_API_KEY or "
                "pass api_key="
            )

    async def web_search(self, query: str, max_results: int = 3) -> WebSearchResponse:
        """Search the web through ollama.com (needs an API key)."""
        body = _requests.web_search(query, max_results)
        self._check_web_auth()
        url = _WEB_URL + "/api/web_search"
        answer = await self._read("POST", url, _requests.encoder.encode(body))
        return _decode(WebSearchResponse, answer, url)

    async def web_fetch(self, url: str) -> WebFetchResponse:
        """Fetch a web page's title, text and links through ollama.com (needs an API key)."""
        body = _requests.web_fetch(url)
        self._check_web_auth()
        endpoint = _WEB_URL + "/api/web_fetch"
        answer = await self._read("POST", endpoint, _requests.encoder.encode(body))
        return _decode(WebFetchResponse, answer, endpoint)
