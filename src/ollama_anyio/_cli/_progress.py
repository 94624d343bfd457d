"""Pure progress accounting and rendering for ``pull``, ``push`` and ``create``.

The server reports progress per layer; `Progress` is the library's `TransferProgress` (one
overall figure that never goes backwards, the same that ``AsyncClient.ensure`` reports) with
the rate a bar shows next to it.

`ProgressView` turns events into the text to write: on a terminal, a bar per layer, each with
its own total, redrawn in place (the cursor moves up to a layer's line when its progress
changes) with status lines between them; elsewhere (a log, a pipe), each distinct status once,
on its own line. Time is passed in, so both are testable.
"""

from __future__ import annotations

from collections import deque

from .._progress import TransferProgress
from ._format import human_bytes, human_rate

__all__ = ["Progress", "ProgressView", "render_bar"]

# Seconds of history the rate is averaged over: long enough to be steady, short to follow.
_RATE_WINDOW = 5.0
_ERASE_LINE = "\x1b[K"
# Room kept for " 1.3 GB/2.0 GB  25 MB/s" after the bar.
_FIGURES = 24


class Progress(TransferProgress):
    """`TransferProgress`, fed layer by layer, with the rate over the last few seconds."""

    def __init__(self) -> None:
        super().__init__()
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, key: tuple[str, str], completed: int, total: int, now: float) -> None:
        """Record that layer ``key`` has ``completed`` of ``total`` bytes at time ``now``."""
        self._update(key, completed, total)
        self._samples.append((now, self.completed))
        while len(self._samples) > 2 and now - self._samples[0][0] > _RATE_WINDOW:
            self._samples.popleft()

    @property
    def rate(self) -> float | None:
        """Bytes per second over the last few seconds, or None before there is a measure."""
        if len(self._samples) < 2:
            return None
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        if end <= start:
            return None
        return (last - first) / (end - start)


def render_bar(status: str, progress: Progress, width: int = 80, unicode: bool = True) -> str:
    """One line: status, percentage, bar, bytes done/total and rate, fitting in ``width``."""
    percent = int(progress.fraction * 100)  # rounded down: 100% only when it is done
    rate = progress.rate
    right = f" {human_bytes(progress.completed)}/{human_bytes(progress.total)}"
    if rate:
        right += f"  {human_rate(rate)}"
    left = f"{status} {percent:3d}% "
    # The bar's size does not follow the length of the figures, so it does not jitter.
    cells = max(10, min(40, width - 1 - len(left) - _FIGURES - 2))
    filled = int(cells * progress.fraction)
    full, empty, ends = ("█", " ", "▕▏") if unicode else ("#", "-", "[]")
    bar = ends[0] + full * filled + empty * (cells - filled) + ends[1]
    line = left + bar + right
    # Too narrow a terminal: drop the status's start rather than wrap (a wrapped line
    # cannot be redrawn in place).
    return line[-(width - 1) :] if len(line) > width - 1 else line


def _update_layer(
    layer: Progress, key: tuple[str, str], completed: int, total: int, now: float
) -> None:
    # One layer's own bar: that layer complete is all there is to it (the overall fraction
    # waits for the end of the layers, as more may follow; one layer's does not).
    layer.update(key, completed, total, now)
    if completed >= total:
        layer.layers_over()


class ProgressView:
    """Turns progress events into the text to write to stderr.

    Args:
        tty: whether stderr is a terminal (a bar per layer, redrawn in place) or not (plain
            lines).
        width: the terminal's width in columns.
        unicode: whether the stream can show block characters.

    Attributes:
        progress: the transfer as a whole, over every layer.
    """

    def __init__(self, *, tty: bool, width: int = 80, unicode: bool = True) -> None:
        self.tty = tty
        self.width = width
        self.unicode = unicode
        self.progress = Progress()
        self._seen: set[str] = set()
        # The bars on screen since the last status line, in order: each layer's key, its own
        # progress and the line last drawn. The cursor sits at the end of the last one.
        self._bars: list[tuple[tuple[str, str], Progress, str]] = []

    def feed(
        self,
        status: str | None,
        digest: str | None,
        completed: int | None,
        total: int | None,
        now: float,
    ) -> str:
        """The text to write for one event (maybe empty)."""
        status = status or ""
        if total:
            key = (digest or "", status)
            self.progress.update(key, completed or 0, total, now)
            if not self.tty:
                return self._once(status)
            return self._draw(key, status, completed or 0, total, now)
        if self.progress.total:  # a status without a count after counted ones: layers over
            self.progress.layers_over()
        return self.finish() + self._once(status)

    def _draw(
        self, key: tuple[str, str], status: str, completed: int, total: int, now: float
    ) -> str:
        index = next((i for i, (k, _, _) in enumerate(self._bars) if k == key), None)
        if index is None:  # a new layer: a line of its own below the others
            layer = Progress()
            _update_layer(layer, key, completed, total, now)
            line = render_bar(status, layer, self.width, self.unicode)
            start = "\n" if self._bars else ""
            self._bars.append((key, layer, line))
            return f"{start}\r{line}{_ERASE_LINE}"
        _, layer, shown = self._bars[index]
        _update_layer(layer, key, completed, total, now)
        line = render_bar(status, layer, self.width, self.unicode)
        if line == shown:
            return ""
        self._bars[index] = (key, layer, line)
        up = len(self._bars) - 1 - index
        if not up:
            return f"\r{line}{_ERASE_LINE}"
        # Up to the layer's line, redraw it, back down to the last line.
        return f"\x1b[{up}A\r{line}{_ERASE_LINE}\x1b[{up}B"

    def finish(self) -> str:
        """The text that ends the bars left on screen (keeping them visible), or nothing."""
        if not self._bars:
            return ""
        self._bars = []
        return "\n"

    def _once(self, status: str) -> str:
        if not status or status in self._seen:
            return ""
        self._seen.add(status)
        return status + "\n"
