"""Tool calling with the async client; the tool is a coroutine."""

import asyncio

from ollama_anyio import AsyncClient


async def subtract_two_numbers(a: int, b: int) -> int:
    """Subtract the second number from the first.

    Args:
        a: the first number
        b: the number to take away
    """
    return a - b


async def main() -> None:
    async with AsyncClient() as client:
        messages = [{"role": "user", "content": "What is ten minus four?"}]
        response = await client.chat("llama3.2", messages, tools=[subtract_two_numbers])
        for call in response.message.tool_calls or []:
            result = await subtract_two_numbers(**call.function.arguments)
            print(f"called {call.function.name}({call.function.arguments}) = {result}")
            messages += [
                response.message.model_dump(),
                {"role": "tool", "content": str(result), "tool_name": call.function.name},
            ]
        final = await client.chat("llama3.2", messages)
        print("final answer:", final.message.content)


asyncio.run(main())
