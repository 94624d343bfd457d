"""Web search and fetch through ollama.com (needs OLLAMA_API_KEY; nothing else does)."""

import os

import ollama_anyio as ollama

if not os.environ.get("OLLAMA_API_KEY"):
    print("set OLLAMA_API_KEY (an ollama.com key) to search the web")
    raise SystemExit(0)
results = ollama.web_search("What is Ollama?", max_results=3)
for result in results.results:
    print(f"{result.title}: {result.url}")
if results.results and results.results[0].url:
    page = ollama.web_fetch(results.results[0].url)
    print(page.title, f"({len(page.content or '')} characters)")
