"""Jobs over a real local Ray cluster and three one-slot emulators (``nox -s ray``)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (nox -s ray runs these)")
np = pytest.importorskip("numpy")

from ollama_anyio import Client  # noqa: E402
from ollama_anyio.ray import chat, embed, generate  # noqa: E402

from .conftest import Servers  # noqa: E402

# Ray's own deprecation notices about its own settings (use_push_based_shuffle...).
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    pytest.mark.filterwarnings("ignore::FutureWarning:ray"),
    # A small dataset (fewer blocks than actors) is what these tests want at times.
    pytest.mark.filterwarnings("ignore:The minimum number of concurrent actors:UserWarning"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = "all-minilm"


def _texts(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "text": f"passage {i} about rivers and their deltas"} for i in range(count)]


def _dataset(rows: list[dict[str, Any]], batch: int = 64) -> Any:
    # Blocks of one batch each, as a reader of many files gives: batches spread over actors.
    return ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // batch))


def _expected(url: str, texts: list[str]) -> Any:
    with Client(url) as client:
        return np.array(client.embed(MODEL, texts).embeddings, dtype=np.float32)


def _check_vectors(rows: list[dict[str, Any]], url: str) -> None:
    assert [row["id"] for row in rows] == list(range(len(rows)))  # each once, in order
    assert all(row["error"] is None for row in rows)
    got = np.stack([row["embedding"] for row in rows])
    assert got.dtype == np.float32
    assert np.array_equal(got, _expected(url, [row["text"] for row in rows]))


def test_every_row_once_in_order_with_its_vector(servers: Servers) -> None:
    rows = embed(_dataset(_texts(640)), model=MODEL, servers=servers.urls).take_all()
    # One request per batch of 64: none sent twice; every server took a share, one at a time.
    assert servers.received() == 10
    for emulator in servers.emulators:
        assert emulator.received >= 1
        assert emulator.slot_peaks == {"all-minilm:latest": 1}
    _check_vectors(rows, servers.urls[0])


def test_a_server_stopped_halfway_loses_and_repeats_nothing(servers: Servers) -> None:
    result: list[Any] = []

    def run() -> None:
        dataset = embed(_dataset(_texts(1920)), model=MODEL, servers=servers.urls)
        result.append(dataset.take_all())

    worker = threading.Thread(target=run)
    worker.start()
    try:
        servers.emulators[1].wait_for_requests(3, timeout=120)
        servers.stop(1)
    finally:
        worker.join(timeout=300)
    assert not worker.is_alive()
    (rows,) = result
    stopped = servers.emulators[1].received
    assert 3 <= stopped < 30  # it took part, then the others took its share
    # Only the batch cut short on the stopped server (one slot: one batch) was sent twice.
    assert 30 <= servers.received() <= 31
    _check_vectors(rows, servers.urls[0])


def test_a_bad_row_is_reported_and_the_rest_goes_on(servers: Servers) -> None:
    rows = _texts(192)
    too_long = " ".join(["word"] * 2000)  # beyond the model's context, with truncate=False
    rows[5]["text"] = ""
    rows[70]["text"] = too_long
    out = embed(_dataset(rows), model=MODEL, servers=servers.urls, truncate=False).take_all()
    assert [row["id"] for row in out] == list(range(192))
    assert "empty" in out[5]["error"]
    assert "exceeds the context length" in out[70]["error"]
    for bad in (5, 70):
        assert all(math.isnan(x) for x in out[bad]["embedding"])
    good = [row for row in out if row["id"] not in (5, 70)]
    assert all(row["error"] is None for row in good)
    expected = _expected(servers.urls[0], [row["text"] for row in good])
    assert np.array_equal(np.stack([row["embedding"] for row in good]), expected)


def test_with_error_none_a_bad_row_fails_the_job(servers: Servers) -> None:
    rows = _texts(64)
    rows[3]["text"] = " ".join(["word"] * 2000)
    dataset = embed(_dataset(rows), model=MODEL, servers=servers.urls, truncate=False, error=None)
    with pytest.raises(Exception, match="exceeds the context length"):
        dataset.take_all()


def test_a_cancelled_job_leaves_no_request_running(servers: Servers) -> None:
    dataset = embed(_dataset(_texts(64 * 60)), model=MODEL, servers=servers.urls)
    batches = iter(dataset.iter_batches(batch_size=64, batch_format="numpy"))
    first = next(batches)
    assert first["embedding"].shape == (64, 384)
    assert list(first["error"]) == [None] * 64  # strings, not Arrow nulls read as NaN
    batches.close()  # the consumer stops: Ray Data shuts the job down, its actors with it
    for emulator in servers.emulators:
        emulator.wait_until_idle(timeout=60)
        assert emulator.in_flight == 0
    assert servers.received() < 60


def test_generate_and_chat_answer_each_row(servers: Servers) -> None:
    prompts = [{"id": i, "prompt": f"question {i}"} for i in range(12)]
    answered = generate(
        ray.data.from_items(prompts, override_num_blocks=3), model="llama3.2", servers=servers.urls
    ).take_all()
    conversations = [
        {"id": i, "messages": [{"role": "user", "content": f"question {i}"}]} for i in range(6)
    ]
    replied = chat(
        ray.data.from_items(conversations, override_num_blocks=2),
        model="llama3.2",
        servers=servers.urls,
    ).take_all()
    with Client(servers.urls[0]) as client:
        for row in answered:
            assert row["response"] == client.generate("llama3.2", row["prompt"]).response
            assert row["error"] is None
        for row in replied:
            question = {"role": "user", "content": f"question {row['id']}"}
            assert row["response"] == client.chat("llama3.2", [question]).message.content
    assert [row["id"] for row in answered] == list(range(12))
    assert [row["id"] for row in replied] == list(range(6))


def test_the_example_joins_the_cluster(servers: Servers, ray_cluster: dict[str, str]) -> None:
    environment = {
        **os.environ,
        **ray_cluster,
        "OLLAMA_SERVERS": ",".join(servers.urls),
        "PYTHONIOENCODING": "utf-8",
    }
    result = subprocess.run(
        [sys.executable, "ray-bulk-embed.py"],
        cwd=EXAMPLES,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = "2000 texts embedded over 3 servers: 2000 vectors of 384 float32, 0 errors"
    assert f"{expected}, in order" in result.stdout
