"""Thinking with generate: the reasoning is in .thinking, the answer in .response."""

import ollama_anyio as ollama

response = ollama.generate("qwen3", "Why is the sky blue?", think=True)
print("Thinking:\n" + (response.thinking or ""))
print("\nAnswer:\n" + response.response)
