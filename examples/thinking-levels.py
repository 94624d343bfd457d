"""Thinking levels: how much a model reasons, from "low" to "high"."""

import ollama_anyio as ollama

question = [{"role": "user", "content": "What is 17 times 23?"}]
for level in ("low", "medium", "high"):
    response = ollama.chat("qwen3", messages=question, think=level)
    thinking = response.message.thinking or ""
    print(f"[{level}] thought {len(thinking)} characters; answer: {response.message.content}")
