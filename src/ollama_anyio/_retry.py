"""When a failed request is tried again, and after how long: pure policy, no I/O.

A request is retried only when the server cannot have acted on it: the connection could not be
made (nothing was sent), or the server answered 429, 502 or 503 before any of the body (Ollama's
"server busy", a proxy whose upstream is restarting). Calls that change the server's state
(create, push, copy, delete, blob uploads) are not retried unless the client is told to.
"""

from __future__ import annotations

import email.utils
import random
import time

import httpx

__all__ = ["RETRY_STATUSES", "RetryPolicy", "is_unsent"]

RETRY_STATUSES = frozenset({429, 502, 503})
_MAX_DELAY = 30.0


def is_unsent(exc: BaseException) -> bool:
    """Whether an exception raised by httpx's send means no byte of the request left."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _retry_after(value: str | None) -> float | None:
    # Retry-After is a number of seconds or an HTTP date (RFC 9110 10.2.3).
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryPolicy:
    """How many times to retry, and the delay before each retry.

    Args:
        max_retries: retries after the first attempt (0: never retry).
        backoff: the first delay in seconds; each next one doubles, up to 30 s, with full
            jitter (a random delay between half of it and all of it), so that many clients
            do not retry in step.
        retry_writes: also retry the calls that change the server's state.
    """

    def __init__(self, max_retries: int = 2, backoff: float = 0.5, retry_writes: bool = False):
        if max_retries < 0 or backoff < 0:
            raise ValueError("max_retries and backoff must not be negative")
        self.max_retries = max_retries
        self.backoff = backoff
        self.retry_writes = retry_writes

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_retries={self.max_retries}, backoff={self.backoff}, "
            f"retry_writes={self.retry_writes})"
        )

    def allows(self, attempt: int, *, writes: bool) -> bool:
        """Whether a failed attempt number ``attempt`` (0 for the first) may be retried."""
        return attempt < self.max_retries and (self.retry_writes or not writes)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        asked = _retry_after(retry_after)
        if asked is not None:
            return min(asked, _MAX_DELAY)
        ceiling: float = min(self.backoff * 2**attempt, _MAX_DELAY)
        return ceiling * (0.5 + random.random() / 2)  # jitter, not cryptography
