"""Import time: ``import ollama_anyio`` against ``import ollama``, each in a fresh interpreter.

The figure is the import statement alone, timed inside the fresh process (interpreter start-up
is the same for both and would only dilute the ratio); the wall time of the whole
``python -c`` process is shown too, without a goal.
"""

from __future__ import annotations

import statistics
import time

from ._harness import OFFICIAL, OURS, Context, Row, alternate, at_most, run_python

NAME = "import_time"
_WARMUP = 1  # the first round writes the bytecode caches

_CODE = """\
import time
start = time.perf_counter()
import {module}
seconds = time.perf_counter() - start
import json
print(json.dumps({{"seconds": seconds, "ok": callable({module}.chat)}}))
"""


def run(ctx: Context) -> list[Row]:
    walls: dict[str, list[float]] = {OFFICIAL: [], OURS: []}

    def measure(who: str, module: str) -> float:
        start = time.perf_counter()
        result = run_python(_CODE.format(module=module))
        walls[who].append(time.perf_counter() - start)
        if result["ok"] is not True:
            raise AssertionError(f"{who}: the imported module has no chat()")
        seconds: float = result["seconds"]
        return seconds

    settings = ctx.settings
    medians = alternate(
        [
            (OFFICIAL, lambda: measure(OFFICIAL, "ollama")),
            (OURS, lambda: measure(OURS, "ollama_anyio")),
        ],
        rounds=settings.process_rounds,
        warmup=_WARMUP,
    )
    wall = {who: statistics.median(figures[_WARMUP:]) for who, figures in walls.items()}
    return [
        Row("import", "time", medians[OFFICIAL], medians[OURS], at_most(0.35)),
        Row("import, whole `python -c` process", "time", wall[OFFICIAL], wall[OURS]),
    ]
