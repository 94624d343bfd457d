"""Pull a model only if the server lacks it, with one progress bar over all its layers; then
keep it loaded for an hour, and unload it.

    python examples/ensure_model.py qwen3 [--emulate]
"""

from __future__ import annotations

import sys

from ollama_anyio import Client, TransferProgress
from ollama_anyio.testing import OllamaEmulator


def show(progress: TransferProgress) -> None:
    percent = int(progress.fraction * 100)
    print(f"\r{progress.status:<30} {percent:3d}% {progress.completed}/{progress.total} B", end="")


def manage(host: str | None, model: str) -> None:
    with Client(host) as client:
        if client.models.ensure(model, on_progress=show):
            print()
        print(f"{model} is on the server")
        client.models.load(model, keep_alive="1h")
        print("loaded:", client.models.is_loaded(model))
        client.models.unload(model)
        print("loaded after unload:", client.models.is_loaded(model))


if __name__ == "__main__":
    name = next((a for a in sys.argv[1:] if not a.startswith("--")), "qwen3")
    if "--emulate" in sys.argv:
        with OllamaEmulator.start_in_thread(models=["llama3.2"]) as emulator:
            manage(emulator.url, name)
    else:
        manage(None, name)
