"""Embed many texts with bounded concurrency: results in input order, progress as it goes.

python examples/batch_embed_helper.py             # the Ollama at OLLAMA_HOST
python examples/batch_embed_helper.py --emulate   # the built-in emulator
"""

from __future__ import annotations

import sys

import anyio

from ollama_anyio import AsyncClient
from ollama_anyio.testing import OllamaEmulator

MODEL = "all-minilm"


async def embed_corpus(host: str | None) -> None:
    texts = [f"Paragraph {i} of the handbook." for i in range(2_000)]

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} embedded", end="", file=sys.stderr)

    async with AsyncClient(host) as client:
        await client.models.ensure(MODEL)
        vectors = await client.batch.embed(
            MODEL, texts, batch_size=100, concurrency=4, on_progress=progress, as_arrays=True
        )
    print(f"\n{len(vectors)} vectors of {len(vectors[0])} float32 values, in input order")


async def main() -> None:
    if "--emulate" in sys.argv:
        async with OllamaEmulator() as emulator:
            await embed_corpus(emulator.url)
    else:
        await embed_corpus(None)


if __name__ == "__main__":
    anyio.run(main)
