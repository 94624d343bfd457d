"""`AsyncClient`: every endpoint of the Ollama API, on anyio (trio or asyncio).

Each endpoint is three steps: build and check the body (`_requests`, pure), send it (the
session, `_session`, which picks the path, retries and bounds the reading), and decode the
answer (a msgspec decoder, the incremental `_embed` decoder, or an `AsyncStream` for streamed
answers).
"""

from __future__ import annotations

import array
import builtins
import copy as _copy
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import anyio.to_thread
import msgspec

from . import _batch, _blobs, _config, _management, _requests
from ._async_stream import AsyncStream
from ._embed import EmbedBodyDecoder, embed_response, float32s, floats
from ._errors import DECODE_ERRORS, ProtocolError, RequestError, ResponseError
from ._http._retry import RetryPolicy
from ._http._session import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_LINE_SIZE, Session
from ._progress import TransferProgress
from ._raw import configure_logging
from ._tool_run import ToolRun, ToolRunEvent
from ._tool_runner import Runner, ToolRunStream, run_tools
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
    ShowResponse,
    StatusResponse,
    SystemOneContent,
    SystemOneQuestion,
    SystemOneResponse,
    Think,
    ToolLike,
    VersionResponse,
    WebFetchResponse,
    WebSearchResponse,
)

if TYPE_CHECKING:
    from ._generated_raw import AsyncRawClient

__all__ = ["AsyncClient"]

T = TypeVar("T")

_WEB_URL = "https://ollama.com"
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


