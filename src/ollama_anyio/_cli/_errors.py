"""The CLI's own failures, beside the client's `OllamaError` tree, and how errors are told.

::

    CliError         reported as ``Error: <message>``, exit status 1
    └── ModelfileError   (in `_modelfile`) a Modelfile that cannot be parsed
    UsageError       the command line is wrong: reported like argparse's errors, exit status 2
"""

from __future__ import annotations

import httpx

from .. import ResponseError

__all__ = ["CliError", "UsageError", "error_message", "unreachable"]


class CliError(Exception):
    """A failure to report as ``Error: <message>`` with exit status 1 (e.g. a missing file)."""


class UsageError(Exception):
    """Arguments that parse but make no sense together; exit status 2, like argparse's errors."""


def error_message(exc: BaseException) -> str:
    """The message of an error; a server's message without the status code it does not need."""
    return exc.error if isinstance(exc, ResponseError) else str(exc)


def unreachable(exc: BaseException) -> bool:
    """Whether the error is a failure to reach the server at all (nothing listening there),
    rather than, say, a connection that broke during an answer."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout))
