"""Type checkers see the user's own types: parsed values, accumulated answers, runner results.

A usage snippet is checked with ``mypy --strict`` and every ``reveal_type`` compared with the
type a user expects to see.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

USAGE = """
from __future__ import annotations

import dataclasses
from typing import TypedDict

import msgspec

from ollama_anyio import AsyncClient, Client, ToolRunEvent


class Pet(msgspec.Struct):
    name: str


@dataclasses.dataclass
class City:
    name: str


class Book(TypedDict):
    title: str


def tool(city: str) -> str:
    return city


def blocking(client: Client) -> None:
    reply = client.chat("m", [], format=Pet)
    reveal_type(reply.parse(Pet))
    reveal_type(reply.message.parse(City))
    reveal_type(client.generate("m", "p", format=Book).parse(Book))
    reveal_type(reply.parsed)
    reveal_type(client.generate("m", "p", format=City).parsed.name)
    reveal_type(client.chat("m", [], format="json"))
    with client.chat("m", [], stream=True) as stream:
        reveal_type(stream.collect())
        for piece in stream.text():
            reveal_type(piece)
    run = client.tools.run("m", [], [tool])
    reveal_type(run)
    reveal_type(run.reply)
    with client.tools.run("m", [], [tool], stream=True) as events:
        for event in events:
            reveal_type(event)


async def asynchronous(client: AsyncClient) -> None:
    stream = await client.generate("m", "p", stream=True, format=Pet)
    async with stream:
        final = await stream.collect()
    reveal_type(final.parse(Pet))
    reveal_type(stream.final)
    reveal_type((await client.chat("m", [], format=City)).parsed)
    reveal_type((await client.with_raw_response.generate("m", "p", format=Pet)).parsed.parsed)
    run = await client.tools.run("m", [], [tool])
    reveal_type(run.messages)
    events = await client.tools.run("m", [], [tool], stream=True)
    async with events:
        async for event in events:
            reveal_type(event)
    event_type: type[ToolRunEvent] = ToolRunEvent
"""

EXPECTED = [
    "usage.Pet",
    "usage.City",
    "TypedDict('usage.Book', {'title': builtins.str})",
    "usage.Pet",
    "builtins.str",
    "ollama_anyio._types_responses.ChatResponse",
    "ollama_anyio._types_responses.ChatResponse",
    "builtins.str",
    "ollama_anyio._tool_run.ToolRun",
    "ollama_anyio._types_responses.ChatResponse",
    "ollama_anyio._tool_run.ToolRunEvent",
    "usage.Pet",
    "ollama_anyio._types_responses.GenerateResponse",
    "usage.City",
    "usage.Pet",
    "builtins.list[ollama_anyio._types_base.Message]",
    "ollama_anyio._tool_run.ToolRunEvent",
]


def _plain(revealed: str) -> str:
    # mypy versions differ in quoting and in spelling builtins: compare without either
    return re.sub(r"builtins\.|'", "", revealed)


def test_mypy_strict_reveals_the_users_types(tmp_path: Path) -> None:
    path = tmp_path / "usage.py"
    path.write_text(USAGE)
    out, _, _ = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(path)]
    )
    revealed = [_plain(t) for t in re.findall(r'Revealed type is "(.*)"', out)]
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not errors, out
    assert revealed == [_plain(t) for t in EXPECTED], out
