"""``python -m benchmarks [--quick] [--only NAME ...] [--markdown]``: run, then print the table."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from types import ModuleType

from . import (
    batch_embed,
    chat_async,
    chat_sync,
    concurrent,
    embed,
    first_call,
    import_time,
    list_models,
    ray_bulk,
    stream_async,
    stream_cost,
    stream_sync,
)
from ._bodies import Expected
from ._harness import Context, Row, Settings, clean_environment, fake_server

SCENARIOS: tuple[ModuleType, ...] = (
    import_time,
    first_call,
    chat_sync,
    chat_async,
    stream_sync,
    stream_async,
    stream_cost,
    concurrent,
    embed,
    batch_embed,
    list_models,
    ray_bulk,
)
HEADERS = ["scenario", "official", "ollama-anyio", "ratio", "goal", "met?"]


def _select(only: Sequence[str] | None, quick: bool = False) -> list[ModuleType]:
    if not only:
        # A scenario too long for a quick run (QUICK = False) runs when named.
        return [m for m in SCENARIOS if not quick or getattr(m, "QUICK", True)]
    chosen = [m for m in SCENARIOS if any(m.NAME.startswith(name) for name in only)]
    if not chosen:
        names = ", ".join(m.NAME for m in SCENARIOS)
        raise SystemExit(f"no scenario matches {' '.join(only)}; there are: {names}")
    return chosen


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - not on this platform
        return "?"


def _note(settings: Settings, load_before: str) -> str:
    mode = "quick" if settings.quick else "full"
    return (
        f"{mode} mode; Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; ollama "
        f"{importlib.metadata.version('ollama')}, ollama-anyio "
        f"{importlib.metadata.version('ollama-anyio')}; medians of {settings.rounds} "
        "alternating rounds after warm-up (fresh processes: "
        f"{settings.process_rounds}; streams and concurrent chats: {settings.heavy_rounds}; embed: "
        f"{settings.embed_rounds}; peak RSS: {settings.rss_rounds}); load average "
        f"{load_before} before, {_load()} after (other work on the machine adds noise)"
    )


def _plain(rows: Sequence[Row]) -> str:
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = []
    for index, line in enumerate(table):
        lines.append(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|" + "---:|" * (len(HEADERS) - 1)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="ollama-anyio against the official ollama client, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds: about a minute")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these scenarios (a prefix is enough: 'stream' runs both stream ones): "
        + ", ".join(m.NAME for m in SCENARIOS),
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print only the Markdown table (and its note)"
    )
    args = parser.parse_args(argv)
    chosen = _select(args.only, args.quick)

    clean_environment()
    settings = Settings.for_mode(args.quick)
    rows: list[Row] = []
    failed: list[str] = []
    started = time.perf_counter()
    load_before = _load()
    with fake_server() as url:
        ctx = Context(settings, url, Expected.build())
        for module in chosen:
            print(f"{module.NAME} ...", file=sys.stderr, flush=True)
            begun = time.perf_counter()
            try:
                new: list[Row] = module.run(ctx)
            except Exception:
                traceback.print_exc()
                failed.append(module.NAME)
                continue
            rows += new
            for row in new:
                ctx.log(" | ".join(row.cells()))
            ctx.log(f"({time.perf_counter() - begun:.1f} s)")
    elapsed = time.perf_counter() - started

    note = _note(settings, load_before)
    slower = [row.scenario for row in rows if row.slower]
    verdict = "slower than the official client: " + (", ".join(slower) if slower else "none")
    if not args.markdown:
        print()
        print(_plain(rows))
        print()
        print(verdict)
        if failed:
            print("FAILED: " + ", ".join(failed))
        print(f"({elapsed:.0f} s)")
        print()
    print(f"{note}\n\n{_markdown(rows)}\n\n{verdict}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
