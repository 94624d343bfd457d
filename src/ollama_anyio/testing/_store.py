"""The state of one emulator: local models, uploaded blobs and the models loaded in memory.

Every method takes a lock, so the store is safe to use from request handlers and from a test's
thread at the same time (the thread form of the emulator runs handlers on another thread).
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ._models import CATALOG, PRELOADED, Model, catalog_model
from ._names import ModelName, parse_name

__all__ = ["FOREVER", "Loaded", "ModelStore"]

# Go's maximum time.Duration: what the server adds to "now" for a negative keep_alive.
FOREVER = _dt.timedelta(microseconds=(2**63 - 1) // 1000)


@dataclass(frozen=True)
class Loaded:
    """A model resident in (emulated) memory, as ``/api/ps`` lists it."""

    model: Model
    expires_at: _dt.datetime
    context_length: int


class ModelStore:
    """Local models, blobs and loaded models of one emulator.

    Args:
        models: catalogue names to preload (``None`` preloads the default set).

    Raises:
        ValueError: a name is not in the built-in catalogue.
    """

    def __init__(self, models: Iterable[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, Model] = {}
        self._blobs: dict[str, bytes] = {}
        self._loaded: dict[str, Loaded] = {}
        for text in PRELOADED if models is None else models:
            name = parse_name(text)
            model = catalog_model(name) if name is not None else None
            if model is None:
                known = ", ".join(m.name.display for m in CATALOG)
                raise ValueError(f"unknown model {text!r}; the catalogue has: {known}")
            self.add(model)

    # -- models ---------------------------------------------------------------------------

    def get(self, name: ModelName) -> Model | None:
        """The local model called ``name`` (case-insensitive), if any."""
        with self._lock:
            return self._models.get(name.key)

    def add(self, model: Model) -> None:
        """Store ``model``, replacing one with the same name."""
        with self._lock:
            self._models[model.name.key] = model

    def remove(self, name: ModelName) -> bool:
        """Delete a model (and unload it); returns whether it existed."""
        with self._lock:
            self._loaded.pop(name.key, None)
            return self._models.pop(name.key, None) is not None

    def models(self) -> list[Model]:
        """All local models, newest ``modified_at`` first (the order of ``/api/tags``)."""
        with self._lock:
            return sorted(self._models.values(), key=lambda m: m.modified_at, reverse=True)

    def names(self) -> list[str]:
        """Display names of all local models, e.g. ``llama3.2:latest``."""
        return [model.name.display for model in self.models()]

    # -- blobs ----------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """Whether a blob ``sha256:<hex>`` was uploaded or belongs to a local model."""
        with self._lock:
            if digest in self._blobs:
                return True
            return any(layer.digest == digest for m in self._models.values() for layer in m.layers)

    def put_blob(self, digest: str, data: bytes) -> None:
        """Keep an uploaded blob under its digest."""
        with self._lock:
            self._blobs[digest] = data

    def blob(self, digest: str) -> bytes | None:
        """The bytes of an uploaded blob."""
        with self._lock:
            return self._blobs.get(digest)

    # -- loaded models --------------------------------------------------------------------

    def load(self, model: Model, keep_alive: float, context_length: int, now: _dt.datetime) -> bool:
        """Mark ``model`` loaded until ``now + keep_alive`` seconds.

        Args:
            model: the model to load.
            keep_alive: seconds; negative keeps it forever; ``0`` unloads it at once.
            context_length: the allocated context window.
            now: the current time.

        Returns:
            Whether the model was already loaded (a warm load).
        """
        with self._lock:
            self._prune(now)
            warm = model.name.key in self._loaded
            if keep_alive == 0:
                self._loaded.pop(model.name.key, None)
                return warm
            delta = FOREVER if keep_alive < 0 else _dt.timedelta(seconds=keep_alive)
            expires = now + delta
            self._loaded[model.name.key] = Loaded(model, expires, context_length)
            return warm

    def unload(self, name: ModelName) -> None:
        """Drop a model from memory."""
        with self._lock:
            self._loaded.pop(name.key, None)

    def running(self, now: _dt.datetime) -> list[Loaded]:
        """Loaded models, the longest remaining keep-alive first."""
        with self._lock:
            self._prune(now)
            return sorted(self._loaded.values(), key=lambda e: e.expires_at, reverse=True)

    def _prune(self, now: _dt.datetime) -> None:
        for key, entry in list(self._loaded.items()):
            if entry.expires_at <= now:
                del self._loaded[key]
