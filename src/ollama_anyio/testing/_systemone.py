"""``POST /v1/systemone``: deterministic answers of a decision model (SPEC 9.3).

Each answer is a pure function of the model, the state and the question: probabilities are
drawn from a hash of them, normalised so that they sum to 1, and every score, noul and
confidence lies in its range, so a client's checks on well-formed answers can be exercised.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ._context import Context
from ._engine import split_tokens
from ._names import parse_name
from ._params import parse_keep_alive
from ._wire import (
    ApiError,
    FieldKind,
    Response,
    decode_body,
    json_list,
    json_mapping,
    json_object,
    json_response,
)

__all__ = ["systemone"]

_FIELDS: dict[str, FieldKind] = {
    "model": "str",
    "state": "any",
    "questions": "object",
    "keep_alive": "any",
}
_DIGITS = 4  # probabilities are rounded to this many decimals


def _weights(seed: str, count: int) -> list[float]:
    """``count`` probabilities from ``seed``, rounded, summing to exactly 1."""
    digest = hashlib.sha256(seed.encode()).digest()
    raw = [1 + digest[i % len(digest)] * (i + 7) % 97 for i in range(count)]
    total = sum(raw)
    values = [round(r / total, _DIGITS) for r in raw]
    # The rounding error goes to the largest, which stays well above it.
    top = values.index(max(values))
    values[top] = round(1 - sum(values) + values[top], _DIGITS)
    return values


def _confidence(probabilities: list[float]) -> float:
    """How far the likeliest answer stands above the next: 0 (a tie) to 1 (certain)."""
    ordered = sorted(probabilities, reverse=True)
    second = ordered[1] if len(ordered) > 1 else 0.0
    return round(ordered[0] - second, _DIGITS)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _answer(seed: str, name: str, question: Mapping[str, Any]) -> dict[str, Any]:
    kind = question.get("type")
    where = f"questions.{name}"
    if not isinstance(question.get("instructions"), (str, dict, list)):
        raise ApiError(400, f"{where}: instructions are required")
    criteria = question.get("criteria")
    if kind == "noul":
        if criteria is not None and (
            json_mapping(criteria) is None or not set(criteria) <= {"false", "true"}
        ):
            raise ApiError(400, f'{where}: criteria of a noul question take "false" and "true"')
        return {"type": "noul", "noul": _weights(seed, 2)[1]}
    if kind == "choice":
        choices = json_mapping(criteria)
        if not choices:
            raise ApiError(400, f"{where}: a choice question needs criteria")
        probabilities = _weights(seed, len(choices))
        best = max(range(len(choices)), key=lambda i: probabilities[i])
        return {
            "type": "choice",
            "choice": list(choices)[best],
            "probabilities": dict(zip(choices, probabilities, strict=True)),
            "confidence": _confidence(probabilities),
        }
    if kind == "score":
        levels = json_list(criteria)
        if not levels:
            raise ApiError(400, f"{where}: a score question needs criteria, lowest level first")
        probabilities = _weights(seed, len(levels))
        return {
            "type": "score",
            "score": round(sum(i * p for i, p in enumerate(probabilities)), _DIGITS),
            "legend": {str(i): str(text) for i, text in enumerate(levels)},
            "probabilities": {str(i): p for i, p in enumerate(probabilities)},
            "confidence": _confidence(probabilities),
        }
    raise ApiError(400, f'{where}: type must be "choice", "noul" or "score", got {kind!r}')


def systemone(ctx: Context, body: bytes) -> Response:
    """``POST /v1/systemone``: one answer per question, by name, and the token usage."""
    req = decode_body(body, "SystemOneRequest", _FIELDS)
    sent = req.get("model", "")
    if not sent:
        raise ApiError(400, "model is required")
    parse_keep_alive(req.get("keep_alive"))
    name = parse_name(sent)
    if name is None or ctx.store.get(name) is None:
        raise ApiError(404, f"model '{sent}' not found")
    if "state" not in req:
        raise ApiError(400, "state is required")
    questions: dict[str, Any] = json_object(req.get("questions")) or {}
    if not questions:
        raise ApiError(400, "questions are required")
    state = _text(req["state"])
    answers: dict[str, Any] = {}
    read = len(split_tokens(state))
    for key, question in questions.items():
        mapping = json_mapping(question)
        if mapping is None:
            raise ApiError(400, f"questions.{key}: a question is an object")
        answers[key] = _answer(f"{name.key}\x00{state}\x00{key}", key, mapping)
        read += len(split_tokens(_text(mapping.get("instructions", ""))))
    usage = {"input_tokens": read, "output_tokens": len(answers)}
    return json_response({"model": sent, "answers": answers, "usage": usage})
