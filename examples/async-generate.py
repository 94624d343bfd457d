"""An awaited completion."""

import asyncio

from ollama_anyio import AsyncClient


async def main() -> None:
    async with AsyncClient() as client:
        response = await client.generate("llama3.2", "Why is the sky blue?")
        print(response.response)


asyncio.run(main())
