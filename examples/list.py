"""The models stored on the server."""

import ollama_anyio as ollama

for model in ollama.list().models:
    details = model.details
    print(f"{model.model}: {model.size} bytes", details.parameter_size if details else "")
