"""An asynchronous body under a stream fault: the synchronous rules, driven from async lines.

A fault's rules are written once, as :func:`~._faults._stream_actions` over an iterator of
lines. That generator never reads more than two lines ahead of what it has written, so an
asynchronous body can drive it: read lines until two are waiting (or the body ended), then
take the generator's next write. Without a fault the lines pass straight through, without the
look-ahead, so a real model's tokens are not held back.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, TypeAlias

from ._wire import AsyncBody

if TYPE_CHECKING:
    from ._faults import Action, Fault

__all__ = ["AsyncActions", "async_actions"]

# The writes of an asynchronous body: a function opening a context (it may hold a model and a
# worker thread) that yields them; the HTTP layer enters it around the whole write.
AsyncActions: TypeAlias = (
    "Callable[[], contextlib.AbstractAsyncContextManager[AsyncIterator[Action]]]"
)
StreamActions: TypeAlias = "Callable[[Iterator[bytes], Fault | None], Iterator[Action]]"

_LOOK_AHEAD = 2


class _Actions:
    """The writes of async ``lines`` under ``fault`` (a class: nothing to finalize)."""

    def __init__(
        self, lines: AsyncIterator[bytes], fault: Fault | None, rules: StreamActions
    ) -> None:
        self._lines = lines
        self._fault = fault
        self._buffer: deque[bytes] = deque()
        self._ended = False
        self._actions = rules(self._buffered(), fault)

    def _buffered(self) -> Iterator[bytes]:
        # Empty only once the body ended: __anext__ keeps _LOOK_AHEAD lines waiting.
        while self._buffer:
            yield self._buffer.popleft()

    def __aiter__(self) -> _Actions:
        return self

    async def __anext__(self) -> Action:
        if self._fault is None:
            return "send", await self._lines.__anext__()
        while not self._ended and len(self._buffer) < _LOOK_AHEAD:
            try:
                self._buffer.append(await self._lines.__anext__())
            except StopAsyncIteration:
                self._ended = True
        try:
            return next(self._actions)
        except StopIteration:
            raise StopAsyncIteration from None


def async_actions(body: AsyncBody, fault: Fault | None, rules: StreamActions) -> AsyncActions:
    """The writes of ``body`` under ``fault``, by the synchronous ``rules``."""

    @contextlib.asynccontextmanager
    async def actions() -> AsyncGenerator[AsyncIterator[Action], None]:
        async with body() as lines:
            yield _Actions(lines, fault, rules)

    return actions
