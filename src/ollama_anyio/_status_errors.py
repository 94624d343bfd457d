"""`ResponseError`'s subclasses by HTTP status, and which 429 answers can never succeed.

Pure: a status and the server's message in, a class (or a yes/no) out. `response_error`
(``_errors``) asks `status_error_class` which class to build, and the retry loop asks
`is_usage_limit` before retrying a 429. Every class is a `ResponseError`, so
``except ResponseError`` keeps catching all of them; a status without a class of its own
(500, 499, ...) stays a plain `ResponseError`. The tree::

    ResponseError
    ├── BadRequestError          400
    ├── UnauthorizedError        401  (``signin_url``: where to sign in to ollama.com)
    ├── ForbiddenError           403
    ├── NotFoundError            404  (``model``: the model named in "model ... not found")
    ├── RateLimitError           429
    │   └── UsageLimitError      429 whose message says a usage limit or quota is used up
    ├── BadGatewayError          502
    ├── ServerBusyError          503
    └── GatewayTimeoutError      504
"""

from __future__ import annotations

import re

from ._errors import ResponseError

__all__ = [
    "STATUS_ERRORS",
    "BadGatewayError",
    "BadRequestError",
    "ForbiddenError",
    "GatewayTimeoutError",
    "NotFoundError",
    "RateLimitError",
    "ServerBusyError",
    "UnauthorizedError",
    "UsageLimitError",
    "is_usage_limit",
    "status_error_class",
]


class BadRequestError(ResponseError):
    """400: the server refused the request (an invalid name, option or capability)."""


class UnauthorizedError(ResponseError):
    """401: the request needs credentials; for a cloud model, ``signin_url`` is where to sign in."""

    @property
    def hint(self) -> str | None:
        """What to do about it, when the server said."""
        if self.signin_url:
            return f"sign in to ollama.com at {self.signin_url}"
        return None


class ForbiddenError(ResponseError):
    """403: the server will not do this (e.g. cloud features are disabled on it)."""


# Ollama's "not found" messages name the model in single or double quotes (SPEC 1.6).
_MODEL_NOT_FOUND = re.compile(r"""\bmodel (['"])(.*?)\1 not found""")


class NotFoundError(ResponseError):
    """404: no such model (or route). ``model`` is the model the message names, if any."""

    @property
    def model(self) -> str | None:
        """The model named by a "model '...' not found" message, else None."""
        found = _MODEL_NOT_FOUND.search(self.error)
        return found.group(2) if found else None

    @property
    def hint(self) -> str | None:
        """How to get the missing model, when the message names one."""
        model = self.model
        if not model:
            return None
        return f"the server does not have {model!r}: pull it first (client.pull({model!r}))"


class RateLimitError(ResponseError):
    """429: too many requests; retried by the client's policy, as ``Retry-After`` says."""


class UsageLimitError(RateLimitError):
    """429 saying a usage limit or quota is used up: waiting seconds cannot help, so it is
    never retried."""


class BadGatewayError(ResponseError):
    """502: a proxy (or Ollama for a cloud model) got no valid answer from its upstream."""


class ServerBusyError(ResponseError):
    """503: the server's queue is full ("server busy"); retried by the client's policy."""


class GatewayTimeoutError(ResponseError):
    """504: a proxy gave up waiting for the server; not retried, the request may be running."""


STATUS_ERRORS: dict[int, type[ResponseError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    429: RateLimitError,
    502: BadGatewayError,
    503: ServerBusyError,
    504: GatewayTimeoutError,
}

# A rate limit that clears in seconds says "rate limit" or "too many requests"; one that
# clears at the end of a period talks of usage limits, quotas, credit, or the period itself.
_USAGE_LIMIT = re.compile(
    r"usage limit|quota|exhausted|out of credit|insufficient credit"
    r"|(?:hourly|daily|weekly|monthly) limit",
    re.IGNORECASE,
)


def is_usage_limit(message: str) -> bool:
    """Whether a 429's message says a usage limit or quota is used up (not worth retrying).

    A plain "rate limit exceeded" or "too many requests" is a short-term limit: retried.
    """
    return _USAGE_LIMIT.search(message) is not None


def status_error_class(status_code: int, message: str) -> type[ResponseError]:
    """The class of the error for an answer with ``status_code`` and ``message``."""
    if status_code == 429 and is_usage_limit(message):
        return UsageLimitError
    return STATUS_ERRORS.get(status_code, ResponseError)
