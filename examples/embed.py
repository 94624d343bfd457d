"""Embed texts: one vector per input, in order."""

import ollama_anyio as ollama

response = ollama.embed("nomic-embed-text", input=["The sky is blue.", "Grass is green."])
for vector in response.embeddings:
    print(f"{len(vector)} dimensions, starting {vector[:3]}")
