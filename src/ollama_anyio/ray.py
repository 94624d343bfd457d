"""Bulk work over many Ollama servers with Ray Data: embeddings and generations of a Dataset.

``embed``, ``generate`` and ``chat`` add a column to a Ray Dataset, computed by Ollama servers
through ``Dataset.map_batches`` and a pool of actors. Each actor is bound to one server and
holds one `AsyncClient` to it; a server gets as many actors as it has slots (Ollama's
``OLLAMA_NUM_PARALLEL``, one for an embedding model), and an actor sends one request at a
time, so no server is sent more than it can answer at once. A batch whose server fails (no
connection, a cut answer, 502/503/504) is sent again to another server by the same actor,
which stays bound to the new one: a server that dies halfway loses and duplicates nothing. A
row the server refuses is reported in an error column, unless ``error=None``.

Ray is an optional extra (``pip install 'ollama-anyio[ray]'``) and is imported only when one
of these functions runs, never by ``import ollama_anyio``::

    import ray
    from ollama_anyio.ray import embed

    ray.init()  # one machine; ray.init(address="auto") joins a cluster
    texts = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(chunks)])
    vectors = embed(texts, model="all-minilm", servers=["http://gpu1:11434"])
    vectors.write_parquet("/data/vectors")
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anyio

from ._async_client import AsyncClient
from ._errors import (
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    ProtocolError,
    RequestError,
    ResponseError,
)

__all__ = ["NoServerError", "chat", "embed", "generate", "servers_from_nginx"]

# Statuses that say the server (or a proxy before it) could not take the request, as
# opposed to a refusal of the request itself: the batch goes to another server.
_SERVER_FAILURES = frozenset({-1, 502, 503, 504})
_ACTOR_CPUS = 0.1
# Tries of one batch (each on the next server) before the job fails: servers that keep
# answering 503 stay in the pool, so the count, not the pool, must end the loop.
_MAX_ATTEMPTS = 20  # an actor waits on the network: many fit on one core

ServerSpec = str | tuple[str, int]
"""A server's URL, or its URL and its slots (requests it answers at once)."""


class NoServerError(OllamaError):
    """Every server failed: the job cannot go on (raised in the job, failing it)."""


def servers_from_nginx(path: str | os.PathLike[str]) -> list[str]:
    """The servers of the ``upstream`` blocks of an nginx configuration, as URLs.

    Reads a file such as ``deploy/nginx/ollama.conf``: each ``server host:port ...;`` line
    inside an ``upstream { }`` block gives ``http://host:port`` (port 80 if none is written,
    as nginx reads it); servers marked ``down`` or ``backup`` are left out.

    Raises:
        ValueError: the file names no server.
    """
    with open(path, encoding="utf-8") as file:
        text = re.sub(r"#[^\n]*", "", file.read())
    urls: list[str] = []
    for block in re.finditer(r"\bupstream\s+\S+\s*\{([^}]*)\}", text):
        for line in block.group(1).split(";"):
            words = line.split()
            if len(words) < 2 or words[0] != "server" or {"down", "backup"} & set(words[2:]):
                continue
            address = words[1].removeprefix("http://")
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or address.endswith("]"):
                address = f"{address}:80"
            urls.append(f"http://{address}")
    if not urls:
        raise ValueError(f"{os.fspath(path)!r} has no server line in an upstream block")
    return urls


@dataclass(frozen=True)
class _Task:
    """What every actor of a job does with its batches (pickled to the actors)."""

    kind: Literal["embed", "generate", "chat"]
    model: str
    column: str
    output: str
    error: str | None
    request: dict[str, Any] = field(default_factory=dict[str, Any])
    timeout: float | None = None


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:  # pragma: no cover - the ray extra is missing
        raise ImportError(
            "ollama_anyio.ray needs Ray Data: pip install 'ollama-anyio[ray]'"
        ) from None


def _pool(servers: Sequence[ServerSpec], slots: int) -> list[tuple[str, int]]:
    if isinstance(servers, str) or not servers:
        raise RequestError("servers must be a non-empty list of URLs (or (URL, slots) pairs)")
    pool: list[tuple[str, int]] = []
    for spec in servers:
        url, count = (spec, slots) if isinstance(spec, str) else spec
        if not isinstance(url, str) or not url or not isinstance(count, int) or count < 1:
            raise RequestError(f"a server is a URL, or a URL and 1 or more slots: {spec!r}")
        pool.append((url, count))
    return pool


