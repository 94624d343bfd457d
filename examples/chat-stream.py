"""Print an answer as it is generated, piece by piece."""

import ollama_anyio as ollama

messages = [{"role": "user", "content": "Why is the sky blue?"}]
for part in ollama.chat("llama3.2", messages=messages, stream=True):
    print(part.message.content, end="", flush=True)
print()
