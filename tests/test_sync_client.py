"""The blocking Client: a portal over AsyncClient, on both portal backends and both paths.

Every test that takes ``fake`` runs over real sockets (our transport, the direct sender) and
over httpx's MockTransport (see conftest).
"""

from __future__ import annotations

import array
import gc
import inspect
import threading
from collections.abc import Iterator

import anyio
import pytest

from conftest import FakeOllama, fixture_bytes
from ollama_anyio import (
    AsyncClient,
    ChatResponse,
    Client,
    IncompleteStreamError,
    RequestError,
    ResponseError,
    Stream,
)

CHAT_STREAM = fixture_bytes("chat-stream.ndjson")
HI = [{"role": "user", "content": "hi"}]


BOTH_PATHS = True


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ollama-anyio-portal"]


@pytest.fixture
def client(fake: FakeOllama, portal_backend: str) -> Iterator[Client]:
    with Client(**fake.options(backend=portal_backend)) as client:
        yield client


def test_no_thread_until_first_call(fake: FakeOllama, portal_backend: str) -> None:
    before = len(portal_threads())
    client = Client(**fake.options(backend=portal_backend))
    assert len(portal_threads()) == before
    fake.json("GET", "/api/version", {"version": "0.12.6"})
    assert client.version() == "0.12.6"
    assert len(portal_threads()) == before + 1
    client.close()
    client.close()  # twice is fine
    assert len(portal_threads()) == before
    with pytest.raises(RuntimeError, match="closed"):
        client.version()


def test_plain_call(fake: FakeOllama, client: Client) -> None:
    fake.json("POST", "/api/chat", fixture_bytes("chat-response.json"))
    response = client.chat("llama3.2", HI)
    assert isinstance(response, ChatResponse)
    assert response["message"]["content"] == response.message.content != ""


def test_stream_is_read_in_batches_and_in_order(fake: FakeOllama, client: Client) -> None:
    fake.stream("/api/chat", CHAT_STREAM, chunk_size=7)
    stream = client.chat("m", HI, stream=True)
    assert isinstance(stream, Stream)
    parts = [p.message.content for p in stream]
    expected = [line for line in CHAT_STREAM.splitlines()]
    assert len(parts) == len(expected)
    assert "".join(parts).startswith("The sky")
    assert fake.streams[0].closed


def test_leaving_with_early_closes_the_response(fake: FakeOllama, client: Client) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    with client.chat("m", HI, stream=True) as stream:
        next(stream)
    assert fake.streams[0].closed
    fake.json("GET", "/api/version", {"version": "1"})
    assert client.version() == "1"  # still usable


def test_dropping_a_half_read_stream_closes_it(fake: FakeOllama, portal_backend: str) -> None:
    fake.stream("/api/chat", CHAT_STREAM, hang=True)
    client = Client(**fake.options(backend=portal_backend))
    for _ in client.chat("m", HI, stream=True):
        break  # the stream object is dropped here
    gc.collect()
    client.close()  # waits for the portal's tasks, so the producer has finished
    assert fake.streams[0].closed


def test_errors_cross_the_portal(fake: FakeOllama, client: Client) -> None:
    fake.json("POST", "/api/show", fixture_bytes("error-404.json"), status=404)
    with pytest.raises(ResponseError) as info:
        client.show("nope")
    assert info.value.status_code == 404
    with pytest.raises(RequestError):
        client.show("")
    truncated = b"".join(CHAT_STREAM.splitlines(keepends=True)[:5])
    fake.stream("/api/chat", truncated)
    received = []
    with pytest.raises(IncompleteStreamError):
        for part in client.chat("m", HI, stream=True):
            received.append(part)
    assert len(received) == 5


def test_error_line_after_chunks(fake: FakeOllama, client: Client) -> None:
    fake.stream("/api/pull", fixture_bytes("error-in-pull-stream.ndjson"))
    statuses = []
    with pytest.raises(ResponseError, match="file does not exist"):
        for part in client.pull("nope", stream=True):
            statuses.append(part.status)
    assert statuses == ["pulling manifest"]


def test_many_threads_share_one_client(fake: FakeOllama, client: Client) -> None:
    fake.json("POST", "/api/embed", fixture_bytes("embed-response.json"))
    fake.stream("/api/generate", fixture_bytes("generate-stream.ndjson"), chunk_size=11)
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            vectors = client.embed("all-minilm", "hello").embeddings
            chunks = sum(1 for _ in client.generate("m", "x", stream=True))
            with lock:
                results.append(len(vectors[0]) * 1000 + chunks)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(results) == 40
    assert len(set(results)) == 1


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_called_from_inside_a_running_event_loop(
    fake: FakeOllama, client: Client, loop: str
) -> None:
    fake.json("GET", "/api/tags", fixture_bytes("tags-response.json"))

    async def notebook_cell() -> int:
        return len(client.list().models)

    assert anyio.run(notebook_cell, backend=loop) > 0


def test_unclosed_client_is_closed_when_collected(fake: FakeOllama, portal_backend: str) -> None:
    fake.json("GET", "/api/version", {"version": "1"})
    client = Client(**fake.options(backend=portal_backend))
    client.version()
    thread = portal_threads()[-1]
    del client
    gc.collect()
    assert not thread.is_alive()


def test_bad_backend() -> None:
    with pytest.raises(RequestError, match="backend"):
        Client(backend="curio")  # type: ignore[arg-type]


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(cls, name))
        for name in dir(cls)
        if not name.startswith("_") and inspect.iscoroutinefunction(getattr(cls, name))
    }


def test_every_async_method_has_a_blocking_twin_with_the_same_signature() -> None:
    async_methods = _public_methods(AsyncClient)
    assert {"chat", "generate", "embed", "pull", "create_blob", "version"} <= set(async_methods)
    del async_methods["aclose"]  # the blocking twin is close()
    assert inspect.signature(Client.close).parameters.keys() == {"self"}
    for name, signature in async_methods.items():
        twin = inspect.signature(getattr(Client, name))
        assert list(twin.parameters.values()) == list(signature.parameters.values()), name


def test_with_options_turns_retries_off_for_one_view(fake: FakeOllama, client: Client) -> None:
    """The README's ``client.with_options(timeout=10, max_retries=0)`` works when blocking too."""
    fake.json("GET", "/api/ps", {"error": "busy"}, status=503)
    with pytest.raises(ResponseError):
        client.with_options(timeout=10, max_retries=0).ps()
    assert len(fake.requests) == 1
    with pytest.raises(ResponseError):
        client.ps()  # the client itself still retries, twice
    assert len(fake.requests) == 4


def test_embed_as_arrays_gives_float32_vectors(fake: FakeOllama, client: Client) -> None:
    fake.json("POST", "/api/embed", fixture_bytes("embed-multi-response.json"))
    as_lists = client.embed("all-minilm", ["a", "b"])
    as_arrays = client.embed("all-minilm", ["a", "b"], as_arrays=True)
    assert fake.body(0) == fake.body(1)  # the option is ours: nothing changes on the wire
    assert len(as_arrays.embeddings) == len(as_lists.embeddings) == 2
    for vector, floats in zip(as_arrays.embeddings, as_lists.embeddings, strict=True):
        assert vector.typecode == "f"
        assert memoryview(vector).format == "f"  # what numpy.frombuffer wraps
        assert list(vector) == [array.array("f", [x])[0] for x in floats]
    assert as_arrays.model == as_lists.model
    assert as_arrays.total_duration == as_lists.total_duration
    assert as_arrays.model_dump()["embeddings"][0] == list(as_arrays.embeddings[0])
