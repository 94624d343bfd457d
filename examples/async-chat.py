"""The async client: the same call, awaited (runs on asyncio here; see trio-app.py for trio)."""

import asyncio

from ollama_anyio import AsyncClient


async def main() -> None:
    async with AsyncClient() as client:
        messages = [{"role": "user", "content": "Why is the sky blue?"}]
        response = await client.chat("llama3.2", messages)
        print(response.message.content)


asyncio.run(main())
