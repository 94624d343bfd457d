"""client.tools.run: the model calls tools, they run concurrently, results go back, repeat.

Sync tools run in worker threads, async ones as tasks; an error or an unknown tool name is
reported to the model as the tool's result. The streamed form shows each event as it happens.
"""

import anyio
import anyio.lowlevel

from ollama_anyio import (
    AsyncClient,
    ChunkEvent,
    DoneEvent,
    ToolCallEvent,
    ToolResultEvent,
)


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny and 21°C in {city}"


async def get_local_time(city: str) -> str:
    """The local time in a city.

    Args:
        city: the city's name
    """
    await anyio.lowlevel.checkpoint()
    return "14:05"


async def main() -> None:
    question = [{"role": "user", "content": "What is the weather in Tokyo and Toronto?"}]
    async with AsyncClient() as client:
        run = await client.tools.run("llama3.2", question, [get_weather, get_local_time])
        print(f"answer after {run.steps} steps: {run.reply.message.content}")
        print(f"transcript: {[m.role for m in run.messages]}")

        stream = await client.tools.run(
            "llama3.2", question, [get_weather, get_local_time], stream=True
        )
        async with stream as events:
            async for event in events:
                if isinstance(event, ToolCallEvent):
                    print(f"calling {event.call.function.name}({event.call.function.arguments})")
                elif isinstance(event, ToolResultEvent):
                    print(f"  -> {event.message.content}")
                elif isinstance(event, ChunkEvent):
                    print(event.chunk.message.content, end="", flush=True)
                elif isinstance(event, DoneEvent):
                    print(f"\ndone in {event.run.steps} steps")


anyio.run(main)
