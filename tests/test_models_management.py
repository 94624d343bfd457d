"""Model management: exists, ensure (pull if missing, with one monotonic progress figure),
is_loaded, load and unload, on both backends and through the blocking client."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import msgspec
import pytest

from conftest import FIXTURES
from ollama_anyio import (
    AsyncClient,
    Client,
    EnsureResult,
    ProgressResponse,
    RequestError,
    ResponseError,
    TransferProgress,
)
from ollama_anyio.testing import OllamaEmulator, run_emulator_in_thread


@pytest.fixture
async def client() -> AsyncIterator[tuple[OllamaEmulator, AsyncClient]]:
    async with OllamaEmulator(models=["llama3.2"]) as emulator:
        async with AsyncClient(emulator.url) as client:
            yield emulator, client


async def test_exists_tells_a_stored_model_from_a_missing_one(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    _, c = client
    assert await c.models.exists("llama3.2")
    assert await c.models.exists("llama3.2:latest")
    assert not await c.models.exists("qwen3")


async def test_ensure_does_nothing_for_a_present_model(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    emulator, c = client
    seen: list[TransferProgress] = []
    result = await c.models.ensure("llama3.2", on_progress=seen.append)
    assert not result
    assert result == EnsureResult(model="llama3.2", pulled=False)
    assert [r.path for r in emulator.requests] == ["/api/tags"]  # exists(): the cheap listing
    assert seen == []


async def test_ensure_pulls_a_missing_model_with_monotonic_progress(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    """qwen3 has several layers; the figure never goes back as each one appears."""
    emulator, c = client
    figures: list[tuple[int, int, float, str]] = []

    def record(progress: TransferProgress) -> None:
        figures.append((progress.completed, progress.total, progress.fraction, progress.status))

    result = await c.models.ensure("qwen3", on_progress=record)
    assert result
    assert result.pulled
    assert result.model == "qwen3"
    assert result.completed == result.total == figures[-1][1] > 0
    assert await c.models.exists("qwen3")
    layers = {r for r in figures if r[3].startswith("pulling ") and r[1]}
    assert len({status for *_, status in layers}) > 1  # several layers were reported
    for before, after in itertools.pairwise(figures):
        assert after[0] >= before[0]
        assert after[1] >= before[1]
        assert after[2] >= before[2]
    completed, total, fraction, status = figures[-1]
    assert (completed, fraction, status) == (total, 1.0, "success")
    # 1.0 only once the layers were over, never while a later layer was still to come
    assert [f[2] for f in figures if f[3].startswith("pulling ")].count(1.0) == 0
    assert [r.path for r in emulator.requests] == ["/api/tags", "/api/pull", "/api/tags"]


async def test_ensure_of_a_model_no_registry_has_raises(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    _, c = client
    with pytest.raises(ResponseError, match="file does not exist"):
        await c.models.ensure("no-such-model-anywhere")


async def test_load_and_unload_show_in_is_loaded(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    _, c = client
    assert not await c.models.is_loaded("llama3.2")
    loaded = await c.models.load("llama3.2", keep_alive="1h")
    assert loaded.done_reason == "load"
    assert await c.models.is_loaded("llama3.2")
    assert await c.models.is_loaded("llama3.2:latest")
    unloaded = await c.models.unload("llama3.2")
    assert unloaded.done_reason == "unload"
    assert not await c.models.is_loaded("llama3.2")


async def test_a_bad_name_is_refused_before_any_request(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    emulator, c = client
    with pytest.raises(RequestError):
        await c.models.is_loaded("")
    with pytest.raises(RequestError):
        await c.models.ensure("llama3.2", on_progress=3)  # type: ignore[arg-type]
    assert emulator.requests == []


def test_the_progress_figure_never_goes_backwards() -> None:
    """A layer reported again with less done (a resumed download) keeps its best count."""
    progress = TransferProgress()
    events = [
        ProgressResponse(status="pulling manifest"),
        ProgressResponse(status="pulling a", digest="sha256:a", total=100, completed=80),
        ProgressResponse(status="pulling a", digest="sha256:a", total=100, completed=20),
        ProgressResponse(status="pulling b", digest="sha256:b", total=900),
        ProgressResponse(status="pulling b", digest="sha256:b", total=900, completed=900),
        ProgressResponse(status="pulling a", digest="sha256:a", total=100, completed=100),
        ProgressResponse(status="verifying sha256 digest"),
        ProgressResponse(status="success"),
    ]
    seen = [(progress.feed(e).completed, progress.total, progress.fraction) for e in events]
    assert seen[2] == (80, 100, 0.8)
    assert seen[3] == (80, 1000, 0.8)  # a new layer: the total grows, the fraction holds
    assert seen[4] == (980, 1000, 0.98)  # the ratio passed it again
    assert seen[5] == (1000, 1000, 0.98)  # every layer seen is done, but more may follow
    assert seen[6] == (1000, 1000, 1.0)  # a status without a count: the layers are over
    assert seen[-1] == (1000, 1000, 1.0)
    assert progress.done
    assert progress.status == "success"


def test_the_blocking_client_ensures_and_loads(portal_backend: str) -> None:
    with run_emulator_in_thread(models=["llama3.2"]) as emulator:
        with Client(emulator.url, backend=portal_backend) as client:  # type: ignore[arg-type]
            assert client.models.ensure("all-minilm").pulled
            assert client.models.exists("all-minilm")
            client.models.load("llama3.2")
            assert client.models.is_loaded("llama3.2")


def test_the_issue_case_a_big_first_layer_then_a_small_one() -> None:
    """The weights (84 % of the bytes) complete first: the figure must not read 1.0 then."""
    progress = TransferProgress()
    seen = []
    for event in [
        ProgressResponse(status="pulling manifest"),
        ProgressResponse(status="pulling w", digest="sha256:w", total=840, completed=420),
        ProgressResponse(status="pulling w", digest="sha256:w", total=840, completed=840),
        ProgressResponse(status="pulling t", digest="sha256:t", total=160),
        ProgressResponse(status="pulling t", digest="sha256:t", total=160, completed=80),
        ProgressResponse(status="pulling t", digest="sha256:t", total=160, completed=160),
        ProgressResponse(status="writing manifest"),
        ProgressResponse(status="success"),
    ]:
        progress.feed(event)
        seen.append(progress.fraction)
    assert seen == sorted(seen)
    assert seen[:6] == [0.0, 0.5, 0.5, 0.84, 0.92, 0.92]
    assert seen[6:] == [1.0, 1.0]


def test_the_fixture_pull_reaches_one_only_after_its_last_layer() -> None:
    lines = (FIXTURES / "pull-progress.ndjson").read_bytes().splitlines()
    events = [msgspec.json.decode(line, type=ProgressResponse) for line in lines]
    progress = TransferProgress()
    fractions = [progress.feed(event).fraction for event in events]
    last_layer = max(i for i, e in enumerate(events) if e.total)
    assert max(fractions[: last_layer + 1]) < 1.0
    assert fractions[last_layer + 1 :] == [1.0] * (len(events) - last_layer - 1)
    assert fractions == sorted(fractions)
    sizes = {e.digest: e.total for e in events if e.total}
    assert progress.completed == progress.total == sum(sizes.values())


async def test_exists_knows_the_display_forms_of_a_name(
    client: tuple[OllamaEmulator, AsyncClient],
) -> None:
    emulator, c = client
    for name in ("LLAMA3.2", "library/llama3.2", "registry.ollama.ai/library/llama3.2:latest"):
        assert await c.models.exists(name), name
    assert not await c.models.exists("llama3.2:70b")
    assert {r.path for r in emulator.requests} == {"/api/tags"}
    with pytest.raises(RequestError):
        await c.models.exists("")