def _run(
    dataset: Any,
    task: _Task,
    servers: Sequence[ServerSpec],
    slots: int,
    batch_size: int,
    preserve_order: bool,
) -> Any:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise RequestError(f"batch_size must be 1 or more, got {batch_size!r}")
    if not isinstance(slots, int) or slots < 1:
        raise RequestError(f"slots must be 1 or more, got {slots!r}")
    pool = _pool(servers, slots)
    ray = _ray()
    data = importlib.import_module("ray.data")
    assigner = ray.remote(num_cpus=0)(_Assigner).remote(pool)
    actors = sum(count for _, count in pool)
    result = dataset.map_batches(
        _Worker,
        fn_constructor_kwargs={"assigner": assigner, "task": task},
        batch_size=batch_size,
        batch_format="numpy",
        # Two calls per actor: the next batch waits in the actor while one is answered, so
        # the server's slot is never idle between two requests.
        compute=data.ActorPoolStrategy(
            size=actors, max_tasks_in_flight_per_actor=2, max_concurrent_calls_per_actor=2
        ),
        num_cpus=_ACTOR_CPUS,
    )
    result.context.execution_options.preserve_order = preserve_order
    return result


def embed(
    dataset: Any,
    *,
    model: str,
    servers: Sequence[ServerSpec],
    column: str = "text",
    output: str = "embedding",
    error: str | None = "error",
    batch_size: int = 64,
    slots: int = 1,
    truncate: bool | None = None,
    dimensions: int | None = None,
    keep_alive: float | str | None = None,
    options: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    preserve_order: bool = True,
) -> Any:
    """Embed a Dataset's texts: the rows, with a float32 vector column added.

    Lazy, like every Ray Dataset transform: the work runs when the result is consumed. A
    Ray task takes one block of the dataset: blocks of a few times ``batch_size`` rows
    spread over the actors and keep Ray's cost per task small (``repartition`` first if the
    dataset has a few huge blocks).

    Args:
        dataset: a ``ray.data.Dataset`` with a text column; every column is kept.
        model: the embedding model, present on every server.
        servers: the servers' URLs (see `servers_from_nginx`), or ``(URL, slots)`` pairs.
        column: the column of texts.
        output: the column of vectors (a row that failed gets NaNs).
        error: the column of error messages (``None`` where the row succeeded); ``None``
            to fail the job at the first row a server refuses instead.
        batch_size: texts per request.
        slots: requests a server answers at once (one for an embedding model on Ollama).
        truncate: see `AsyncClient.embed`.
        dimensions: see `AsyncClient.embed`.
        keep_alive: see `AsyncClient.embed`.
        options: see `AsyncClient.embed`.
        timeout: seconds a request may take (the client's default if ``None``).
        preserve_order: keep the input's row order (Ray Data's ``preserve_order``).

    Returns:
        The new ``ray.data.Dataset``.

    Raises:
        RequestError: bad settings, before anything runs.
    """
    request = {
        "truncate": truncate,
        "dimensions": dimensions,
        "keep_alive": keep_alive,
        "options": dict(options) if options else None,
    }
    task = _Task("embed", model, column, output, error, request, timeout)
    return _run(dataset, task, servers, slots, batch_size, preserve_order)


def generate(
    dataset: Any,
    *,
    model: str,
    servers: Sequence[ServerSpec],
    column: str = "prompt",
    output: str = "response",
    error: str | None = "error",
    batch_size: int = 16,
    slots: int = 1,
    system: str | None = None,
    format: Any = None,
    think: bool | None = None,
    keep_alive: float | str | None = None,
    options: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    preserve_order: bool = True,
) -> Any:
    """Complete a Dataset's prompts: the rows, with a column of answers added.

    Each prompt is one request; a server gets ``slots`` of them at once.

    Args:
        dataset: a ``ray.data.Dataset`` with a prompt column; every column is kept.
        model: the model, present on every server.
        servers: the servers' URLs (see `servers_from_nginx`), or ``(URL, slots)`` pairs.
        column: the column of prompts.
        output: the column of answers (``None`` where the row failed).
        error: the column of error messages; ``None`` to fail the job at the first refusal.
        batch_size: rows an actor takes at a time.
        slots: requests a server answers at once (its ``OLLAMA_NUM_PARALLEL``).
        system: see `AsyncClient.generate`.
        format: see `AsyncClient.generate`.
        think: see `AsyncClient.generate`.
        keep_alive: see `AsyncClient.generate`.
        options: see `AsyncClient.generate`.
        timeout: seconds a request may take (the client's default if ``None``).
        preserve_order: keep the input's row order.

    Returns:
        The new ``ray.data.Dataset``.
    """
    request = {
        "system": system,
        "format": format,
        "think": think,
        "keep_alive": keep_alive,
        "options": dict(options) if options else None,
    }
    task = _Task("generate", model, column, output, error, request, timeout)
    return _run(dataset, task, servers, slots, batch_size, preserve_order)


