"""`TransferProgress`: pull, push and create progress folded into one figure. Pure.

The server reports progress per layer (``status``, ``digest``, ``completed``, ``total``), one
layer after another, and a layer's count may be repeated or (after a resumed download) start
lower. Nothing says how many layers are to come, so the bytes known grow as layers appear.
A progress bar wants one figure that is honest and only moves forwards:

- ``completed`` and ``total``: bytes done over the bytes of every layer seen so far, each
  layer's count kept at its highest, so neither decreases;
- ``fraction``: ``completed / total`` while a layer is in progress; when a new layer makes
  that ratio fall, it holds its value until the ratio passes it again (never backwards);
  when every layer seen is complete, it holds too, since more layers may follow, and it
  reaches 1.0 only when the layers are over: a status line without a byte count after the
  counted ones (``verifying sha256 digest``, ``writing manifest``, ``pushing manifest``) or
  ``success``.
"""

from __future__ import annotations

import msgspec

from ._types import ProgressResponse

__all__ = ["EnsureResult", "TransferProgress"]


class EnsureResult(msgspec.Struct, kw_only=True, frozen=True):
    """What ``ensure()`` did.

    True when it pulled the model, False when the server had it already (so ``if await
    client.ensure(...)`` reads as "it was pulled").

    Attributes:
        model: the name asked for.
        pulled: whether the model was pulled (False: the server had it).
        completed: bytes done over every layer of the pull (0 when nothing was pulled).
        total: bytes of every layer of the pull, already present ones included (0 likewise).
    """

    model: str
    pulled: bool
    completed: int = 0
    total: int = 0

    def __bool__(self) -> bool:
        return self.pulled


class TransferProgress:
    """Overall progress of one pull, push or create, fed with its chunks.

    ``for part in client.pull(model, stream=True): progress.feed(part)``, then show
    ``progress.status``, ``progress.completed`` / ``progress.total`` or ``progress.fraction``.

    Attributes:
        status: the latest status line (``"pulling manifest"``, ``"pulling 6a0746a1ec1a"``,
            ``"success"``); ``""`` before the first chunk.
    """

    def __init__(self) -> None:
        # (digest, status) -> [completed, total]. The status is part of the key because
        # ``create`` reuses one (all-zero) digest for successive phases of different sizes.
        self._layers: dict[tuple[str, str], list[int]] = {}
        self._completed = 0
        self._total = 0
        self._fraction = 0.0
        self.status: str = ""

    def feed(self, part: ProgressResponse) -> TransferProgress:
        """Take one progress chunk into account; returns this object, for chaining."""
        self.status = part.status or self.status
        if part.total:
            self._update((part.digest or "", part.status or ""), part.completed or 0, part.total)
        elif self._total or part.status == "success":
            self.layers_over()
        return self

    def layers_over(self) -> None:
        """Record that no more layers follow (``feed`` sees it from the status lines).

        ``fraction`` becomes ``completed / total``: 1.0 when every layer is complete.
        """
        if self._total:
            self._fraction = max(self._fraction, self._completed / self._total)
        else:
            self._fraction = 1.0  # nothing to transfer: every layer was there already

    def _update(self, key: tuple[str, str], completed: int, total: int) -> None:
        layer = self._layers.get(key)
        if layer is None:
            layer = self._layers[key] = [0, 0]
        new_total = max(layer[1], total)
        new_completed = min(max(layer[0], completed), new_total)
        self._total += new_total - layer[1]
        self._completed += new_completed - layer[0]
        layer[0], layer[1] = new_completed, new_total
        if self._completed < self._total:  # a layer in progress: the ratio is a fact
            self._fraction = max(self._fraction, self._completed / self._total)

    @property
    def completed(self) -> int:
        """Bytes done, summed over the layers seen so far; never decreases."""
        return self._completed

    @property
    def total(self) -> int:
        """Bytes of all the layers seen so far; grows as layers appear."""
        return self._total

    @property
    def fraction(self) -> float:
        """Between 0 and 1, never decreasing; 1.0 only once the layers are over.

        ``completed / total`` while a layer is in progress; held (not lowered) when a new
        layer makes that ratio fall, and while every layer seen is complete but more may come.
        """
        return self._fraction

    @property
    def done(self) -> bool:
        """Whether the final ``success`` status was seen."""
        return self.status == "success"

    def __repr__(self) -> str:
        return (
            f"<TransferProgress {self.status!r} {self._completed}/{self._total} bytes "
            f"({self._fraction:.0%})>"
        )
