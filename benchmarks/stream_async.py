"""Stream of 10,000 chunks, async: chunks per second through ``async for``, on asyncio and trio."""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._bodies import MESSAGES, MODEL, check_stream
from ._harness import OFFICIAL, OURS, Context, Row, alternate_async_clients, at_least

NAME = "stream_async"


async def read_official(client: Any) -> tuple[list[str], Any]:
    contents: list[str] = []
    part = None
    async for part in await client.chat(model=MODEL, messages=MESSAGES, stream=True):
        contents.append(part.message.content)
    return contents, part


async def read_ours(client: Any) -> tuple[list[str], Any]:
    contents: list[str] = []
    part = None
    async with await client.chat(model=MODEL, messages=MESSAGES, stream=True) as parts:
        async for part in parts:
            contents.append(part.message.content)
    return contents, part


async def _measure_both(ctx: Context) -> dict[str, float]:
    settings = ctx.settings

    async def measure(who: str, client: Any) -> float:
        read = read_official if who == OFFICIAL else read_ours
        start = time.perf_counter()
        contents, last = await read(client)
        seconds = time.perf_counter() - start
        check_stream(who, contents, last, ctx.expected)
        return seconds / len(contents)

    return await alternate_async_clients(ctx, measure, settings.heavy_rounds)


def run(ctx: Context) -> list[Row]:
    rows = []
    for backend in ("asyncio", "trio"):
        medians = anyio.run(_measure_both, ctx, backend=backend)
        rows.append(
            Row(
                f"stream of 10,000 chunks, {backend}",
                "rate",
                1 / medians[OFFICIAL],
                1 / medians[OURS],
                at_least(3),
                unit="chunks/s",
            )
        )
    return rows
