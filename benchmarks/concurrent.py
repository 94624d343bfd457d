"""64 concurrent chats: calls per second with 64 tasks in one task group, on asyncio and trio.

Each of the 64 tasks makes 4 calls in a row through one shared client, so 64 requests are in
flight for most of the round.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._bodies import CONCURRENCY, CONCURRENT_CALLS, MESSAGES, MODEL, check_chat
from ._harness import OFFICIAL, OURS, Context, Row, alternate_async_clients, at_least

NAME = "concurrent"


async def _measure_both(ctx: Context) -> dict[str, float]:
    settings = ctx.settings
    per_task = CONCURRENT_CALLS

    async def measure(who: str, client: Any) -> float:
        responses: list[Any] = []

        async def worker() -> None:
            for _ in range(per_task):
                responses.append(await client.chat(model=MODEL, messages=MESSAGES))

        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(CONCURRENCY):
                group.start_soon(worker)
        seconds = time.perf_counter() - start
        if len(responses) != CONCURRENCY * per_task:
            raise AssertionError(f"{who}: {len(responses)} answers")
        check_chat(who, responses, ctx.expected)
        return seconds / len(responses)

    return await alternate_async_clients(ctx, measure, settings.heavy_rounds)


def run(ctx: Context) -> list[Row]:
    rows = []
    for backend in ("asyncio", "trio"):
        medians = anyio.run(_measure_both, ctx, backend=backend)
        rows.append(
            Row(
                f"{CONCURRENCY} concurrent chats, {backend}",
                "rate",
                1 / medians[OFFICIAL],
                1 / medians[OURS],
                at_least(5),
                unit="calls/s",
            )
        )
    return rows
