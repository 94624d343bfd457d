"""Log probabilities of each generated token, with the most likely alternatives."""

import math

import ollama_anyio as ollama

response = ollama.chat(
    "llama3.2",
    messages=[{"role": "user", "content": "Say hello."}],
    logprobs=True,
    top_logprobs=3,
)
for entry in response.logprobs or []:
    others = ", ".join(f"{t.token!r}" for t in entry.top_logprobs or [])
    print(f"{entry.token!r}: p={math.exp(entry.logprob):.3f} (alternatives: {others})")
