"""Stream of 10,000 chunks, blocking: chunks per second through ``for part in client.chat(...)``."""

from __future__ import annotations

import time
from typing import Any

from ._bodies import MESSAGES, MODEL, check_stream
from ._harness import OFFICIAL, OURS, Context, Row, alternate_clients, at_least

NAME = "stream_sync"


def read_official(client: Any) -> tuple[list[str], Any]:
    contents: list[str] = []
    part = None
    for part in client.chat(model=MODEL, messages=MESSAGES, stream=True):
        contents.append(part.message.content)
    return contents, part


def read_ours(client: Any) -> tuple[list[str], Any]:
    contents: list[str] = []
    part = None
    with client.chat(model=MODEL, messages=MESSAGES, stream=True) as parts:
        for part in parts:
            contents.append(part.message.content)
    return contents, part


def run(ctx: Context) -> list[Row]:
    settings = ctx.settings

    def measure(who: str, client: Any) -> float:
        read = read_official if who == OFFICIAL else read_ours
        start = time.perf_counter()
        contents, last = read(client)
        seconds = time.perf_counter() - start
        check_stream(who, contents, last, ctx.expected)
        return seconds / len(contents)

    medians = alternate_clients(ctx, measure, settings.heavy_rounds)
    return [
        Row(
            "stream of 10,000 chunks, sync",
            "rate",
            1 / medians[OFFICIAL],
            1 / medians[OURS],
            at_least(2),
            unit="chunks/s",
        )
    ]