class AsyncClient:
    """A client for one Ollama server, for trio and asyncio applications.

    Args:
        host: the server, in any form ``OLLAMA_HOST`` accepts (``"localhost:11434"``,
            ``"https://example.com/ollama"``); default ``OLLAMA_HOST``, else
            ``http://127.0.0.1:11434``.
        timeout: an ``httpx.Timeout``, a number of seconds, or None for no timeout. The default
            gives up connecting after 10 s, and waits up to 600 s for a response head, for a
            whole answer, and between two lines of a stream, as a local model may take
            minutes to load.
        headers: headers sent with every request.
        api_key: a key for ollama.com (default ``OLLAMA_API_KEY``). From the environment it is
            sent only to https://ollama.com; given here, it is sent to ``host`` as well.
        max_retries: how many times a request the server cannot have acted on is tried again
            (connection refused, 429, 502, 503), after ``retry_backoff`` seconds, doubling,
            with jitter, or as ``Retry-After`` says. Never after a response body has begun.
        retry_writes: also retry ``create``, ``push``, ``copy``, ``delete`` and ``create_blob``.
        max_line_size: the longest line of a stream, in bytes (default 32 MiB).
        max_body_size: the largest whole answer, in bytes (default 1 GiB).
        follow_redirects, **kwargs: passed on to ``httpx.AsyncClient`` (e.g. ``transport``,
            ``verify``, ``proxy``); ``limits=httpx.Limits(...)`` caps our transport's
            connections per server (default 100) and idle ones (default 64).

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
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        **kwargs: Any,
    ) -> None:
        configure_logging()  # OLLAMA_ANYIO_LOG: read when a client is built, never at import
        try:
            retry = RetryPolicy(max_retries, retry_backoff, retry_writes)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"invalid retry settings: {exc}") from None
        self._session = Session(
            _config.host_from_env(host),
            headers=_config.build_headers(headers),
            api_key=_config.api_key_from_env(api_key),
            api_key_to_host=api_key is not None,
            timeout=_config.default_timeout() if timeout is _config.DEFAULT else timeout,
            retry=retry,
            follow_redirects=follow_redirects,
            max_line_size=max_line_size,
            max_body_size=max_body_size,
            options=kwargs,
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
        self, *, timeout: Any = _config.DEFAULT, max_retries: int | None = None
    ) -> AsyncClient:
        """A view of this client, sharing its connections, whose calls use other options.

        ``client.with_options(timeout=5).chat(...)`` gives one call its own timeout;
        ``max_retries=0`` turns retries off for it.
        """
        clone = _copy.copy(self)
        retry = self._session.retry
        clone._session = self._session.with_options(
            timeout=timeout,
            retry=None
            if max_retries is None
            else RetryPolicy(max_retries, retry.backoff, retry.retry_writes),
        )
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
        await self._session.aclose()

    async def close(self) -> None:
        """The same as `aclose` (the official ``AsyncClient`` names it ``close``)."""
        await self.aclose()

    # -----------------------------------------------------------------------------------------
    # Sending and reading, through the session

    async def _read(self, method: str, url: str, content: Any = None) -> bytes:
        """Send a request and return the whole body of its answer."""
        base = self._base_url
        writes = url.startswith(base) and url.startswith(_WRITES, len(base))
        return await self._session.read(method, url, content, idempotent=not writes)

    async def _call(self, response_type: type[T], method: str, path: str, body: Any = None) -> T:
        url = self._base_url + path
        content = None if body is None else _requests.encoder.encode(body)
        return _decode(response_type, await self._read(method, url, content), url)

    def _stream(
        self, item_type: type[T], path: str, body: Any, is_final: Callable[[T], bool]
    ) -> AsyncStream[T]:
        url = self._base_url + path
        content = _requests.encoder.encode(body)
        session = self._session
        idempotent = not path.startswith(_WRITES)
        stream = AsyncStream(
            lambda: session.send("POST", url, content, idempotent=idempotent),
            item_type,
            is_final,
            url,
            read_timeout=session.timeouts["read"],
            max_line_size=session.max_line_size,
            owner=self,
        )
        self._streams.add(stream)
        return stream

    async def _maybe_stream(
        self,
        item_type: type[T],
        path: str,
        body: Any,
        stream: bool,
        is_final: Callable[[T], bool],
    ) -> T | AsyncStream[T]:
        if stream:
            return self._stream(item_type, path, body, is_final)
        return await self._call(item_type, "POST", path, body)

    async def _read_embed(
        self, url: str, body: Any, vector: Callable[[Any], Any]
    ) -> tuple[bytes, list[Any] | None]:
        """Send an embed request and decode its vectors as they arrive (see `_embed`)."""
        reply = await self._session.send("POST", url, _requests.encoder.encode(body))
        decoder = EmbedBodyDecoder(vector)
        try:
            await self._session.each_piece(reply, url, decoder.feed)
            return decoder.finish()
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

    # -----------------------------------------------------------------------------------------
    # Tool runner

    @overload
    async def run_tools(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: Literal[False] = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun: ...

    @overload
    async def run_tools(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: Literal[True],
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> AsyncStream[ToolRunEvent]: ...

    @overload
    async def run_tools(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: bool,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]: ...

    async def run_tools(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any] | Message] | None,
        tools: Sequence[Callable[..., Any]],
        *,
        stream: bool = False,
        max_steps: int = 10,
        tool_errors: Literal["report", "raise"] = "report",
        at_max_steps: Literal["raise", "return"] = "raise",
        max_threads: int = 4,
        think: Think | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> ToolRun | AsyncStream[ToolRunEvent]:
        """Chat with tools until the model answers without calling one.

        Each step is one chat call; the tool calls of a step run concurrently (async functions
        as tasks, plain ones in worker threads, at most ``max_threads`` at once) and their
        results go back as ``tool`` messages with ``tool_name`` and ``tool_call_id``. A tool
        that raises has its error sent to the model as its result (``tool_errors="raise"``:
        raised instead), and so has a call of an unknown tool. Cancelling the call cancels
        the running tools.

        Args:
            tools: the functions the model may call, described from their signatures and
                docstrings as for ``chat(tools=...)``.
            max_steps: the most chat calls to make; a reply still calling tools at the last
                one raises `MaxStepsError` (``at_max_steps="return"``: it is returned).
            stream: return an `AsyncStream` of `ToolRunEvent` (chunks, tool calls, tool
                results as they happen, then a `DoneEvent`); read it in ``async with``.

        Returns:
            A `ToolRun`: the last reply, the whole transcript and the number of steps.

        Raises:
            RequestError: an argument is invalid (nothing was sent).
            MaxStepsError: ``max_steps`` was reached, with ``at_max_steps="raise"``.
        """
        runner = Runner(
            self,
            model,
            messages,
            tools,
            max_steps=max_steps,
            tool_errors=tool_errors,
            at_max_steps=at_max_steps,
            max_threads=max_threads,
            think=think,
            options=options,
            keep_alive=keep_alive,
        )
        if stream:
            return ToolRunStream(runner, self._base_url + "/api/chat")
        return await run_tools(runner)

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
        rest, vectors = await self._read_embed(url, body, float32s if as_arrays else floats)
        return embed_response(rest, vectors, as_arrays=as_arrays, url=url)

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
        file, digest = await _blobs.file_digest(path)
        await self._read("POST", f"{self._base_url}/api/blobs/{digest}", _blobs.file_pieces(file))
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
        await self._read("POST", self._base_url + "/api/copy", body)
        return StatusResponse(status="success")

    async def delete(self, model: str) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        body = _requests.encoder.encode(_requests.delete(model))
        await self._read("DELETE", self._base_url + "/api/delete", body)
        return StatusResponse(status="success")

    async def systemone(
        self,
        model: str,
        state: SystemOneContent,
        questions: Mapping[str, SystemOneQuestion | Mapping[str, Any]],
        keep_alive: KeepAlive | None = None,
    ) -> SystemOneResponse:
        """Ask a decision model typed questions about ``state`` (``POST /v1/systemone``).

        Args:
            model: the decision model.
            state: the input: text, or a JSON object or array the server renders as text.
            questions: by name, each a `SystemOneChoiceQuestion`, `SystemOneNoulQuestion` or
                `SystemOneScoreQuestion`, or a mapping with their fields and a ``type`` of
                ``"choice"``, ``"noul"`` or ``"score"``.
            keep_alive: how long the model stays loaded afterwards.

        Returns:
            One answer per question, by the same names, with probabilities rather than text.
            Not streamed.

        Raises:
            RequestError: an argument is invalid (nothing was sent).
            ResponseError: the server answered with an error.
        """
        body = _requests.systemone(model, state, questions, keep_alive=keep_alive)
        return await self._call(SystemOneResponse, "POST", "/v1/systemone", body)

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
        if not self._session.has_credentials:
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
