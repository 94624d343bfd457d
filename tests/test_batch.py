"""Batch work on task groups: client.batch.embed, .chat, .generate (and their driver).

Against the emulator, which records how many requests it answered at once and every client
that went away: results come back in input order, never more than the limit in flight, an
error does what ``errors=`` says, and cancelling the caller cancels every request in flight.
"""

from __future__ import annotations

import array
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ollama_anyio import AsyncClient, BadRequestError, BatchUsage, Client, RequestError
from ollama_anyio._batch import run_bounded
from ollama_anyio.testing import Fault, OllamaEmulator, ThreadedEmulator, run_emulator_in_thread
from ollama_anyio.testing._names import parse_name

# A copy of all-minilm with two dimensions: the emulator then computes 10,000 vectors fast.
TINY = "tiny-embed"
TEXTS = [f"text number {i}" for i in range(10_000)]
# Longer than all-minilm's context: with truncate=False, the server answers 400 for its batch.
TOO_LONG = " ".join(["word"] * 5000)


def _add_tiny_embedder(emulator: OllamaEmulator) -> None:
    base = emulator.store.get(parse_name("all-minilm"))  # type: ignore[arg-type]
    assert base is not None
    tiny = base.renamed(parse_name(TINY))  # type: ignore[arg-type]
    emulator.store.add(dataclasses.replace(tiny, embedding_length=2))


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        _add_tiny_embedder(emulator)
        yield emulator


@pytest.fixture
async def client(emulator: OllamaEmulator) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(emulator.url, max_retries=0) as client:
        yield client


