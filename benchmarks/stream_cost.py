"""The blocking stream's cost per chunk against the asyncio stream's, for each client.

The two are timed in the same rounds, one right after the other (in alternating order), and
the figure is the median of the rounds' ratios: timed in separate scenarios minutes apart, a
ratio of two rates mostly measured how the machine's load had changed in between.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import ollama

import ollama_anyio

from ._bodies import check_stream
from ._harness import OFFICIAL, OURS, Context, Row, at_most
from .stream_async import read_official as read_official_async
from .stream_async import read_ours as read_ours_async
from .stream_sync import read_official, read_ours

NAME = "stream_cost"


def run(ctx: Context) -> list[Row]:
    loop = asyncio.new_event_loop()  # one loop for every async round: clients outlive a round

    def timed(who: str, read: Callable[[], tuple[list[str], Any]]) -> float:
        start = time.perf_counter()
        contents, last = read()
        seconds = time.perf_counter() - start
        check_stream(who, contents, last, ctx.expected)
        return seconds / len(contents)

    def blocking(
        coroutine: Callable[[], Coroutine[Any, Any, tuple[list[str], Any]]],
    ) -> Callable[[], tuple[list[str], Any]]:
        return lambda: loop.run_until_complete(coroutine())

    official_sync: Any = ollama.Client(host=ctx.url)
    official_async: Any = ollama.AsyncClient(host=ctx.url)
    ours_sync = ollama_anyio.Client(ctx.url)
    ours_async = ollama_anyio.AsyncClient(ctx.url)
    pairs: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
        OFFICIAL: (
            lambda: timed(OFFICIAL, lambda: read_official(official_sync)),
            lambda: timed(OFFICIAL, blocking(lambda: read_official_async(official_async))),
        ),
        OURS: (
            lambda: timed(OURS, lambda: read_ours(ours_sync)),
            lambda: timed(OURS, blocking(lambda: read_ours_async(ours_async))),
        ),
    }
    ratios: dict[str, list[float]] = {OFFICIAL: [], OURS: []}
    try:
        settings = ctx.settings
        for index in range(settings.warmup + settings.heavy_rounds):
            for who in (OFFICIAL, OURS) if index % 2 == 0 else (OURS, OFFICIAL):
                sync, asynchronous = pairs[who]
                if index % 2 == 0:
                    sync_cost, async_cost = sync(), asynchronous()
                else:
                    async_cost, sync_cost = asynchronous(), sync()
                if index >= settings.warmup:
                    ratios[who].append(sync_cost / async_cost)
    finally:
        official_sync.close()
        ours_sync.close()
        loop.run_until_complete(official_async.close())
        loop.run_until_complete(ours_async.aclose())
        loop.close()
    official, ours = (statistics.median(ratios[who]) for who in (OFFICIAL, OURS))
    return [
        Row(
            "stream cost per chunk, sync ÷ asyncio",
            "factor",
            official,
            ours,
            at_most(1.3),
            given_ratio=ours,
        )
    ]
