"""The fake server's answers and what a correct client must make of them.

Both sides import this module: the server (in its own process) serves these bytes, and the
scenarios check every client's results against the values derived here. Everything is
deterministic, so the two processes agree without talking. The bodies look like Ollama's: compact
JSON, nanosecond timestamps, one NDJSON line per streamed token.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MODEL = "bench"
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
CHAT_CONTENT = (
    "The sky is blue because air molecules scatter the short wavelengths of sunlight "
    "much more than the long ones."
)
STREAM_CHUNKS = 10_000  # content chunks; the final `done` chunk comes on top
EMBED_INPUTS = 1_000
EMBED_DIM = 768
LIST_MODELS = 20
CONCURRENCY = 64  # tasks in flight at once
CONCURRENT_CALLS = 4  # calls each task makes in a row, per round

_CREATED_AT = "2025-01-15T10:30:00.123456789Z"
_WORDS = [" the", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering", ".", "\n"]
_STATS = {
    "total_duration": 4_883_583_458,
    "load_duration": 1_334_875,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 342_546_000,
    "eval_count": 282,
    "eval_duration": 4_535_599_000,
}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def chat_body() -> bytes:
    """The answer to a chat with ``stream: false``."""
    return _json(
        {
            "model": MODEL,
            "created_at": _CREATED_AT,
            "message": {"role": "assistant", "content": CHAT_CONTENT},
            "done_reason": "stop",
            "done": True,
            **_STATS,
        }
    )


def stream_word(index: int) -> str:
    """The content of streamed chunk ``index``."""
    return _WORDS[index % len(_WORDS)]


def stream_lines() -> list[bytes]:
    """The NDJSON lines of a streamed chat: `STREAM_CHUNKS` tokens, then the final chunk."""
    lines = []
    for index in range(STREAM_CHUNKS):
        chunk = {
            "model": MODEL,
            "created_at": _CREATED_AT,
            "message": {"role": "assistant", "content": stream_word(index)},
            "done": False,
        }
        lines.append(_json(chunk) + b"\n")
    final = {
        "model": MODEL,
        "created_at": _CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        **_STATS,
    }
    lines.append(_json(final) + b"\n")
    return lines


EMBED_INPUT = "document number {}: the sky is blue"


def embed_inputs() -> list[str]:
    """What the clients send to /api/embed."""
    return [EMBED_INPUT.format(index) for index in range(EMBED_INPUTS)]


def _base_row() -> list[str]:
    # Ollama prints float32 values; nine significant digits is what that looks like. The mean is
    # positive so that the sum of every vector is far from zero and a lost vector shows.
    rng = random.Random(768)
    return [f"{rng.gauss(0.01, 0.05):.9g}" for _ in range(EMBED_DIM)]


def embed_body() -> bytes:
    """The answer to /api/embed: vector ``k`` is the base row rotated left by ``k``."""
    row = _base_row()
    vectors = []
    for index in range(EMBED_INPUTS):
        shift = index % EMBED_DIM
        vectors.append("[" + ",".join(row[shift:] + row[:shift]) + "]")
    head = f'{{"model":"{MODEL}","embeddings":['
    tail = (
        '],"total_duration":14143917,"load_duration":1019500,'
        f'"prompt_eval_count":{8 * EMBED_INPUTS}}}'
    )
    return (head + ",".join(vectors) + tail).encode()


def model_names() -> list[str]:
    """The models /api/tags lists, in order."""
    return [f"bench-{index:02d}:latest" for index in range(LIST_MODELS)]


def tags_body() -> bytes:
    """The answer to /api/tags (``list()``)."""
    models = []
    for index, name in enumerate(model_names()):
        models.append(
            {
                "name": name,
                "model": name,
                "modified_at": "2025-01-15T10:30:00.123456789+01:00",
                "size": 2_019_393_189 + index,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M",
                },
            }
        )
    return _json({"models": models})


@dataclass(frozen=True)
class Expected:
    """What every client must return, derived once from the bodies above."""

    chat_content: str
    stream_content: str
    stream_count: int  # chunks, the final one included
    embed_first: tuple[float, ...]  # first value of each vector
    embed_sum: float  # sum of each vector (all are rotations of one row)
    embed_tolerance: float  # allowed error of that sum: a client may decode float32
    model_names: tuple[str, ...]

    @classmethod
    def build(cls) -> Expected:
        values = [float(text) for text in _base_row()]
        row_sum = math.fsum(values)
        return cls(
            chat_content=CHAT_CONTENT,
            stream_content="".join(stream_word(index) for index in range(STREAM_CHUNKS)),
            stream_count=STREAM_CHUNKS + 1,
            embed_first=tuple(values[index % EMBED_DIM] for index in range(EMBED_INPUTS)),
            embed_sum=row_sum,
            # float32 keeps 24 bits: each value within 6e-8 of itself, relatively.
            embed_tolerance=1e-7 * math.fsum(abs(v) for v in values),
            model_names=tuple(model_names()),
        )


class CheckError(AssertionError):
    """A client returned something other than what the server sent."""


def check_chat(who: str, responses: Sequence[Any], expected: Expected) -> None:
    """Every non-streamed chat answer carries the whole content and ``done``."""
    for response in responses:
        if response.message.content != expected.chat_content or response.done is not True:
            raise CheckError(f"{who}: wrong chat answer {response!r:.200}")


def check_stream(who: str, contents: Sequence[str], last: Any, expected: Expected) -> None:
    """A stream delivered every chunk, in order, ending with the final one."""
    if len(contents) != expected.stream_count:
        raise CheckError(f"{who}: {len(contents)} chunks, expected {expected.stream_count}")
    if "".join(contents) != expected.stream_content:
        raise CheckError(f"{who}: the streamed content differs")
    if last is None or last.done is not True or last.done_reason != "stop":
        raise CheckError(f"{who}: the stream did not end with its final chunk")


def check_embed(who: str, response: Any, expected: Expected) -> None:
    """Every vector is there, in order, with every value (its length, first value and sum)."""
    vectors = response.embeddings
    if len(vectors) != EMBED_INPUTS:
        raise CheckError(f"{who}: {len(vectors)} vectors, expected {EMBED_INPUTS}")
    for index, (vector, first) in enumerate(zip(vectors, expected.embed_first, strict=True)):
        if len(vector) != EMBED_DIM or not math.isclose(vector[0], first, rel_tol=1e-6):
            raise CheckError(f"{who}: vector {index} has the wrong length or order")
        total = math.fsum(vector)
        if abs(total - expected.embed_sum) > expected.embed_tolerance:
            raise CheckError(f"{who}: vector {index} sums to {total}, not {expected.embed_sum}")


def check_list(who: str, response: Any, expected: Expected) -> None:
    """``list()`` returned every model, in order."""
    names = tuple(model.model for model in response.models)
    if names != expected.model_names:
        raise CheckError(f"{who}: list() returned {names!r:.200}")
