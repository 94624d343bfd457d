"""`TransferProgress`: pull, push and create progress folded into one figure. Pure.

The server reports progress per layer (``status``, ``digest``, ``completed``, ``total``), one
layer after another, and a layer's count may be repeated or (after a resumed download) start
lower. A progress bar wants one figure that only moves forwards: bytes done over the bytes of
every layer seen so far, and the latest status line. Each layer's count is kept at its
highest, so ``completed`` and ``total`` never decrease, and ``fraction`` never goes backwards
when a new layer raises the total.
"""

from __future__ import annotations

from ._types import ProgressResponse

__all__ = ["TransferProgress"]


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
        return self

    def _update(self, key: tuple[str, str], completed: int, total: int) -> None:
        layer = self._layers.get(key)
        if layer is None:
            layer = self._layers[key] = [0, 0]
        new_total = max(layer[1], total)
        new_completed = min(max(layer[0], completed), new_total)
        self._total += new_total - layer[1]
        self._completed += new_completed - layer[0]
        layer[0], layer[1] = new_completed, new_total
        if self._total:
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
        """The highest ``completed / total`` seen, between 0 and 1; never decreases."""
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
