"""Where a client spends its time: ``python -m benchmarks.profiling WORKLOAD [...]``.

Runs one workload of the benchmarks (ollama-anyio by default, ``--official`` for the official
client) against the fake server under cProfile, in the calling thread and in every thread the
client starts (the blocking client's portal runs the event loop in its own thread). Prints, per
thread, the time by package (httpx, httpcore, h11, anyio, msgspec, ollama_anyio, ...) per call or
per chunk, then the functions with the most own time.

cProfile adds a fixed cost to every Python function call and none to C code, so pure-Python
layers look heavier than they are: compare shares between runs, not with the benchmark table.
Time a thread spends waiting (epoll, locks, futures) is shown as waiting.
"""

from __future__ import annotations

import argparse
import cProfile
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import anyio
import ollama

import ollama_anyio

from ._bodies import CONCURRENCY, MESSAGES, MODEL, embed_inputs
from ._harness import clean_environment, fake_server

# (pattern in a profile entry's file name or C function name, group); the first match wins.
_GROUPS = [
    (r"select\.epoll|selectors\.py|method 'poll'|method 'select'", "waiting (event loop idle)"),
    (
        r"_thread\.lock|method 'acquire'|Condition|threading\.py|concurrent/futures",
        "waiting/threads",
    ),
    (r"msgspec", "msgspec"),
    (r"/ollama_anyio/", "ollama_anyio"),
    (r"/ollama/", "ollama (official)"),
    (r"/httpx/", "httpx"),
    (r"/httpcore/", "httpcore"),
    (r"/h11/", "h11"),
    (r"/anyio/", "anyio"),
    (r"/trio/|/outcome/|/sniffio/", "trio"),
    (r"/asyncio/", "asyncio"),
    (r"pydantic", "pydantic"),
    (r"/json/|_json", "json (stdlib)"),
    (r"socket|ssl", "socket calls"),
]


def _group(entry: tuple[str, int, str]) -> str:
    filename, _, function = entry
    text = f"{filename} {function}"
    for pattern, name in _GROUPS:
        if re.search(pattern, text):
            return name
    return "other (stdlib, builtins)"


_Key = tuple[str, int, str]  # file, line, function (file "~" for C functions)


def _snapshot(profile: cProfile.Profile) -> dict[_Key, tuple[int, float]]:
    """Calls and own time per function so far; safe while another thread is being profiled."""
    totals: dict[_Key, tuple[int, float]] = {}
    for entry in profile.getstats():
        code = entry.code
        if isinstance(code, str):
            key = ("~", 0, code)
        else:
            key = (code.co_filename, code.co_firstlineno, code.co_name)
        calls, seconds = totals.get(key, (0, 0.0))
        totals[key] = (calls + entry.callcount, seconds + entry.inlinetime)
    return totals


class _Profiles:
    """A cProfile profiler in this thread and in every thread started while it is active.

    Enter it before the client starts its threads; `mark` after the warm-up: the report counts
    only what ran after the mark.
    """

    def __init__(self) -> None:
        self._profiles: list[tuple[str, cProfile.Profile]] = []
        self._marks: dict[int, dict[_Key, tuple[int, float]]] = {}
        self._lock = threading.Lock()

    def _in_new_thread(self, frame: FrameType, event: str, arg: Any) -> None:
        sys.setprofile(None)
        self._start(threading.current_thread().name)

    def _start(self, name: str) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self._profiles.append((name, profile))
        profile.enable()

    def __enter__(self) -> _Profiles:
        threading.setprofile(self._in_new_thread)
        self._start("main")
        return self

    def __exit__(self, *exc: object) -> None:
        threading.setprofile(None)
        self._profiles[0][1].disable()  # the others end with their threads

    def mark(self) -> None:
        with self._lock:
            self._marks = {id(p): _snapshot(p) for _, p in self._profiles}

    def since_mark(self) -> list[tuple[str, dict[_Key, tuple[int, float]]]]:
        result = []
        with self._lock:
            profiles = list(self._profiles)
        for name, profile in profiles:
            before = self._marks.get(id(profile), {})
            delta = {}
            for key, (calls, seconds) in _snapshot(profile).items():
                old_calls, old_seconds = before.get(key, (0, 0.0))
                if calls > old_calls:
                    delta[key] = (calls - old_calls, seconds - old_seconds)
            result.append((name, delta))
        return result


def _report(profiles: _Profiles, ops: int, unit: str, top: int) -> None:
    for name, entries in profiles.since_mark():
        total = sum(seconds for _, seconds in entries.values())
        if total < 1e-3:
            continue
        by_group: dict[str, float] = defaultdict(float)
        for key, (_, seconds) in entries.items():
            by_group[_group(key)] += seconds
        print(f"\nthread {name!r}: {total * 1e6 / ops:,.1f} µs per {unit} profiled")
        for group, seconds in sorted(by_group.items(), key=lambda item: -item[1]):
            share = 100 * seconds / total
            print(f"  {group:<28} {seconds * 1e6 / ops:9.2f} µs/{unit}  {share:5.1f} %")
        print(f"  top {top} functions by own time (µs per {unit}, calls per {unit}):")
        ranked = sorted(entries.items(), key=lambda item: -item[1][1])[:top]
        for (filename, line, function), (calls, seconds) in ranked:
            where = re.sub(r".*site-packages/|.*/src/|.*/lib/python3[.0-9]*/", "", filename)
            print(f"    {seconds * 1e6 / ops:8.2f}  {calls / ops:6.2f}  {where}:{line}({function})")


