"""Benchmarks of ollama-anyio against the official ``ollama`` client: ``python -m benchmarks``.

One module per scenario, each with ``NAME`` and ``run(ctx) -> list[Row]``; the fake Ollama
server is `benchmarks._server`, run in its own process. See ``benchmarks/README.md``.
"""
