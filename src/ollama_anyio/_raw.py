"""Raw responses: a call's result together with the HTTP answer it came from.

``client.with_raw_response.chat(...)`` (`capture`): a context variable (`_observe.raw_record`)
holds a `_Record` while the call runs in the caller's task; the send loop's observation point
(`_observe.Observer.end`) fills it as each request ends, and the call's result comes back as a
`RawResponse` with the last answer's status, headers, elapsed time and request id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import httpx

from ._errors import RequestError
from ._http._direct_sender import Reply
from ._http._observe import raw_record, reply_headers

__all__ = ["RawResponse", "capture", "reply_headers"]  # reply_headers: from _observe

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class RawResponse(Generic[T_co]):
    """A call's result together with the HTTP answer it came from.

    Attributes:
        parsed: what the call returns without ``with_raw_response``.
        status_code: the HTTP status of the (last) answer.
        headers: its headers, case-insensitive (``headers["x-request-id"]``).
        elapsed: seconds from sending the request (its first attempt) to the answer's head.
        retries: how many times the request was tried again before this answer.
        method, url: the request.
        request_id: the id the request was sent with (``X-Request-Id`` by default), or None.

    A call that sends several requests (``ensure``, the batch helpers) reports the last one.
    """

    __slots__ = (
        "_parsed",
        "elapsed",
        "headers",
        "method",
        "request_id",
        "retries",
        "status_code",
        "url",
    )

    def __init__(
        self,
        parsed: T_co,
        *,
        status_code: int,
        headers: httpx.Headers,
        elapsed: float,
        retries: int,
        method: str,
        url: str,
        request_id: str | None = None,
    ) -> None:
        self._parsed = parsed
        self.status_code: int = status_code
        self.headers: httpx.Headers = headers
        self.elapsed: float = elapsed
        self.retries: int = retries
        self.method: str = method
        self.url: str = url
        self.request_id: str | None = request_id

    @property
    def parsed(self) -> T_co:
        """What the call returns without ``with_raw_response``."""
        return self._parsed

    def __repr__(self) -> str:
        return (
            f"<RawResponse {self.method} {self.url} {self.status_code} "
            f"in {self.elapsed * 1000:.1f} ms: {type(self.parsed).__name__}>"
        )


class _Record:
    __slots__ = ("elapsed", "method", "reply", "request_id", "retries", "url")

    def __init__(self) -> None:
        self.reply: Reply | None = None
        self.method = self.url = ""
        self.request_id: str | None = None
        self.elapsed = 0.0
        self.retries = 0


async def capture(call: Callable[[], Awaitable[T]]) -> RawResponse[T]:
    """Run ``call`` (one endpoint call, in this task) and return its result with its answer."""
    record = _Record()
    token = raw_record.set(record)
    try:
        parsed = await call()
    finally:
        raw_record.reset(token)
    if callable(getattr(parsed, "next_batch", None)):  # a stream: it has sent nothing yet
        await parsed.aclose()  # type: ignore[attr-defined]
        raise RequestError(
            "with_raw_response has no streaming form: use "
            "with_streaming_response.<endpoint>(..., stream=True) for the response's status "
            "and headers at once and then its lines, or read status_code and headers on the "
            "stream itself"
        )
    reply = record.reply
    if reply is None:  # pragma: no cover - every endpoint sends a request
        raise RuntimeError("the call sent no request")
    return RawResponse(
        parsed,
        status_code=reply.status_code,
        headers=reply_headers(reply),
        elapsed=record.elapsed,
        retries=record.retries,
        method=record.method,
        url=record.url,
        request_id=record.request_id,
    )
