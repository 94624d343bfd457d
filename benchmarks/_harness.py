"""What every scenario shares: settings, the server process, alternating rounds, result rows.

Method: the two clients run in alternating rounds (official first in even rounds, ollama-anyio
first in odd ones, so neither always gets the warmer cache), the first rounds are discarded as
warm-up, and each side's figure is the median of its remaining rounds. Each round checks what
the client returned, outside the timed part, and a wrong result stops the scenario.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ollama

import ollama_anyio

from ._bodies import Expected

ROOT = Path(__file__).resolve().parent.parent
OFFICIAL = "official"
OURS = "ollama-anyio"
TIMES = "\u00d7"  # the multiplication sign, as in "0.42 times"


@dataclass(frozen=True)
class Settings:
    """How much to measure: ``quick`` is about a minute on two cores, full a few minutes.

    Many short rounds beat a few long ones on a shared machine: a burst of someone else's work
    then spoils one round of one client, which the median discards.
    """

    quick: bool
    rounds: int  # measured rounds of each in-process scenario (odd: the median is a sample)
    warmup: int  # rounds run first and discarded
    chat_calls: int  # calls per round in the per-call scenarios
    heavy_rounds: int  # measured rounds of the long ones (streams, 64 concurrent chats)
    embed_rounds: int
    process_rounds: int  # fresh interpreters per client (import, first call)
    rss_rounds: int  # fresh interpreters per client for peak RSS

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick=True,
                rounds=7,
                warmup=1,
                chat_calls=100,
                heavy_rounds=3,
                embed_rounds=5,
                process_rounds=3,
                rss_rounds=1,
            )
        return cls(
            quick=False,
            rounds=11,
            warmup=2,
            chat_calls=200,
            heavy_rounds=9,
            embed_rounds=9,
            process_rounds=11,
            rss_rounds=3,
        )


@dataclass(frozen=True)
class Goal:
    """A target for the ratio ollama-anyio / official, from the performance issue."""

    op: str  # "<=" or ">="
    value: float

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.value:g}{TIMES}"


def at_most(value: float) -> Goal:
    return Goal("<=", value)


def at_least(value: float) -> Goal:
    return Goal(">=", value)


@dataclass(frozen=True)
class Row:
    """One line of the result table.

    ``kind`` says how to print the figures and which way is better: ``time`` (seconds, lower),
    ``rate`` (per second, higher, ``unit`` names what is counted), ``memory`` (bytes, lower),
    ``factor`` (a dimensionless ratio, lower). ``ratio`` is ours / official unless given.
    """

    scenario: str
    kind: str
    official: float
    ours: float
    goal: Goal | None = None
    unit: str = ""
    given_ratio: float | None = None

    @property
    def ratio(self) -> float:
        if self.given_ratio is not None:
            return self.given_ratio
        return self.ours / self.official

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "rate"

    @property
    def slower(self) -> bool:
        """Whether ollama-anyio is worse than the official client here."""
        if self.given_ratio is not None:
            return False
        return self.ratio < 1 if self.higher_is_better else self.ratio > 1

    def cells(self) -> list[str]:
        if self.goal is None:
            met = "—"
        elif self.goal.met(self.ratio):
            met = "yes"
        else:
            met = "no, slower" if self.slower else "no"
        return [
            self.scenario,
            self.format(self.official),
            self.format(self.ours),
            f"{self.ratio:.2f}{TIMES}",
            str(self.goal) if self.goal else "—",
            met,
        ]

    def format(self, value: float) -> str:
        if self.kind == "time":
            if value < 1e-3:
                return f"{value * 1e6:.0f} µs"
            if value < 1:
                return f"{value * 1e3:.1f} ms"
            return f"{value:.2f} s"
        if self.kind == "rate":
            return f"{float(f'{value:.3g}'):,.0f} {self.unit}".rstrip()
        if self.kind == "memory":
            return f"{value / 2**20:.0f} MiB"
        return f"{value:.2f}{TIMES}"


@dataclass(frozen=True)
class Context:
    """What a scenario is given."""

    settings: Settings
    url: str
    expected: Expected

    def log(self, message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)


def alternate(
    contenders: Sequence[tuple[str, Callable[[], float]]], rounds: int, warmup: int
) -> dict[str, float]:
    """Run each contender once per round, in alternating order; the median of each's figures."""
    samples: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for index in range(warmup + rounds):
        order = contenders if index % 2 == 0 else list(reversed(contenders))
        for name, measure in order:
            figure = measure()
            if index >= warmup:
                samples[name].append(figure)
    return {name: statistics.median(figures) for name, figures in samples.items()}


async def alternate_async(
    contenders: Sequence[tuple[str, Callable[[], Awaitable[float]]]], rounds: int, warmup: int
) -> dict[str, float]:
    """`alternate` for measurements that run in the caller's event loop."""
    samples: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for index in range(warmup + rounds):
        order = contenders if index % 2 == 0 else list(reversed(contenders))
        for name, measure in order:
            figure = await measure()
            if index >= warmup:
                samples[name].append(figure)
    return {name: statistics.median(figures) for name, figures in samples.items()}


def alternate_clients(
    ctx: Context, measure: Callable[[str, Any], float], rounds: int
) -> dict[str, float]:
    """`alternate` between the official blocking client and ours, both of the fake server."""
    official: Any = ollama.Client(host=ctx.url)
    ours = ollama_anyio.Client(ctx.url)
    try:
        return alternate(
            [(OFFICIAL, lambda: measure(OFFICIAL, official)), (OURS, lambda: measure(OURS, ours))],
            rounds=rounds,
            warmup=ctx.settings.warmup,
        )
    finally:
        official.close()
        ours.close()


async def alternate_async_clients(
    ctx: Context, measure: Callable[[str, Any], Awaitable[float]], rounds: int
) -> dict[str, float]:
    """`alternate_async` between the official async client and ours, in the running loop."""
    official: Any = ollama.AsyncClient(host=ctx.url)
    async with ollama_anyio.AsyncClient(ctx.url) as ours:
        try:
            return await alternate_async(
                [
                    (OFFICIAL, lambda: measure(OFFICIAL, official)),
                    (OURS, lambda: measure(OURS, ours)),
                ],
                rounds=rounds,
                warmup=ctx.settings.warmup,
            )
        finally:
            await official.close()


def clean_environment() -> None:
    """Set the environment that this process and every benchmark subprocess inherit.

    No OLLAMA_* setting or proxy may change what a client does or where it connects. Fresh
    interpreters must import from bytecode caches, as an installed package does: with
    PYTHONDONTWRITEBYTECODE set (some shells set it) a package run from a source tree would be
    compiled anew in every round. The caches go to a directory of their own, not the tree.
    """
    for name in list(os.environ):
        lower = name.lower()
        if lower.startswith("ollama_") or lower in {"http_proxy", "https_proxy", "all_proxy"}:
            del os.environ[name]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ollama-anyio-bench-pyc")


def run_python(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"a benchmark subprocess failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    """Start `benchmarks._server` in its own process; yield its URL; stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the benchmark server did not start")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the server ends when its input does
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
