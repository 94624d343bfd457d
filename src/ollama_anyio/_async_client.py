"""`AsyncClient`: the official endpoints (``_endpoints``) with our helper groups attached.

The groups are built on the first use of their accessor (``client.models``, ``client.batch``,
``client.tools``), as openai-python attaches its resources, and each sees only the
`AsyncEndpoints` below it. ``with_raw_response`` gives every endpoint's `RawResponse`, and
``with_streaming_response`` the HTTP response of a streaming endpoint as it comes.
"""

from __future__ import annotations

from functools import cached_property

from ._batch import AsyncBatch
from ._endpoints import AsyncEndpoints
from ._generated_raw import AsyncRawClient, AsyncStreamingClient
from ._management import AsyncModels
from ._tool_runner import AsyncTools

__all__ = ["AsyncClient"]


class AsyncClient(AsyncEndpoints):
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
        request_id_header: the header that carries each request's id, a fresh random one per
            request (the same on its retries), also found on log lines, spans and errors
            (``ResponseError.request_id``); None sends none. A value for it in ``headers``
            is sent as the id of every request instead.
        on_request, on_response: hooks, each a callable or a list of them, sync or async,
            called in the task that sends: ``on_request(event)`` before a request is sent
            (`RequestEvent`: it may add headers), ``on_response(event)`` once it has ended
            (`ResponseEvent`: status, headers, elapsed time, retries, error). They keep the
            client on its own transport, unlike httpx's ``event_hooks``.
        follow_redirects, **kwargs: passed on to ``httpx.AsyncClient`` (e.g. ``transport``,
            ``verify``, ``proxy``); ``limits=httpx.Limits(...)`` caps our transport's
            connections per server (default 100) and idle ones (default 64).
        http_client: your own ``httpx.AsyncClient`` (proxies, mTLS, event hooks,
            instrumentation), used as given: its transport, limits, hooks, auth and headers
            apply, our headers and ``timeout`` are added to each request, and errors,
            retries, read limits and streams behave as on our transport. It stays yours:
            ``aclose()`` leaves it open. Not with the httpx options above. (The blocking
            ``Client`` takes an ``httpx.Client``, used from worker threads.)

    Beyond the official endpoints, our helpers come in groups: ``client.models`` (exists,
    ensure, is_loaded, load, unload), ``client.batch`` (embed, chat, generate over many
    inputs) and ``client.tools`` (the tool runner: ``run``, and ``turns`` to steer it).

    Use it as ``async with AsyncClient() as client:``, or call ``aclose()`` when done.
    """

    @cached_property
    def models(self) -> AsyncModels:
        """Model management: `exists`, `ensure` (pull if missing), `is_loaded`, `load`,
        `unload`."""
        return AsyncModels(self)

    @cached_property
    def batch(self) -> AsyncBatch:
        """Batch work on a task group: `embed` any number of texts, `chat` or `generate` over
        many inputs, at most ``concurrency`` requests at a time."""
        return AsyncBatch(self)

    @cached_property
    def tools(self) -> AsyncTools:
        """The tool runner: `run` chats, runs the tools the model calls, and repeats; `turns`
        does the same turn by turn, for you to run, edit, refuse or answer each call."""
        return AsyncTools(self)

    @property
    def with_raw_response(self) -> AsyncRawClient:
        """The same endpoints, each returning a `RawResponse`: the result, with the HTTP
        status, headers and elapsed time of its answer (``await
        client.with_raw_response.chat(...)``). Streaming calls are left out (``stream=True``
        raises `RequestError`): see `with_streaming_response`; a stream also has
        ``status_code`` and ``headers`` of its own."""
        return AsyncRawClient(self)

    @property
    def with_streaming_response(self) -> AsyncStreamingClient:
        """The streaming endpoints, each giving its HTTP response as it comes: ``async with
        client.with_streaming_response.chat(..., stream=True) as response``, then
        ``response.status_code``, ``response.headers``, and ``response.iter_lines()`` (or
        ``iter_bytes()``, ``parse()``, ``read()``)."""
        return AsyncStreamingClient(self)
