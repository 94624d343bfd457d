"""When a failed request is sent again, and after how long: pure policy, no I/O.

The transport reports how far a failed exchange got (a `Fact`, see `_errors`), the session
says whether the request may be repeated; `RetryPolicy.decide` alone answers:

- nothing was sent (the connection could not be made, or not a byte of the request left):
  the server cannot have acted, so the request is sent again, after a backoff; or at once if
  it was a kept-alive connection the server had closed meanwhile;
- the request was sent on a kept-alive connection and no byte of an answer came (the server
  closed it as the request arrived): sent again at once on a new connection, once, and only if
  the request is safe to repeat (RFC 9110 §9.2.2);
- the server answered 429, 502 or 503 (Ollama's "server busy", a proxy whose upstream is
  restarting), so it did not act: sent again after the backoff or what ``Retry-After`` says,
  if the request is safe to repeat;
- anything else (a response had begun, a timeout waiting for it, a framing error, no file
  descriptors left): never.

The transport looks at an idle connection before reusing it (see `_transport`): one the
server closed, or wrote to, is dropped before a byte is sent, so the second and third cases
above are left to a server that closes in the instant between that look and the request's
write. There RFC 9110 §9.2.2 decides: the server may have read the request and acted on it,
so only a request safe to repeat is sent again; a write fails (as with httpx) rather than
risk running twice. A server that answers before the request's end (a 413 to an upload) is
not a failure: its answer is read and raised as it is.

"Safe to repeat": every endpoint but the writes (``create``, ``push``, ``copy``, ``delete``
and blob uploads), which are repeated only with ``retry_writes=True``. A body that is a
one-shot stream (a blob upload) is never sent twice.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import NamedTuple

from .._errors import Fact, Failure

__all__ = ["RETRY_STATUSES", "Retry", "RetryPolicy"]

RETRY_STATUSES = frozenset({429, 502, 503})
_MAX_DELAY = 30.0
_UNSENT = frozenset({Fact.NOT_CONNECTED, Fact.NOTHING_SENT})


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


class Retry(NamedTuple):
    """Send the request again, after ``delay`` seconds; ``stale``: a lost kept-alive connection's
    retry, which is not counted against ``max_retries``."""

    delay: float
    stale: bool = False


class RetryPolicy:
    """How many times to retry, and the delay before each retry.

    Args:
        max_retries: retries after the first attempt (0: never retry), stale kept-alive
            connections aside (a request they lose is sent again once, at once).
        backoff: the first delay in seconds; each next one doubles, up to 30 s, with full
            jitter (a random delay between half of it and all of it), so that many clients
            do not retry in step.
        retry_writes: also repeat the calls that change the server's state.
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

    def decide(
        self,
        attempt: int,
        *,
        idempotent: bool,
        repeatable: bool = True,
        failure: Failure | None = None,
        status: int | None = None,
        retry_after: str | None = None,
        stale_retried: bool = False,
    ) -> Retry | None:
        """Whether to send a failed request again, and when; None: do not.

        Args:
            attempt: the failed attempt's number (0 for the first), stale retries not counted.
            idempotent: the request is safe to repeat.
            repeatable: its body can be sent again (not a one-shot stream).
            failure: what failed, if the exchange did.
            status: else the status of the answer (one of `RETRY_STATUSES` to be retried).
            retry_after: that answer's ``Retry-After`` header.
            stale_retried: a stale connection's loss was already retried once for this call.
        """
        if not repeatable:
            return None
        safe = idempotent or self.retry_writes
        if failure is not None:
            if failure.timeout not in (None, "connect", "pool"):
                return None
            stale = failure.reused and not stale_retried
            if failure.fact in _UNSENT:
                if stale and failure.fact is Fact.NOTHING_SENT:
                    return Retry(0.0, stale=True)
                return Retry(self._backoff(attempt)) if self._more(attempt, safe) else None
            if failure.fact is Fact.NO_RESPONSE and stale and safe:
                return Retry(0.0, stale=True)
            return None
        if status in RETRY_STATUSES and self._more(attempt, safe):
            asked = _retry_after(retry_after)
            return Retry(min(asked, _MAX_DELAY) if asked is not None else self._backoff(attempt))
        return None

    def _more(self, attempt: int, safe: bool) -> bool:
        return safe and attempt < self.max_retries

    def _backoff(self, attempt: int) -> float:
        ceiling: float = min(self.backoff * 2**attempt, _MAX_DELAY)
        return ceiling * (0.5 + random.random() / 2)  # jitter, not cryptography
