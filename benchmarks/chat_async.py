"""Chat per call, async: ``ollama_anyio.AsyncClient`` against ``ollama.AsyncClient``.

Both run on asyncio and then on trio (httpx, under the official client, supports trio too), in
one event loop per backend with both clients open.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._bodies import MESSAGES, MODEL, check_chat
from ._harness import OFFICIAL, OURS, Context, Row, alternate_async_clients, at_most

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

    return await alternate_async_clients(ctx, measure, settings.rounds)


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
