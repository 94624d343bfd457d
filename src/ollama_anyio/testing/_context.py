"""What a request handler may use: the store, the scripted replies, per-request settings."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._engine import ReplySource
from ._runner import Runner
from ._store import ModelStore

__all__ = ["Context", "ReplyQueue"]


class ReplyQueue:
    """Scripted replies, consumed one per generate/chat request (load/unload excluded).

    Safe to fill from a test's thread while the server consumes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[ReplySource] = deque()

    def push(self, *replies: ReplySource) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._items.extend(replies)

    def pop(self) -> ReplySource | None:
        """The next scripted reply, or ``None`` to use the default engine."""
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        """Drop every queued reply."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass
class Context:
    """Everything a handler needs besides the request.

    Attributes:
        store: the emulator's models, blobs and loaded models.
        replies: the scripted replies queue.
        version: what ``/api/version`` reports.
        load_seconds: extra model-load time from a slow-load fault, reported in
            ``load_duration``.
        done_reason_only: end generate/chat streams with ``done_reason`` but ``"done": false``.
        engines: the runners of models served by an engine, by model key; every other
            model gets the deterministic answers.
    """

    store: ModelStore
    replies: ReplyQueue
    version: str = "0.12.6"
    load_seconds: float = 0.0
    done_reason_only: bool = False
    engines: Mapping[str, Runner] = field(default_factory=dict[str, Runner])
