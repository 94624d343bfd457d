"""Log probabilities with generate."""

import ollama_anyio as ollama

response = ollama.generate("llama3.2", "The capital of France is", logprobs=True, top_logprobs=2)
for entry in response.logprobs or []:
    print(f"{entry.token!r}: {entry.logprob:.4f}")
