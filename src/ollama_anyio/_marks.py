"""Marks on the methods the generator turns into the blocking and module-level surface.

``tools/generate_surface.py`` reads these decorators from the source (with `ast`; it imports
nothing of the package), so what a method is stands at its definition, as trio's ``@_public``
does. At run time they do nothing: each returns the function it was given, unchanged, so a
marked method costs nothing per call.

- `endpoint`: an official endpoint of `AsyncEndpoints`. It gets a blocking twin on `Client`
  (through ``Client._request``), a module-level function on the default client unless
  ``module_function=False``, and a ``with_raw_response`` twin unless ``raw=False``.
- `helper`: a method of a helper group (``client.models``, ``client.batch``,
  ``client.tools``). It gets a blocking twin on the group's blocking class, which calls it
  across the portal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["endpoint", "helper"]

F = TypeVar("F", bound=Callable[..., Any])


def endpoint(*, module_function: bool = True, raw: bool = True) -> Callable[[F], F]:
    """Mark an official endpoint (see the module docstring); changes nothing at run time.

    Args:
        module_function: whether ``ollama_anyio.<name>`` calls it on the default client.
        raw: whether ``with_raw_response.<name>`` returns its `RawResponse`.
    """

    def mark(function: F) -> F:
        return function

    return mark


def helper(function: F) -> F:
    """Mark a helper group's method: its blocking twin is generated. Changes nothing."""
    return function
