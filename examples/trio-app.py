"""A trio application: three questions answered concurrently, each streamed, under one deadline.

The same code runs on asyncio (pass "asyncio" as the first argument); nothing in it is
specific to either event loop but the last line's choice.
"""

import sys

import anyio

from ollama_anyio import AsyncClient

QUESTIONS = ["Why is the sky blue?", "Why do llamas hum?", "Why does bread rise?"]


async def ask(client: AsyncClient, number: int, question: str) -> None:
    stream = await client.chat("llama3.2", [{"role": "user", "content": question}], stream=True)
    async with stream:
        words = [piece async for piece in stream.text()]
    print(f"[{number}] {question}\n    {''.join(words)} ({stream.final.eval_count} tokens)")


async def main() -> None:
    async with AsyncClient() as client:
        with anyio.fail_after(60):  # one deadline for everything; cancels what still runs
            async with anyio.create_task_group() as tasks:
                for number, question in enumerate(QUESTIONS, 1):
                    tasks.start_soon(ask, client, number, question)


anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "trio")
