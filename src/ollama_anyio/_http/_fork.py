"""The process's fork generation: how state made before a ``fork()`` knows it is in the child.

A forked child inherits every object of its parent but only the thread that forked: a portal's
event-loop thread is gone, a lock another thread held stays held, and a pooled socket is the
parent's connection too (both processes would read and write one TCP stream). Objects that hold
such state remember the generation they were made in and, when `current` has moved on,
drop it (never closing what the parent still uses) and start afresh. One integer compare per
use (``_fork.current`` is read, not called: the pool looks at it on every request); the hook
below is registered at import, which starts nothing and reads nothing.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["current", "park"]

current: int = 0  # the generation: how many forks this process is from the one that imported us
# What a child must neither use nor close (a TLS stream whose closing would send the parent's
# close_notify, an httpx pool of another loop): kept referenced, so no finalizer touches it.
_parked: list[Any] = []


def _after_fork_in_child() -> None:
    global current
    current += 1


if hasattr(os, "register_at_fork"):  # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)


def park(thing: Any) -> None:
    """Keep ``thing`` (the parent's) alive and untouched for the rest of this process."""
    if len(_parked) < 1024:  # a child that forks in a loop must not grow without end
        _parked.append(thing)
