"""Structured output with the async client, the type given as format= directly."""

import asyncio

import msgspec

from ollama_anyio import AsyncClient


class Planet(msgspec.Struct):
    name: str
    moons: int
    has_rings: bool


class Planets(msgspec.Struct):
    planets: list[Planet]


async def main() -> None:
    async with AsyncClient() as client:
        reply = await client.chat(
            "llama3.2",
            [{"role": "user", "content": "List two planets with their moons, as JSON."}],
            format=Planets,
            options={"temperature": 0},
        )
        for planet in reply.parse(Planets).planets:
            print(f"{planet.name}: {planet.moons} moons, rings={planet.has_rings}")


asyncio.run(main())