def chat(
    dataset: Any,
    *,
    model: str,
    servers: Sequence[ServerSpec],
    column: str = "messages",
    output: str = "response",
    error: str | None = "error",
    batch_size: int = 16,
    slots: int = 1,
    format: Any = None,
    think: bool | None = None,
    keep_alive: float | str | None = None,
    options: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    preserve_order: bool = True,
) -> Any:
    """Answer a Dataset's conversations: the rows, with a column of the replies' content.

    Args:
        dataset: a ``ray.data.Dataset`` whose column holds a list of messages per row.
        model: the model, present on every server.
        servers: the servers' URLs (see `servers_from_nginx`), or ``(URL, slots)`` pairs.
        column: the column of message lists (``{"role": ..., "content": ...}`` each).
        output: the column of replies (``None`` where the row failed).
        error: the column of error messages; ``None`` to fail the job at the first refusal.
        batch_size: rows an actor takes at a time.
        slots: requests a server answers at once (its ``OLLAMA_NUM_PARALLEL``).
        format: see `AsyncClient.chat`.
        think: see `AsyncClient.chat`.
        keep_alive: see `AsyncClient.chat`.
        options: see `AsyncClient.chat`.
        timeout: seconds a request may take (the client's default if ``None``).
        preserve_order: keep the input's row order.

    Returns:
        The new ``ray.data.Dataset``.
    """
    request = {
        "format": format,
        "think": think,
        "keep_alive": keep_alive,
        "options": dict(options) if options else None,
    }
    task = _Task("chat", model, column, output, error, request, timeout)
    return _run(dataset, task, servers, slots, batch_size, preserve_order)


class _Assigner:
    """Binds actors to servers: the one with the most free slots, never one that failed.

    A Ray actor of its own (one per job), so every worker sees the same count.
    """

    def __init__(self, pool: list[tuple[str, int]]) -> None:
        self._urls = [url for url, _ in pool]
        self._slots = [count for _, count in pool]
        self._bound = [0] * len(pool)
        self._down = [False] * len(pool)

    def assign(self, previous: int | None = None, down: bool = False) -> tuple[int, str] | None:
        """A server for an actor (leaving ``previous``, which failed if ``down``)."""
        if previous is not None:
            self._bound[previous] -= 1
            self._down[previous] = self._down[previous] or down
        live = [i for i in range(len(self._urls)) if not self._down[i]]
        if not live:
            return None
        index = max(live, key=lambda i: (self._slots[i] - self._bound[i], i != previous, -i))
        self._bound[index] += 1
        return index, self._urls[index]


def _server_failed(exc: Exception) -> bool:
    if isinstance(exc, (OllamaConnectionError, OllamaTimeoutError, ProtocolError)):
        return True
    return isinstance(exc, ResponseError) and exc.status_code in _SERVER_FAILURES


