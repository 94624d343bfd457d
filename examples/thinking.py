"""A thinking model: its reasoning and its answer arrive apart."""

import ollama_anyio as ollama

messages = [{"role": "user", "content": "How many r's are in 'strawberry'?"}]
response = ollama.chat("qwen3", messages=messages, think=True)
print("Thinking:\n" + (response.message.thinking or ""))
print("\nAnswer:\n" + response.message.content)
