"""The emulator as a bulk-work server: slots per model, a service time, cheap embeddings."""

from __future__ import annotations

import math
from typing import Any

import anyio
import httpx
import pytest

from ollama_anyio.testing import OllamaEmulator, ThreadedEmulator
from ollama_anyio.testing.__main__ import _parser

from .conftest import http

TEXTS = [f"chunk {i} of a document about rivers" for i in range(64)]


async def _post_all(emu: OllamaEmulator, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    statuses: list[int] = []
    async with http(emu) as client, anyio.create_task_group() as tg:
        for body in bodies:

            async def one(body: dict[str, Any] = body) -> None:
                statuses.append((await client.post(path, json=body, timeout=30)).status_code)

            tg.start_soon(one)
    return statuses


async def test_an_embedding_model_answers_one_request_at_a_time() -> None:
    async with OllamaEmulator(service_time=0.02, num_parallel=4) as emu:
        body = {"model": "all-minilm", "input": TEXTS[:4]}
        statuses = await _post_all(emu, "/api/embed", [body] * 5)
        assert statuses == [200] * 5
        assert emu.max_in_flight == 5  # all five arrived together, and four of them waited
        assert emu.slot_peaks == {"all-minilm:latest": 1}


async def test_a_generation_model_has_num_parallel_slots_and_overrides_win() -> None:
    async with OllamaEmulator(service_time=0.02, num_parallel=2, slots={"all-minilm": 3}) as emu:
        generate = {"model": "llama3.2", "prompt": "hi", "stream": False}
        embed = {"model": "all-minilm", "input": "hi"}
        assert await _post_all(emu, "/api/generate", [generate] * 6) == [200] * 6
        assert await _post_all(emu, "/api/embed", [embed] * 6) == [200] * 6
        peaks = emu.slot_peaks
        assert 1 <= peaks["llama3.2:latest"] <= 2
        assert 1 <= peaks["all-minilm:latest"] <= 3
        assert emu.errors == []


async def test_a_full_queue_is_answered_server_busy() -> None:
    # The first request keeps the only slot for a minute, the second waits: the third finds
    # the queue (max_queue=1) full and is answered at once; leaving cancels the other two.
    async with OllamaEmulator(service_time=60, num_parallel=1, max_queue=1) as emu:
        body = {"model": "all-minilm", "input": "hi"}
        async with http(emu) as client, anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(lambda: client.post("/api/embed", json=body, timeout=120))
            await emu.wait_for_requests(2)
            with anyio.fail_after(30):
                busy = await client.post("/api/embed", json=body)
            tg.cancel_scope.cancel()
        assert busy.status_code == 503
        assert busy.json() == {
            "error": "server busy, please try again.  maximum pending requests exceeded"
        }
        with anyio.fail_after(10):
            await emu.wait_until_idle()
        assert emu.in_flight == 0


async def test_unknown_models_and_other_paths_do_not_wait() -> None:
    async with OllamaEmulator(service_time=60, num_parallel=1) as emu, http(emu) as client:
        with anyio.fail_after(10):
            missing = await client.post("/api/embed", json={"model": "nope", "input": "x"})
            tags = await client.get("/api/tags")
        assert missing.status_code == 404
        assert tags.status_code == 200


async def test_embeddings_are_deterministic_unit_vectors_per_text_and_model() -> None:
    async with OllamaEmulator() as emu, http(emu) as client:
        first = (
            await client.post("/api/embed", json={"model": "all-minilm", "input": TEXTS})
        ).json()
        again = (
            await client.post("/api/embed", json={"model": "all-minilm", "input": TEXTS[3]})
        ).json()
        other = (
            await client.post("/api/embed", json={"model": "nomic-embed-text", "input": TEXTS[3]})
        ).json()
    vectors = first["embeddings"]
    assert len(vectors) == 64
    assert {len(v) for v in vectors} == {384}
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    assert len({tuple(v) for v in vectors}) == 64
    assert again["embeddings"] == [vectors[3]]
    assert other["embeddings"][0][:8] != vectors[3][:8]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (0.0, None, [])),
        (
            ["--service-time", "0.1", "--num-parallel", "2", "--slots", "all-minilm=3"],
            (0.1, 2, [("all-minilm", 3)]),
        ),
    ],
)
def test_cli_flags(argv: list[str], expected: tuple[float, int | None, list[Any]]) -> None:
    args = _parser().parse_args(argv)
    assert (args.service_time, args.num_parallel, args.slots) == expected


@pytest.mark.parametrize("argv", [["--num-parallel", "0"], ["--slots", "all-minilm"]])
def test_cli_rejects_bad_slots(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs",
    [{"service_time": -1}, {"num_parallel": 0}, {"slots": {"all-minilm": 0}}, {"slots": {"": 1}}],
)
def test_bad_slot_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"service_time|num_parallel|slots"):
        OllamaEmulator(**kwargs)


@pytest.mark.ollama_emulator(service_time=0.01, num_parallel=1)
def test_the_fixture_takes_the_settings(ollama_emulator: ThreadedEmulator) -> None:
    with httpx.Client(base_url=ollama_emulator.url) as client:
        response = client.post("/api/embed", json={"model": "all-minilm", "input": "x"})
    assert response.status_code == 200
    assert ollama_emulator.slot_peaks == {"all-minilm:latest": 1}
