"""Chat per call, blocking: ``ollama_anyio.Client`` (over its portal) vs ``ollama.Client``.

Each round is a run of calls on one client, answers kept and checked after the clock stops.
"""

from __future__ import annotations

import time
from typing import Any

from ._bodies import MESSAGES, MODEL, check_chat
from ._harness import OFFICIAL, OURS, Context, Row, alternate_clients, at_most

NAME = "chat_sync"


def run(ctx: Context) -> list[Row]:
    settings = ctx.settings
    calls = settings.chat_calls

    def measure(who: str, client: Any) -> float:
        responses: list[Any] = []
        chat = client.chat
        start = time.perf_counter()
        for _ in range(calls):
            responses.append(chat(model=MODEL, messages=MESSAGES))
        seconds = time.perf_counter() - start
        check_chat(who, responses, ctx.expected)
        return seconds / calls

    medians = alternate_clients(ctx, measure, settings.rounds)
    return [Row("chat per call, sync", "time", medians[OFFICIAL], medians[OURS], at_most(0.8))]
