"""Pull a model and show its progress, layer by layer (no progress-bar library needed)."""

import ollama_anyio as ollama

current = None
for progress in ollama.pull("llama3.2", stream=True):
    if progress.digest and progress.digest != current:
        current = progress.digest
        print(f"\nlayer {current[7:19]}", end="")
    if progress.total and progress.completed is not None:
        print(
            f"\rlayer {current and current[7:19]}: {100 * progress.completed // progress.total}%",
            end="",
        )
    elif not progress.digest:
        print(f"\n{progress.status}", end="")
print()
