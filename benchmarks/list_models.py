"""``list()`` of 20 models, per call: blocking and on asyncio."""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._bodies import check_list
from ._harness import (
    OFFICIAL,
    OURS,
    Context,
    Row,
    alternate_async_clients,
    alternate_clients,
    at_most,
)

NAME = "list_models"


def _time_sync(ctx: Context) -> dict[str, float]:
    calls = ctx.settings.chat_calls

    def measure(who: str, client: Any) -> float:
        responses: list[Any] = []
        list_models = client.list
        start = time.perf_counter()
        for _ in range(calls):
            responses.append(list_models())
        seconds = time.perf_counter() - start
        for response in responses:
            check_list(who, response, ctx.expected)
        return seconds / calls

    return alternate_clients(ctx, measure, ctx.settings.rounds)


async def _time_async(ctx: Context) -> dict[str, float]:
    calls = ctx.settings.chat_calls

    async def measure(who: str, client: Any) -> float:
        responses: list[Any] = []
        list_models = client.list
        start = time.perf_counter()
        for _ in range(calls):
            responses.append(await list_models())
        seconds = time.perf_counter() - start
        for response in responses:
            check_list(who, response, ctx.expected)
        return seconds / calls

    return await alternate_async_clients(ctx, measure, ctx.settings.rounds)


def run(ctx: Context) -> list[Row]:
    sync = _time_sync(ctx)
    asynchronous = anyio.run(_time_async, ctx)
    return [
        Row("list() of 20 models, sync", "time", sync[OFFICIAL], sync[OURS], at_most(0.6)),
        Row(
            "list() of 20 models, asyncio",
            "time",
            asynchronous[OFFICIAL],
            asynchronous[OURS],
            at_most(0.6),
        ),
    ]