async def test_ten_thousand_inputs_come_back_in_order_never_above_the_limit(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    """Each vector is the one a single request gives for its text; at most 4 in flight."""
    expected = (await client.embed(TINY, TEXTS)).embeddings
    emulator.faults.add(Fault.delay(0.02, path="/api/embed", times=None))
    before = len(emulator.requests)
    vectors = await client.batch.embed(TINY, TEXTS, batch_size=250, concurrency=4)
    assert vectors == expected
    assert len(emulator.requests) - before == 40
    assert 1 < emulator.max_in_flight <= 4
    sizes = [len(r.json["input"]) for r in emulator.requests[before:]]
    assert sizes == [250] * 40


async def test_the_last_batch_is_short_and_progress_counts_inputs(client: AsyncClient) -> None:
    seen: list[tuple[int, int]] = []
    vectors = await client.batch.embed(
        TINY, TEXTS[:1001], batch_size=100, on_progress=lambda *figures: seen.append(figures)
    )
    assert len(vectors) == 1001
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (1001, 1001)
    assert {total for _, total in seen} == {1001}
    assert len(seen) == 11


async def test_as_arrays_gives_float32_arrays_in_order(client: AsyncClient) -> None:
    expected = (await client.embed(TINY, TEXTS[:300], as_arrays=True)).embeddings
    vectors = await client.batch.embed(TINY, TEXTS[:300], batch_size=64, as_arrays=True)
    assert all(isinstance(v, array.array) and v.typecode == "f" for v in vectors)
    assert vectors == expected


async def test_a_shared_capacity_limiter_bounds_several_calls_together(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    emulator.faults.add(Fault.delay(0.02, path="/api/embed", times=None))
    limiter = anyio.CapacityLimiter(2)
    results: list[list[Any]] = [[], []]

    async def run(slot: int) -> None:
        results[slot] = await client.batch.embed(
            TINY, TEXTS[:400], batch_size=50, concurrency=limiter
        )

    async with anyio.create_task_group() as group:
        group.start_soon(run, 0)
        group.start_soon(run, 1)
    assert results[0] == results[1]
    assert len(results[0]) == 400
    assert emulator.max_in_flight <= 2


async def test_one_failed_batch_is_raised_plainly_and_the_rest_cancelled(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    texts = TEXTS[:1000]
    texts[512] = TOO_LONG  # in the sixth batch of 100
    with pytest.raises(BadRequestError, match="exceeds the context length"):
        await client.batch.embed(TINY, texts, batch_size=100, concurrency=2, truncate=False)
    # Not every batch was sent: the failure stopped the workers.
    assert len(emulator.requests) < 10


async def test_errors_return_puts_the_exception_in_place_of_each_vector_of_its_batch(
    client: AsyncClient,
) -> None:
    texts = TEXTS[:1000]
    texts[512] = TOO_LONG
    expected = (await client.embed(TINY, TEXTS[:1000])).embeddings
    vectors = await client.batch.embed(
        TINY, texts, batch_size=100, concurrency=3, truncate=False, errors="return"
    )
    failed = [i for i, v in enumerate(vectors) if isinstance(v, Exception)]
    assert failed == list(range(500, 600))
    assert all(isinstance(vectors[i], BadRequestError) for i in failed)
    assert vectors[:500] == expected[:500]
    assert vectors[600:] == expected[600:]
    # One exception object per failed input, each the batch's error (its cause) copied.
    assert len({id(vectors[i]) for i in failed}) == 100
    batch_error = vectors.answers[5]
    assert isinstance(batch_error, BadRequestError)
    assert all(getattr(vectors[i], "__cause__", None) is batch_error for i in failed)
    assert {str(vectors[i]) for i in failed} == {str(batch_error)}
    assert [index for index, _ in vectors.errors] == failed


async def test_progress_reaches_the_total_when_a_batch_fails(client: AsyncClient) -> None:
    texts = TEXTS[:1000]
    texts[512] = TOO_LONG
    seen: list[tuple[int, int]] = []
    await client.batch.embed(
        TINY,
        texts,
        batch_size=100,
        truncate=False,
        errors="return",
        on_progress=lambda *figures: seen.append(figures),
    )
    assert seen[-1] == (1000, 1000)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


async def test_embed_batch_keeps_each_batch_usage_and_the_sums(client: AsyncClient) -> None:
    texts = TEXTS[:250]
    result = await client.batch.embed(TINY, texts, batch_size=100)
    answers = result.answers
    assert [len(a.embeddings) for a in answers] == [100, 100, 50]
    assert all(a.prompt_eval_count and a.total_duration for a in answers)
    usage = result.usage
    assert isinstance(usage, BatchUsage)
    assert usage.requests == 3
    assert usage.failed == 0
    assert usage.prompt_eval_count == sum(a.prompt_eval_count for a in answers)
    assert usage.total_duration == sum(a.total_duration for a in answers)
    assert usage.load_duration == sum(a.load_duration or 0 for a in answers)
    assert list(result) == [v for a in answers for v in a.embeddings]  # still the vectors


async def test_cancelling_the_caller_cancels_every_request_in_flight(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    """Three requests hang on the server; cancelling the call closes all three at once."""
    emulator.faults.add(Fault.hang(path="/api/embed", times=None))
    finished = False
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:

            async def run() -> None:
                nonlocal finished
                await client.batch.embed(TINY, TEXTS[:1000], batch_size=100, concurrency=3)
                finished = True

            group.start_soon(run)
            await emulator.wait_for_requests(3)
            group.cancel_scope.cancel()
        await emulator.wait_for_disconnects(3)
    assert not finished
    assert len(emulator.requests) == 3  # nothing was sent after the cancellation
    assert emulator.disconnects == 3
    # The client is still usable.
    emulator.faults.clear()
    assert len((await client.embed(TINY, ["after"])).embeddings) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input": "one text"}, "sequence of strings"),
        ({"input": ["a", 3]}, r"input\[1\] must be a str"),
        ({"batch_size": 0}, "batch_size"),
        ({"concurrency": 0}, "concurrency"),
        ({"errors": "ignore"}, "errors must be"),
        ({"on_progress": 5}, "on_progress"),
        ({"model": ""}, "model is required"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    emulator: OllamaEmulator, client: AsyncClient, arguments: dict[str, Any], message: str
) -> None:
    call: dict[str, Any] = {"model": TINY, "input": ["a", "b"], **arguments}
    with pytest.raises(RequestError, match=message):
        await client.batch.embed(**call)
    assert emulator.requests == []


async def test_no_inputs_means_no_request(emulator: OllamaEmulator, client: AsyncClient) -> None:
    assert await client.batch.embed(TINY, []) == []
    assert emulator.requests == []


async def test_generate_batch_answers_each_prompt_in_order(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    prompts = [f"Say {i}." for i in range(12)]
    expected = [(await client.generate("llama3.2", p)).response for p in prompts]
    emulator.faults.add(Fault.delay(0.01, path="/api/generate", times=None))
    answers = await client.batch.generate("llama3.2", prompts, concurrency=3)
    assert [a.response for a in answers] == expected
    assert emulator.max_in_flight <= 3


async def test_chat_batch_answers_each_conversation_in_order_and_returns_errors(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    conversations = [[{"role": "user", "content": f"Question {i}?"}] for i in range(6)]
    expected = [(await client.chat("llama3.2", c)).message.content for c in conversations]
    emulator.faults.add(Fault.bad_gateway(path="/api/chat", nth=2))
    answers = await client.batch.chat("llama3.2", conversations, concurrency=1, errors="return")
    assert isinstance(answers[1], Exception)
    assert getattr(answers[1], "status_code", None) == 502
    contents = [a.message.content for a in answers if not isinstance(a, Exception)]
    assert contents == expected[:1] + expected[2:]
    usage = answers.usage
    assert (usage.requests, usage.failed) == (5, 1)
    ok = [a for a in answers if not isinstance(a, Exception)]
    assert usage.eval_count == sum(a.eval_count or 0 for a in ok) > 0
    assert usage.prompt_eval_count == sum(a.prompt_eval_count or 0 for a in ok) > 0
    assert usage.eval_duration == sum(a.eval_duration or 0 for a in ok) > 0


async def test_chat_batch_checks_every_conversation_before_sending(
    emulator: OllamaEmulator, client: AsyncClient
) -> None:
    conversations: list[Any] = [[{"role": "user", "content": "ok"}], [{"role": 5}]]
    with pytest.raises(RequestError, match=r"conversations\[1\]"):
        await client.batch.chat("llama3.2", conversations)
    assert emulator.requests == []


# -- the driver: which exception comes out ---------------------------------------------------


async def test_several_failures_at_once_raise_an_exception_group() -> None:
    """Two jobs fail together (neither can be cancelled first): an ExceptionGroup of both."""
    both_started = anyio.Event()
    started = 0

    async def job(index: int) -> int:
        nonlocal started
        started += 1
        if started == 2:
            both_started.set()
        with anyio.CancelScope(shield=True), anyio.fail_after(10):
            await both_started.wait()
        raise ValueError(index)

    with pytest.raises(Exception) as info:  # noqa: PT011 - ExceptionGroup is new in 3.11
        await run_bounded(2, job, concurrency=2, return_errors=False)
    group: Any = info.value
    assert type(group).__name__ == "ExceptionGroup"
    assert sorted(e.args[0] for e in group.exceptions) == [0, 1]


async def test_one_failure_among_many_is_raised_alone() -> None:
    async def job(index: int) -> int:
        if index == 3:
            raise KeyError(index)
        await anyio.lowlevel.checkpoint()
        return index

    with pytest.raises(KeyError):
        await run_bounded(10, job, concurrency=4, return_errors=False)


# -- the blocking client ---------------------------------------------------------------------


@pytest.fixture
def threaded() -> Iterator[ThreadedEmulator]:
    with run_emulator_in_thread() as emulator:
        _add_tiny_embedder(emulator.emulator)
        yield emulator


def test_blocking_embed_batch_in_order_within_the_limit(
    threaded: ThreadedEmulator, portal_backend: str
) -> None:
    threaded.faults.add(Fault.delay(0.01, path="/api/embed", times=None))
    with Client(threaded.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        expected = client.embed(TINY, TEXTS[:2000]).embeddings
        vectors = client.batch.embed(TINY, TEXTS[:2000], batch_size=100, concurrency=3)
        answers = client.batch.generate("llama3.2", ["a", "b"])
    assert vectors == expected
    assert threaded.max_in_flight <= 3
    assert len(answers) == 2
