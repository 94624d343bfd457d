"""`AsyncEndpoints`: every official endpoint of the Ollama API, each a few lines.

Each endpoint builds and checks its body (`_requests`, pure), then makes one call of the single
send point, `_request` (``_async_core``), which sends it and decodes the answer. Our helpers
(``_management``, ``_batch``, ``_tool_runner``) are built on this class, and `AsyncClient`
(``_async_client``) attaches them as groups. Each endpoint carries a mark (``_marks.endpoint``)
from which ``tools/generate_surface.py`` writes its blocking twin on `Client`, its module-level
function and its ``with_raw_response`` twin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from . import _blobs, _config, _requests
from ._async_core import AsyncCore
from ._async_stream import AsyncStream
from ._errors import ResponseError
from ._marks import endpoint
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
from ._types_responses import (
    ParsedChatResponse,
    ParsedGenerateResponse,
    answer_type,
    with_parsed,
)

__all__ = ["AsyncEndpoints"]

FormatT = TypeVar("FormatT")


class AsyncEndpoints(AsyncCore):
    """The official endpoints: `AsyncClient` without its helper groups.

    It takes the arguments of `AsyncClient` (see there). Our helper groups are built on this
    class, never on `AsyncClient`, so that no module imports the client that exposes it.
    """

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
        format: type[FormatT],
        images: Sequence[ImageLike] | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ParsedGenerateResponse[FormatT]: ...

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

    @endpoint()
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
        cls = answer_type(GenerateResponse, format, stream)
        reply = await self._request(
            cls, "POST", "/api/generate", json=_requests.JsonBody(body), stream=stream
        )
        return with_parsed(reply, format)

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
        format: type[FormatT],
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ParsedChatResponse[FormatT]: ...

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

    @endpoint()
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
        cls = answer_type(ChatResponse, format, stream)
        reply = await self._request(
            cls, "POST", "/api/chat", json=_requests.JsonBody(body), stream=stream
        )
        return with_parsed(reply, format)

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

    @endpoint()
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
        cls: type[EmbedResponse | EmbedArraysResponse]
        cls = EmbedArraysResponse if as_arrays else EmbedResponse
        return await self._request(cls, "POST", "/api/embed", json=_requests.JsonBody(body))

    @endpoint()
    async def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbeddingsResponse:
        """Embed one text with the legacy endpoint (``POST /api/embeddings``)."""
        body = _requests.embeddings(model, prompt, options=options, keep_alive=keep_alive)
        return await self._request(
            EmbeddingsResponse, "POST", "/api/embeddings", json=_requests.JsonBody(body)
        )

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

    @endpoint()
    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Download a model from a registry (``POST /api/pull``), with progress if streamed."""
        body = _requests.pull(model, insecure=insecure, stream=stream)
        return await self._request(
            ProgressResponse, "POST", "/api/pull", json=_requests.JsonBody(body), stream=stream
        )

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

    @endpoint()
    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncStream[ProgressResponse]:
        """Upload a model to a registry (``POST /api/push``), with progress if streamed."""
        body = _requests.push(model, insecure=insecure, stream=stream)
        return await self._request(
            ProgressResponse, "POST", "/api/push", json=_requests.JsonBody(body), stream=stream
        )

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

    @endpoint()
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
        return await self._request(
            ProgressResponse,
            "POST",
            "/api/create",
            json=_requests.JsonBody(body),
            stream=stream,
        )

    @endpoint()
    async def create_blob(self, path: str | os.PathLike[str]) -> str:
        """Upload a file as a blob (``POST /api/blobs/:digest``) and return its digest.

        The file is hashed and sent in pieces, off the event loop, never whole in memory.
        """
        file, digest = await self._build_body_in_thread_if(True, _blobs.file_digest, path)
        where = f"/api/blobs/{digest}"
        await self._request(StatusResponse, "POST", where, content=_blobs.file_pieces(file))
        return digest

    @endpoint(module_function=False)
    async def blob_exists(self, digest: str) -> bool:
        """Whether the server holds the blob ``digest`` (``HEAD /api/blobs/:digest``)."""
        path = f"/api/blobs/{_requests.check_digest(digest)}"
        try:
            await self._request(StatusResponse, "HEAD", path)
        except ResponseError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    @endpoint()
    async def list(self) -> ListResponse:
        """The models stored on the server (``GET /api/tags``)."""
        return await self._request(ListResponse, "GET", "/api/tags")

    @endpoint()
    async def show(self, model: str, *, verbose: bool | None = None) -> ShowResponse:
        """A model's details, template, parameters and metadata (``POST /api/show``).

        ``verbose=True`` also returns large array metadata such as the tokenizer vocabulary.
        """
        body = _requests.show(model, verbose=verbose)
        return await self._request(ShowResponse, "POST", "/api/show", json=_requests.JsonBody(body))

    @endpoint()
    async def ps(self) -> ProcessResponse:
        """The models loaded in memory (``GET /api/ps``)."""
        return await self._request(ProcessResponse, "GET", "/api/ps")

    @endpoint()
    async def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy a model under a new name (``POST /api/copy``)."""
        body = _requests.JsonBody(_requests.copy(source, destination))
        return await self._request(StatusResponse, "POST", "/api/copy", json=body)

    @endpoint()
    async def delete(self, model: str) -> StatusResponse:
        """Delete a model (``DELETE /api/delete``)."""
        body = _requests.JsonBody(_requests.delete(model))
        return await self._request(StatusResponse, "DELETE", "/api/delete", json=body)

    @endpoint()
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
        return await self._request(
            SystemOneResponse, "POST", "/v1/systemone", json=_requests.JsonBody(body)
        )

    @endpoint(module_function=False)
    async def version(self) -> str:
        """The server's version, e.g. ``"0.12.6"`` (``GET /api/version``)."""
        answer = await self._request(VersionResponse, "GET", "/api/version")
        return answer.version

    # -----------------------------------------------------------------------------------------
    # Web search through ollama.com

    @endpoint()
    async def web_search(self, query: str, max_results: int = 3) -> WebSearchResponse:
        """Search the web through ollama.com (needs an API key)."""
        body = _requests.web_search(query, max_results)
        url = _config.WEB_URL + "/api/web_search"
        return await self._request(WebSearchResponse, "POST", url, json=_requests.JsonBody(body))

    @endpoint()
    async def web_fetch(self, url: str) -> WebFetchResponse:
        """Fetch a web page's title, text and links through ollama.com (needs an API key)."""
        body = _requests.web_fetch(url)
        where = _config.WEB_URL + "/api/web_fetch"
        return await self._request(WebFetchResponse, "POST", where, json=_requests.JsonBody(body))
