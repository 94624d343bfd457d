"""Chat per call, async: ``ollama_anyio.AsyncClient`` against ``ollama.AsyncClient``.

Both run on asyncio and then on trio (httpx, under the official client, supports trio too), in
one event loop per backend with both clients open.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import ollama

import ollama_anyio

from ._bodies import MESSAGES, MODEL, check_chat
from ._harness import OFFICIAL, OURS, Context, Row, alternate_async, at_most

NAME = "chat_async"


async def _measure_both(ctx: Context) -> dict[str, float]:
    settings = ctx.settings
    calls = settings.chat_calls

    async def measure(who: str, client: Any) -> float:
        responses: list[Any] = []
        chat = client.chat
        start = time.perf_counter()
        for _ in range(calls):
            responses.append(await chat(model=MODEL, messages=MESSAGES))
        seconds = time.perf_counter() - start
        check_chat(who, responses, ctx.expected)
        return seconds / calls

    official: Any = ollama.AsyncClient(host=ctx.url)
    async with ollama_anyio.AsyncClient(ctx.url) as ours:
        try:
            return await alternate_async(
                [
                    (OFFICIAL, lambda: measure(OFFICIAL, official)),
                    (OURS, lambda: measure(OURS, ours)),
                ],
                rounds=settings.rounds,
                warmup=settings.warmup,
            )
        finally:
            await official.close()


def run(ctx: Context) -> list[Row]:
    rows = []
    for backend in ("asyncio", "trio"):
        medians = anyio.run(_measure_both, ctx, backend=backend)
        rows.append(
            Row(
                f"chat per call, {backend}",
                "time",
                medians[OFFICIAL],
                medians[OURS],
                at_most(0.5),
            )
        )
    return rows
