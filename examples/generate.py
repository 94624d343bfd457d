"""Complete a prompt (no chat history)."""

import ollama_anyio as ollama

response = ollama.generate("llama3.2", "Why is the sky blue?")
print(response.response)
