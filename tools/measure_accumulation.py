"""Per-chunk cost of stream accumulation, next to the cost of decoding the same chunk.

Every chat/generate stream keeps its chunks (one list extend per decoded batch) so that
``final`` and ``collect()`` always see the whole answer; the fold runs only when asked for.
Run: ``python tools/measure_accumulation.py``. A micro-measurement: on a busy machine the
figures move, their ratio less so.
"""

from __future__ import annotations

import timeit

import msgspec

from ollama_anyio._accumulate import Accumulator
from ollama_anyio._ndjson import NDJSONDecoder
from ollama_anyio._types import ChatResponse

LINE = (
    b'{"model":"llama3.2","created_at":"2024-01-01T00:00:00Z",'
    b'"message":{"role":"assistant","content":" word"},"done":false}\n'
)
N = 2000


def main() -> None:
    """Print nanoseconds per chunk for each step."""
    chunks = [msgspec.json.decode(LINE, type=ChatResponse) for _ in range(N)]
    batches = [[chunk] for chunk in chunks]  # the worst case: one chunk per network read

    def accumulate() -> None:
        accumulator: Accumulator[ChatResponse] = Accumulator()
        for batch in batches:
            accumulator.extend(batch, final=False)

    def decode() -> None:
        decoder = NDJSONDecoder(ChatResponse, 200)
        for _ in range(N):
            decoder.feed(LINE)

    def fold() -> None:
        accumulator: Accumulator[ChatResponse] = Accumulator()
        accumulator.extend(chunks, final=True)
        accumulator.result()

    for name, step in (
        ("accumulate, one chunk per read (every stream)", accumulate),
        ("decode, one line per read (every stream)", decode),
        ("fold into the whole answer (final/collect only)", fold),
    ):
        seconds = min(timeit.repeat(step, number=20, repeat=7)) / 20 / N
        print(f"{name}: {seconds * 1e9:.0f} ns per chunk")


if __name__ == "__main__":
    main()
