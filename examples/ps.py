"""Which models are loaded, how big they are, and how much of each is on the GPU."""

import ollama_anyio as ollama

ollama.generate("llama3.2", "")  # an empty prompt only loads the model
for model in ollama.ps().models:
    print(f"{model.model}: {model.size} bytes, {model.size_vram} in VRAM, until {model.expires_at}")
