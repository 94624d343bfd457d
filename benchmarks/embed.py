"""Embed 1,000 inputs into 768 floats each: time per call, blocking and on asyncio, and peak RSS.

Peak RSS is the whole process's (``ru_maxrss``), read in a fresh interpreter per client right
after its one ``embed`` call, so it counts the import, the client and the decoded answer.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._bodies import EMBED_INPUT, EMBED_INPUTS, MODEL, check_embed, embed_inputs
from ._harness import (
    OFFICIAL,
    OURS,
    TIMES,
    Context,
    Row,
    alternate,
    alternate_async_clients,
    alternate_clients,
    at_most,
    run_python,
)

NAME = "embed"

_SYNC_CALL = """\
client = ollama.Client(host={url!r})
response = client.embed(model={model!r}, input=inputs{extra})
"""
_ASYNC_CALL = """\
import asyncio

async def main():
    client = ollama.AsyncClient(host={url!r})
    return await client.embed(model={model!r}, input=inputs{extra})

response = asyncio.run(main())
"""
# On Linux a child's ru_maxrss starts at its parent's peak (the kernel keeps it across fork and
# exec), so the peak of this process alone is read from VmHWM where /proc has it.
_RSS_CODE = """\
import resource
import {module} as ollama
inputs = [{input!r}.format(index) for index in range({count})]
{call}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:
    pass
import json
from benchmarks._bodies import Expected, check_embed
check_embed({who!r}, response, Expected.build())
print(json.dumps({{"peak": peak}}))
"""


def _peak_rss(ctx: Context, asynchronous: bool, arrays: bool = False) -> dict[str, float]:
    """Peak RSS of each client; with ``arrays``, ours decodes into float32 arrays."""

    def measure(who: str, module: str) -> float:
        extra = ", as_arrays=True" if arrays and who == OURS else ""
        call = (_ASYNC_CALL if asynchronous else _SYNC_CALL).format(
            url=ctx.url, model=MODEL, extra=extra
        )
        code = _RSS_CODE.format(
            module=module, input=EMBED_INPUT, count=EMBED_INPUTS, call=call, who=who
        )
        peak: float = run_python(code)["peak"]
        return peak

    return alternate(
        [
            (OFFICIAL, lambda: measure(OFFICIAL, "ollama")),
            (OURS, lambda: measure(OURS, "ollama_anyio")),
        ],
        rounds=ctx.settings.rss_rounds,
        warmup=0,
    )


def _time_sync(ctx: Context, inputs: list[str]) -> dict[str, float]:
    def measure(who: str, client: Any) -> float:
        start = time.perf_counter()
        response = client.embed(model=MODEL, input=inputs)
        seconds = time.perf_counter() - start
        check_embed(who, response, ctx.expected)
        return seconds

    return alternate_clients(ctx, measure, ctx.settings.embed_rounds)


async def _time_async(ctx: Context, inputs: list[str]) -> dict[str, float]:
    async def measure(who: str, client: Any) -> float:
        start = time.perf_counter()
        response = await client.embed(model=MODEL, input=inputs)
        seconds = time.perf_counter() - start
        check_embed(who, response, ctx.expected)
        return seconds

    return await alternate_async_clients(ctx, measure, ctx.settings.embed_rounds)


def run(ctx: Context) -> list[Row]:
    inputs = embed_inputs()
    sync = _time_sync(ctx, inputs)
    asynchronous = anyio.run(_time_async, ctx, inputs)
    sync_rss = _peak_rss(ctx, asynchronous=False)
    async_rss = _peak_rss(ctx, asynchronous=True)
    arrays_rss = _peak_rss(ctx, asynchronous=False, arrays=True)
    title = f"embed 1,000 {TIMES} 768 floats"
    return [
        Row(f"{title}, sync", "time", sync[OFFICIAL], sync[OURS], at_most(0.3)),
        Row(f"{title}, asyncio", "time", asynchronous[OFFICIAL], asynchronous[OURS], at_most(0.3)),
        Row(
            f"{title}, sync, peak RSS",
            "memory",
            sync_rss[OFFICIAL],
            sync_rss[OURS],
            at_most(0.6),
        ),
        Row(
            f"{title}, asyncio, peak RSS",
            "memory",
            async_rss[OFFICIAL],
            async_rss[OURS],
            at_most(0.6),
        ),
        Row(
            f"{title}, sync, peak RSS, ours as_arrays=True",
            "memory",
            arrays_rss[OFFICIAL],
            arrays_rss[OURS],
            at_most(0.6),
        ),
    ]