class _Worker:
    """One actor of the pool: one server, one client, one request at a time."""

    def __init__(self, assigner: Any, task: _Task) -> None:
        ray = _ray()
        self._assigner = assigner
        self._task = task
        self._np = importlib.import_module("numpy")
        self._pa = importlib.import_module("pyarrow")
        bound = ray.get(assigner.assign.remote())
        if bound is None:
            raise NoServerError("no Ollama server is left to send requests to")
        self._server: int = bound[0]
        self._url: str = bound[1]
        self._client: AsyncClient | None = None
        self._lock: anyio.Lock | None = None
        self._dims: int | None = task.request.get("dimensions")

    def _connect(self) -> AsyncClient:
        if self._client is None:
            # Created on the actor's event loop, where it is used. No retries of its own: a
            # failed request goes to another server instead.
            kwargs: dict[str, Any] = {"max_retries": 0}
            if self._task.timeout is not None:
                kwargs["timeout"] = self._task.timeout
            self._client = AsyncClient(self._url, **kwargs)
        return self._client

    async def _rebind(self, down: bool) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        bound = await self._assigner.assign.remote(self._server, down)
        if bound is None:
            raise NoServerError(f"no Ollama server is left (the last one, {self._url}, failed)")
        self._server, self._url = bound

    async def _send(self, call: Any) -> Any:
        """Run ``call(client)`` on this actor's server, moving to another while servers fail."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                return await call(self._connect())
            except OllamaError as exc:
                if not _server_failed(exc) or attempt == _MAX_ATTEMPTS:
                    raise
                # 503: busy, not dead; the others take the batch, this one stays in the pool.
                busy = isinstance(exc, ResponseError) and exc.status_code == 503
                if busy:
                    await anyio.sleep(min(0.1 * attempt, 2.0))
                await self._rebind(down=not busy)
        raise AssertionError("unreachable")  # pragma: no cover

    async def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        lock = self._lock
        if lock is None:
            lock = self._lock = anyio.Lock()
        rows = [_plain(value) for value in batch[self._task.column]]
        async with lock:  # one request at a time: one actor is one slot
            if self._task.kind == "embed":
                values, errors = await self._embed(rows)
            else:
                values, errors = await self._answer(rows)
        out = dict(batch)
        out[self._task.output] = values
        if self._task.error is not None:
            out[self._task.error] = self._strings(errors)
        elif any(e is not None for e in errors):
            raise RequestError(next(e for e in errors if e is not None))
        return out

    async def _vectors(self, texts: list[str]) -> list[Any]:
        async def call(client: AsyncClient) -> list[Any]:
            request = self._task.request
            response = await client.embed(
                self._task.model,
                texts,
                truncate=request.get("truncate"),
                options=request.get("options"),
                keep_alive=request.get("keep_alive"),
                dimensions=request.get("dimensions"),
                as_arrays=True,
            )
            if len(response.embeddings) != len(texts):
                raise ProtocolError(
                    f"{len(texts)} texts sent, {len(response.embeddings)} vectors received"
                )
            return list(response.embeddings)

        result: list[Any] = await self._send(call)
        return result

    async def _embed(self, rows: list[Any]) -> tuple[Any, list[str | None]]:
        np = self._np
        errors: list[str | None] = [_text_problem(row) for row in rows]
        sendable = [i for i, problem in enumerate(errors) if problem is None]
        vectors: dict[int, Any] = {}
        try:
            found = await self._vectors([rows[i] for i in sendable]) if sendable else []
            vectors.update(zip(sendable, found, strict=True))
        except (RequestError, ResponseError) as exc:
            if self._task.error is None:
                raise
            # The server refused the batch: one row at a time, to find the rows at fault.
            for i in sendable:
                try:
                    (vectors[i],) = await self._vectors([rows[i]])
                except (RequestError, ResponseError) as row_exc:
                    errors[i] = _message(row_exc)
            del exc
        if self._dims is None:
            if vectors:
                self._dims = len(next(iter(vectors.values())))
            else:  # every row failed: one probe for the width of the NaN vectors
                (probe,) = await self._vectors(["width"])
                self._dims = len(probe)
        table = np.full((len(rows), self._dims), math.nan, dtype=np.float32)
        for i, vector in vectors.items():
            table[i] = np.frombuffer(vector, dtype=np.float32)
        return table, errors

    async def _answer(self, rows: list[Any]) -> tuple[Any, list[str | None]]:
        answers: list[str | None] = []
        errors: list[str | None] = []
        for row in rows:
            try:
                answers.append(await self._one(row))
                errors.append(None)
            except (RequestError, ResponseError) as exc:
                if self._task.error is None:
                    raise
                answers.append(None)
                errors.append(_message(exc))
        return self._strings(answers), errors

    def _strings(self, values: list[str | None]) -> Any:
        # Typed as strings: a column of None alone would be Arrow's null type, which Ray
        # reads back as NaN floats.
        return self._pa.array(values, type=self._pa.string())

    async def _one(self, row: Any) -> str:
        task = self._task
        request = task.request
        if task.kind == "generate":
            if _text_problem(row) is not None:
                raise RequestError(f"the prompt must be a non-empty string, got {row!r}")

            async def call(client: AsyncClient) -> str:
                response = await client.generate(
                    task.model,
                    row,
                    stream=False,
                    system=request.get("system"),
                    format=request.get("format"),
                    think=request.get("think"),
                    options=request.get("options"),
                    keep_alive=request.get("keep_alive"),
                )
                return response.response or ""

        else:
            if not isinstance(row, list) or not row:
                raise RequestError(f"the messages must be a non-empty list, got {row!r}")
            messages = [_message_dict(m) for m in cast("list[Any]", row)]  # type: ignore[redundant-cast]

            async def call(client: AsyncClient) -> str:
                response = await client.chat(
                    task.model,
                    messages,
                    stream=False,
                    format=request.get("format"),
                    think=request.get("think"),
                    options=request.get("options"),
                    keep_alive=request.get("keep_alive"),
                )
                return response.message.content or ""

        answer: str = await self._send(call)
        return answer


def _plain(value: Any) -> Any:
    """A cell as plain Python: numpy scalars and arrays (Ray's lists) become str and list."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    return value


def _message_dict(message: Any) -> Any:
    if isinstance(message, dict):
        # Arrow gives every message every field of the column's type: drop the empty ones.
        fields = cast("dict[str, Any]", message)
        return {k: _plain(v) for k, v in fields.items() if v is not None}
    return message


def _text_problem(row: Any) -> str | None:
    if not isinstance(row, str):
        return f"the text must be a string, got {type(row).__name__}"
    if not row:
        return "the text is empty (Ollama would drop it and shift the vectors)"
    return None


def _message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
