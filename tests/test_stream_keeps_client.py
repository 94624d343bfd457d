"""A stream keeps its client alive until it ends or is closed, on both clients.

``for part in Client(host).chat(model, messages, stream=True)`` holds no other reference to
the client: were it collected, its portal would stop under the stream.
"""

from __future__ import annotations

import gc
import threading
import weakref

from conftest import FakeOllama, fixture_bytes
from ollama_anyio import AsyncClient, Client

CHAT_STREAM = fixture_bytes("chat-stream.ndjson")
GENERATE_STREAM = fixture_bytes("generate-stream.ndjson")
HI = [{"role": "user", "content": "hi"}]

BOTH_PATHS = True


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ollama-anyio-portal"]


def test_a_stream_of_a_temporary_client_reads_to_its_end(
    fake: FakeOllama, portal_backend: str
) -> None:
    fake.stream("/api/chat", CHAT_STREAM, chunk_size=9)
    fake.stream("/api/generate", GENERATE_STREAM)
    options = fake.options(backend=portal_backend)
    parts = [part.message.content for part in Client(**options).chat("m", HI, stream=True)]
    assert "".join(parts).startswith("The sky")
    text = "".join(
        part.response or "" for part in Client(**options).generate("m", "hi", stream=True)
    )
    assert text
    gc.collect()
    assert not portal_threads()  # each client was closed once its stream ended


def test_the_client_is_let_go_when_its_stream_ends(fake: FakeOllama, portal_backend: str) -> None:
    fake.stream("/api/chat", CHAT_STREAM)
    client = Client(**fake.options(backend=portal_backend))
    alive = weakref.ref(client)
    stream = client.chat("m", HI, stream=True)
    del client
    gc.collect()
    assert alive() is not None  # held by the stream while it is being read
    assert next(stream).message.role == "assistant"
    list(stream)
    gc.collect()
    assert alive() is None  # the stream is still referenced, the client no longer
    assert not portal_threads()


def test_closing_a_stream_lets_the_client_go(fake: FakeOllama, portal_backend: str) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    stream = Client(**fake.options(backend=portal_backend)).chat("m", HI, stream=True)
    next(stream)
    stream.close()
    gc.collect()
    assert not portal_threads()
    assert fake.streams[0].closed


def test_dropping_a_half_read_stream_of_a_temporary_client(
    fake: FakeOllama, portal_backend: str
) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    for _ in Client(**fake.options(backend=portal_backend)).chat("m", HI, stream=True):
        break  # the stream, then the client, are dropped here
    gc.collect()
    assert not portal_threads()  # closing the client waited for the producer
    assert fake.streams[0].closed


def test_a_view_with_other_options_keeps_the_client(fake: FakeOllama, portal_backend: str) -> None:
    fake.json("GET", "/api/version", {"version": "1"})
    view = Client(**fake.options(backend=portal_backend)).with_options(timeout=5)
    gc.collect()
    assert view.version() == "1"
    del view
    gc.collect()
    assert not portal_threads()


async def test_an_async_stream_holds_its_client_until_it_ends(fake: FakeOllama) -> None:
    fake.stream("/api/chat", CHAT_STREAM)
    client = AsyncClient(**fake.options())
    session = client._session  # closed at the end: nobody else closes the collected client
    alive = weakref.ref(client)
    stream = await client.chat("m", HI, stream=True)
    del client
    gc.collect()
    assert alive() is not None  # held by the stream while it is being read
    parts = [part.message.content async for part in stream]
    assert "".join(parts).startswith("The sky")
    gc.collect()
    assert alive() is None  # let go once it ended
    await session.aclose()
