"""The request log: one line per request on the ``ollama_anyio.requests`` logger.

A consumer of the observation point (`_observe`): the send loop reports each request's end
there, and `log_request` writes its line, at INFO, when that level is on. Only the method, the
URL (which never carries credentials: the host parser drops them), the status or the failure,
the elapsed time, the retries and the request id; never a header or a body.

``OLLAMA_ANYIO_LOG`` (`configure_logging`) turns it on without touching logging's setup.
"""

from __future__ import annotations

import logging
import os
import sys

from .._errors import RequestError

__all__ = ["LOG_VARIABLE", "configure_logging", "log_request", "logger"]

# Request lines go to a child of the package's logger: OLLAMA_ANYIO_LOG (or any level set on
# ``ollama_anyio``) governs both, and a handler can still tell them from the retry lines.
logger = logging.getLogger("ollama_anyio.requests")
_package_logger = logging.getLogger("ollama_anyio")

LOG_VARIABLE = "OLLAMA_ANYIO_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_request(
    method: str,
    url: str,
    outcome: str,
    elapsed: float,
    retries: int,
    request_id: str | None,
) -> None:
    """Write one request's line (the caller checked that INFO is on)."""
    logger.info(
        "%s %s %s in %.1f ms, %d retr%s%s",
        method,
        url,
        outcome,
        elapsed * 1000,
        retries,
        "y" if retries == 1 else "ies",
        "" if request_id is None else f" [{request_id}]",
    )


_handler: logging.Handler | None = None


def configure_logging() -> None:
    """Turn on request logging if ``OLLAMA_ANYIO_LOG`` says so (``debug`` or ``info``).

    Called when a client is built, never at import. It sets the ``ollama_anyio`` logger's
    level and, unless the application gave that logger a handler of its own, adds one that
    writes to stderr (once per process). Unset or empty: nothing changes.

    Raises:
        RequestError: the variable has another value.
    """
    global _handler
    value = os.environ.get(LOG_VARIABLE, "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        raise RequestError(f"{LOG_VARIABLE} must be 'debug' or 'info', got {value!r}")
    _package_logger.setLevel(level)
    if _handler is None and not _package_logger.handlers:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        _package_logger.addHandler(_handler)