def _client(official: bool, url: str, asynchronous: bool) -> Any:
    if official:
        return ollama.AsyncClient(host=url) if asynchronous else ollama.Client(host=url)
    return ollama_anyio.AsyncClient(url) if asynchronous else ollama_anyio.Client(url)


async def _aclose(client: Any) -> None:
    if isinstance(client, ollama_anyio.AsyncClient):
        await client.aclose()
    else:
        await client.close()


async def _stream_async(client: Any, official: bool, streams: int) -> int:
    count = 0
    for _ in range(streams):
        if official:
            async for _part in await client.chat(model=MODEL, messages=MESSAGES, stream=True):
                count += 1
        else:
            async with await client.chat(model=MODEL, messages=MESSAGES, stream=True) as parts:
                async for _part in parts:
                    count += 1
    return count


def _stream_sync(client: Any, streams: int) -> int:
    count = 0
    for _ in range(streams):
        for _part in client.chat(model=MODEL, messages=MESSAGES, stream=True):
            count += 1
    return count


async def _concurrent(client: Any, per_task: int) -> int:
    async def worker() -> None:
        for _ in range(per_task):
            await client.chat(model=MODEL, messages=MESSAGES)

    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENCY):
            group.start_soon(worker)
    return CONCURRENCY * per_task


WORKLOADS = {
    "chat_sync": "calls of chat() on the blocking client",
    "chat_async": "calls of chat() on the async client",
    "stream_sync": "chunks of 10,000-chunk streams, blocking",
    "stream_async": "chunks of 10,000-chunk streams, async",
    "concurrent": "calls of 64 concurrent tasks",
    "embed_sync": "embed() calls of 1,000 x 768 floats, blocking",
    "list_sync": "list() calls, blocking",
}


def profile(workload: str, url: str, official: bool, backend: str, n: int, top: int) -> None:
    """Profile ``n`` operations of ``workload`` and print the report."""
    unit = "chunk" if workload.startswith("stream") else "call"
    if workload.endswith("_sync"):

        def chat(client: Any) -> int:
            for _ in range(n):
                client.chat(model=MODEL, messages=MESSAGES)
            return n

        def embed(client: Any) -> int:
            inputs = embed_inputs()
            for _ in range(n):
                client.embed(model=MODEL, input=inputs)
            return n

        def list_models(client: Any) -> int:
            for _ in range(n):
                client.list()
            return n

        bodies: dict[str, Callable[[Any], int]] = {
            "chat_sync": chat,
            "stream_sync": lambda client: _stream_sync(client, n),
            "embed_sync": embed,
            "list_sync": list_models,
        }
        body = bodies[workload]
        with _Profiles() as profiles:
            client: Any = _client(official, url, asynchronous=False)
            try:
                body(client)  # warm-up: threads started, connections open, caches filled
                profiles.mark()
                start = time.perf_counter()
                ops = body(client)
                elapsed = time.perf_counter() - start
            finally:
                client.close()
    else:

        async def run_async() -> tuple[int, float, _Profiles]:
            client = _client(official, url, asynchronous=True)
            try:

                async def body() -> int:
                    if workload == "chat_async":
                        for _ in range(n):
                            await client.chat(model=MODEL, messages=MESSAGES)
                        return n
                    if workload == "stream_async":
                        return await _stream_async(client, official, n)
                    return await _concurrent(client, n)

                with _Profiles() as profiles:
                    await body()
                    profiles.mark()
                    start = time.perf_counter()
                    ops = await body()
                    elapsed = time.perf_counter() - start
            finally:
                await _aclose(client)
            return ops, elapsed, profiles

        ops, elapsed, profiles = anyio.run(run_async, backend=backend)
    who = "official" if official else "ollama-anyio"
    print(
        f"{who}, {workload}{'' if workload.endswith('_sync') else ' on ' + backend}: {ops} "
        f"{unit}s in {elapsed:.3f} s under the profiler ({elapsed * 1e6 / ops:,.1f} µs per {unit})"
    )
    _report(profiles, ops, unit, top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--official", action="store_true", help="profile the official client")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument(
        "-n",
        type=int,
        default=0,
        help="calls (streams for stream_*, calls per task for concurrent)",
    )
    parser.add_argument("--top", type=int, default=15, help="functions to list per thread")
    args = parser.parse_args(argv)
    defaults = {"stream_sync": 3, "stream_async": 3, "concurrent": 4, "embed_sync": 3}
    n = args.n or defaults.get(args.workload, 500)
    clean_environment()
    with fake_server() as url:
        profile(args.workload, url, args.official, args.backend, n, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
