"""Embed a dataset over several Ollama servers with Ray Data (pip install 'ollama-anyio[ray]').

OLLAMA_SERVERS=http://gpu1:11434,http://gpu2:11434 python examples/ray-bulk-embed.py
python examples/ray-bulk-embed.py --emulate     # three emulators, one slot each

`ray.init()` starts Ray on this machine, or joins the cluster RAY_ADDRESS names.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import ray

from ollama_anyio.ray import embed
from ollama_anyio.testing import run_emulator_in_thread

MODEL = "all-minilm"


def embed_corpus(servers: list[str]) -> None:
    rows = [{"id": i, "text": f"Paragraph {i} of the handbook."} for i in range(2_000)]
    # Blocks of 64 rows, one request each: the blocks spread over the servers' actors.
    texts = ray.data.from_items(rows, override_num_blocks=len(rows) // 64)
    vectors = embed(texts, model=MODEL, servers=servers, batch_size=64)
    done = vectors.take_all()  # or .write_parquet(...) for a corpus that does not fit
    in_order = [row["id"] for row in done] == list(range(len(rows)))
    errors = sum(row["error"] is not None for row in done)
    table = np.stack([row["embedding"] for row in done])
    print(
        f"{len(rows)} texts embedded over {len(servers)} servers: {table.shape[0]} vectors"
        f" of {table.shape[1]} {table.dtype}, {errors} errors, {'in order' if in_order else ''}"
    )


def main() -> None:
    with contextlib.ExitStack() as stack:
        if "--emulate" in sys.argv:
            servers = [
                stack.enter_context(run_emulator_in_thread(service_time=0.05, num_parallel=1)).url
                for _ in range(3)
            ]
        else:
            default = os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
            servers = os.environ.get("OLLAMA_SERVERS", default).split(",")
        ray.init()
        try:
            embed_corpus(servers)
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
