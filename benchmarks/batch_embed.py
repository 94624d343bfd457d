"""Embed 10,000 texts against a server that answers four requests at a time, each after a
fixed delay: our ``client.batch.embed`` (batches of 64, four in flight) against the official
client's best plain loop (the same batches, one after another), texts per second.

The server is this scenario's own (the shared fake answers at once, so concurrency would
not show): asyncio in a thread of this process, a semaphore of four around a 20 ms sleep,
as a GPU server with ``OLLAMA_NUM_PARALLEL=4`` and a fixed time per batch would behave. Its
answers carry eight floats per vector, so decoding costs little next to the delay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from ._harness import OFFICIAL, OURS, Context, Row, alternate_async_clients, at_least

NAME = "batch_embed"

TEXTS = [f"document number {index}" for index in range(10_000)]
BATCH = 64
PARALLEL = 4  # requests the server works on at once
DELAY = 0.02  # seconds per request, whatever its size
_VECTOR = [0.125] * 8


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slots: asyncio.Semaphore
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = json.loads(await reader.readexactly(length)) if length else {}
            inputs = body.get("input", [])
            count = 1 if isinstance(inputs, str) else len(inputs)
            async with slots:
                await asyncio.sleep(DELAY)
            answer = json.dumps({"model": body.get("model"), "embeddings": [_VECTOR] * count})
            data = answer.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(data), data)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextmanager
def _server() -> Iterator[str]:
    """Serve on 127.0.0.1 from a thread of its own; yields the base URL."""
    ready: list[Any] = []
    started = threading.Event()

    async def main() -> None:
        slots = asyncio.Semaphore(PARALLEL)
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, slots), host="127.0.0.1", port=0
        )
        stop = asyncio.Event()
        ready.extend([server.sockets[0].getsockname()[1], asyncio.get_running_loop(), stop])
        started.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    port, loop, stop = ready
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()


async def _measure_both(ctx: Context) -> dict[str, float]:
    async def measure(who: str, client: Any) -> float:
        start = time.perf_counter()
        if who == OURS:
            vectors = await client.batch.embed("bench", TEXTS, batch_size=BATCH, concurrency=4)
        else:  # the official client's best plain loop: the same batches, in turn
            vectors = []
            for first in range(0, len(TEXTS), BATCH):
                answer = await client.embed(model="bench", input=TEXTS[first : first + BATCH])
                vectors += answer["embeddings"]
        seconds = time.perf_counter() - start
        if len(vectors) != len(TEXTS) or list(vectors[-1]) != _VECTOR:
            raise AssertionError(f"{who}: {len(vectors)} vectors")
        return seconds

    rounds = 3 if ctx.settings.quick else 5
    return await alternate_async_clients(ctx, measure, rounds)


def run(ctx: Context) -> list[Row]:
    with _server() as url:
        medians = anyio.run(_measure_both, dataclasses.replace(ctx, url=url))
    return [
        Row(
            f"embed 10,000 texts in batches of {BATCH}, server 4 at a time, asyncio",
            "rate",
            len(TEXTS) / medians[OFFICIAL],
            len(TEXTS) / medians[OURS],
            at_least(3),
            unit="texts/s",
        )
    ]
