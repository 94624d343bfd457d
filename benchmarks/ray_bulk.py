"""Bulk embedding over 1, 2 and 4 servers with Ray Data (``ollama_anyio.ray.embed``).

20,480 texts (320 requests of 64) against emulators in processes of their own, each with one
slot and a fixed 100 ms per request (``--service-time 0.1 --num-parallel 1``), as an embedding
model on a GPU server is: one server does at most 640 texts/s, whatever the client. The
reference is the single-process batch helper (``client.batch.embed``, two requests in
flight, so its server's slot never idles) against one such server.

Figures, texts per second:

- Ray through one server beside the single-process helper (goal: within 10 %);
- scaling efficiency at N servers: throughput at N divided by N times one server's, end to
  end (``ray.data`` job built and consumed, actors started) and once the workers run (from
  the first tenth of the rows delivered to the last row, so the actors' start-up is left
  out; goal at 4 servers: 0.8). The actors' start-up (first batch delivered, less one
  request's time) is logged for each run.

Not in ``--quick`` (it takes two to three minutes), and skipped without the ``ray`` extra.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import anyio

from ._harness import Context, Row, at_least

NAME = "ray_bulk"
QUICK = False  # too long for --quick: run it with --only ray_bulk

MODEL = "all-minilm"
BATCH = 64
TEXTS = 320 * BATCH  # 20,480
SERVICE_TIME = 0.1  # seconds per request of 64 texts, in the model's one slot
# Rows per block of the dataset, so per Ray task: eight requests, as a reader of files of
# 512 rows gives. A task of one request would pay Ray's per-task costs for every request.
BLOCK = 8 * BATCH
COUNTS = (1, 2, 4)


@contextlib.contextmanager
def _emulators(count: int) -> Iterator[list[str]]:
    """``count`` emulators, each in a process of its own; yields their URLs."""
    command = [
        sys.executable,
        "-m",
        "ollama_anyio.testing",
        "--port=0",
        f"--model={MODEL}",
        f"--service-time={SERVICE_TIME}",
        "--num-parallel=1",
        "--request-log=0",
    ]
    with contextlib.ExitStack() as stack:
        urls: list[str] = []
        for _ in range(count):
            process = stack.enter_context(
                subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            )
            stack.callback(process.wait, 30)
            stack.callback(process.terminate)
            assert process.stdout is not None
            urls.append(process.stdout.readline().strip())
        yield urls


async def _helper_rate(url: str, texts: list[str]) -> float:
    from ollama_anyio import AsyncClient

    async with AsyncClient(url) as client:
        await client.embed(MODEL, texts[:1])  # the connection and the model, not timed
        start = time.perf_counter()
        vectors = await client.batch.embed(MODEL, texts, batch_size=BATCH, concurrency=2)
        seconds = time.perf_counter() - start
    if len(vectors) != len(texts):
        raise AssertionError(f"batch.embed: {len(vectors)} vectors for {len(texts)} texts")
    return len(texts) / seconds


def _ray_job(ray: Any, urls: list[str], rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """One job; returns (end-to-end seconds, seconds once running, start-up seconds)."""
    from ollama_anyio.ray import embed

    start = time.perf_counter()
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows) // BLOCK)
    # Rows as they are done, not in input order: a block held back behind a slower earlier
    # one would be counted late, and the running rate would be overstated.
    job = embed(dataset, model=MODEL, servers=urls, batch_size=BATCH, preserve_order=False)
    first = steady = 0.0
    steady_rows = 0
    ids: list[int] = []
    errors = 0
    for batch in job.iter_batches(batch_size=None, batch_format="numpy"):
        now = time.perf_counter()
        first = first or now
        if not steady and len(ids) >= len(rows) // 10:
            # Every actor has long been running: from here on, the servers' pace.
            steady, steady_rows = now, len(ids)
        ids += batch["id"].tolist()
        errors += sum(error is not None for error in batch["error"])
    end = time.perf_counter()
    if sorted(ids) != list(range(len(rows))) or errors:
        raise AssertionError(f"ray: {len(ids)} rows, {len(set(ids))} distinct, {errors=}")
    running = (end - steady) * len(rows) / (len(rows) - steady_rows)
    return end - start, running, first - start - SERVICE_TIME


@contextlib.contextmanager
def _ray_cluster() -> Iterator[Any]:
    """Ray on this machine, on 127.0.0.1, its files in a temporary directory, no dashboard."""
    # Read when Ray is imported: token authentication with the token in the environment (no
    # ~/.ray/auth_token written), no usage statistics.
    os.environ.update(
        RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16), RAY_USAGE_STATS_ENABLED="0"
    )
    import ray

    with tempfile.TemporaryDirectory(prefix="ray-bench-") as temp:
        ray.init(
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            _temp_dir=temp,
            log_to_driver=False,
        )
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        try:
            yield ray
        finally:
            ray.shutdown()


def run(ctx: Context) -> list[Row]:
    if importlib.util.find_spec("ray") is None:  # not imported here: see _ray_cluster
        ctx.log("skipped: the ray extra is not installed (pip install -e '.[ray]')")
        return []
    texts = [f"passage {i} of the corpus, about rivers and their deltas" for i in range(TEXTS)]
    rows = [{"id": i, "text": text} for i, text in enumerate(texts)]
    with _emulators(1) as urls:
        helper = anyio.run(_helper_rate, urls[0], texts)
    ctx.log(f"client.batch.embed, one process, 1 server: {helper:,.0f} texts/s")
    end_to_end: dict[int, float] = {}
    running: dict[int, float] = {}
    with _ray_cluster() as ray:
        for count in COUNTS:
            with _emulators(count) as urls:
                total, busy, startup = _ray_job(ray, urls, rows)
            end_to_end[count] = TEXTS / total
            running[count] = TEXTS / busy
            ctx.log(
                f"ray, {count} server(s): {end_to_end[count]:,.0f} texts/s end to end,"
                f" {running[count]:,.0f} running; actors' start-up {startup:.1f} s"
            )
    result = [
        Row(
            "ray: 1 server, running, vs client.batch.embed in one process",
            "rate",
            helper,
            running[1],
            at_least(0.9),
            unit="texts/s",
            given_ratio=running[1] / helper,
        )
    ]
    for count in COUNTS[1:]:
        for label, rates, goal in (
            ("running", running, at_least(0.8) if count == 4 else None),
            ("end to end", end_to_end, None),
        ):
            result.append(
                Row(
                    f"ray: {count} servers, {label}, vs {count} x 1 server",
                    "rate",
                    count * rates[1],
                    rates[count],
                    goal,
                    unit="texts/s",
                    given_ratio=rates[count] / (count * rates[1]),
                )
            )
    return result
