"""A model's details: family, parameters, capabilities."""

import ollama_anyio as ollama

info = ollama.show("llama3.2")
if info.details is not None:
    print("family:", info.details.family)
    print("parameters:", info.details.parameter_size)
print("capabilities:", ", ".join(info.capabilities or []))
