"""Embed many documents: batches sent concurrently, at most four requests at a time.

TODO(issue 13): switch to the client's batch helper once it lands; this is the plain task-group
version it replaces.
"""

import anyio

from ollama_anyio import AsyncClient

DOCUMENTS = [
    f"Document number {i} is about {topic}."
    for i, topic in enumerate(
        ["llamas", "rivers", "bread", "oceans", "bees", "light", "octopuses", "mountains"] * 5
    )
]
BATCH = 8


async def main() -> None:
    vectors: list[list[float]] = [[] for _ in DOCUMENTS]
    limit = anyio.CapacityLimiter(4)

    async def embed_batch(client: AsyncClient, start: int) -> None:
        async with limit:
            batch = DOCUMENTS[start : start + BATCH]
            response = await client.embed("nomic-embed-text", batch)
        vectors[start : start + len(batch)] = response.embeddings

    async with AsyncClient() as client, anyio.create_task_group() as tasks:
        for start in range(0, len(DOCUMENTS), BATCH):
            tasks.start_soon(embed_batch, client, start)
    print(f"{len(vectors)} vectors of {len(vectors[0])} dimensions")


anyio.run(main)
