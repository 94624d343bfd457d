"""What the batch helpers return: the results in input order, with the usage of each request.

Plain Python and msgspec, importable without anyio. A `BatchResult` is a ``list`` (what the
helpers returned before: one result per input, in input order), and carries the answer of each
request (``answers``: for ``embed``, one `EmbedResponse` per batch of inputs) and the
counters and durations summed over the requests that succeeded (``usage``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["BatchResult", "BatchUsage", "item_error", "usage_of"]

V = TypeVar("V")

# The metrics of SPEC 2.5 an answer may carry, summed over a batch's answers.
_COUNTERS = (
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
)


class BatchUsage(msgspec.Struct, kw_only=True, frozen=True):
    """The counters and durations (nanoseconds) of a batch call, summed over its requests.

    Attributes:
        requests: requests that succeeded (a failed one has no metrics to add).
        failed: requests that failed (with ``errors="return"``).
        prompt_eval_count: input tokens evaluated (an embed request counts its inputs here).
        eval_count: tokens generated (0 for embed).
        total_duration, load_duration, prompt_eval_duration, eval_duration: as on each answer,
            summed (requests run concurrently, so the sum exceeds the time the call took).
    """

    requests: int = 0
    failed: int = 0
    prompt_eval_count: int = 0
    eval_count: int = 0
    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_duration: int = 0
    eval_duration: int = 0


def usage_of(answers: Iterable[object]) -> BatchUsage:
    """`BatchUsage` summed over ``answers`` (exceptions count as failed requests)."""
    sums = dict.fromkeys(_COUNTERS, 0)
    requests = failed = 0
    for answer in answers:
        if isinstance(answer, BaseException):
            failed += 1
            continue
        requests += 1
        for name in _COUNTERS:
            sums[name] += getattr(answer, name, None) or 0
    return BatchUsage(requests=requests, failed=failed, **sums)


class BatchResult(list[V], Generic[V]):
    """The results of a batch call, one per input in input order: a ``list``, plus the usage.

    Attributes:
        answers: the answer of each request, in order: for ``chat``/``generate`` the same as
            the items; for ``embed`` one `EmbedResponse` per batch of ``batch_size`` inputs,
            with that batch's counters and durations. A failed request's exception stands in
            its place (``errors="return"``).
        usage: the counters and durations summed over the requests that succeeded.
    """

    answers: list[Any]
    usage: BatchUsage

    def __init__(self, items: Iterable[V], answers: list[Any]) -> None:
        super().__init__(items)
        self.answers = answers
        self.usage = usage_of(answers)

    @property
    def errors(self) -> list[tuple[int, Exception]]:
        """The failed items, as ``(index, exception)`` pairs (``errors="return"``)."""
        return [(index, item) for index, item in enumerate(self) if isinstance(item, Exception)]

    def __repr__(self) -> str:
        failed = f", {self.usage.failed} failed" if self.usage.failed else ""
        return f"<BatchResult of {len(self)} items, {self.usage.requests} requests{failed}>"


def item_error(error: Exception, index: int) -> Exception:
    """An exception object of its own for input ``index`` of a failed batch.

    A copy of the batch's ``error`` (same type and attributes, its traceback, and the batch's
    error as its cause), so that every failed item has its own object, as if each had been
    sent alone; handling or annotating one does not touch the others.
    """
    try:
        item = copy.copy(error)
    except Exception:  # pragma: no cover - an exception that cannot be copied
        from ._errors import OllamaError

        item = OllamaError(f"input {index} was in a batch that failed: {error}")
    item.__cause__ = error
    return item.with_traceback(error.__traceback__)
