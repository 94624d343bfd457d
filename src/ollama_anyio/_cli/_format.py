"""Pure formatting for the tables: human sizes, relative times, the processor split, columns.

The shapes follow what the ``ollama`` CLI prints, so output looks familiar: decimal units
("2.0 GB"), relative times ("3 days ago", "4 minutes from now"), left-aligned columns.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

__all__ = [
    "go_duration",
    "human_bytes",
    "human_rate",
    "processor",
    "relative_time",
    "table",
    "timings",
    "until",
]

_UNITS = ("KB", "MB", "GB", "TB", "PB")
# A model kept loaded "forever" expires centuries from now; anything this far away is forever.
_FOREVER = _dt.timedelta(days=365 * 50)


def human_bytes(size: int) -> str:
    """``size`` in decimal units: ``"96 B"``, ``"1.4 KB"``, ``"2.0 GB"``, ``"274 MB"``."""
    size = max(size, 0)
    if size < 1000:
        return f"{size} B"
    value, index = size / 1000, 0
    # Move up a unit rather than print "1000 MB".
    while round(value) >= 1000 and index < len(_UNITS) - 1:
        value, index = value / 1000, index + 1
    unit = _UNITS[index]
    # One decimal while it is informative, whole numbers from 10 up.
    return f"{value:.1f} {unit}" if round(value, 1) < 10 else f"{value:.0f} {unit}"


def human_rate(bytes_per_second: float) -> str:
    """A transfer rate, e.g. ``"25 MB/s"``."""
    return f"{human_bytes(round(bytes_per_second))}/s"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _span(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "less than a second"
    if whole < 60:
        return _plural(whole, "second")
    minutes = whole // 60
    if minutes < 60:
        return "about a minute" if minutes == 1 else _plural(minutes, "minute")
    hours = minutes // 60
    if hours < 24:
        return "about an hour" if hours == 1 else _plural(hours, "hour")
    days = hours // 24
    if days < 7:
        return _plural(days, "day")
    if days < 30:
        return _plural(days // 7, "week")
    if days < 365:
        return _plural(days // 30, "month")
    return _plural(days // 365, "year")


def relative_time(then: _dt.datetime, now: _dt.datetime) -> str:
    """``then`` relative to ``now``: ``"3 days ago"``, ``"About a minute ago"``, ``"4 minutes
    from now"``. Both must be timezone-aware (the client's timestamps are)."""
    seconds = (now - then).total_seconds()
    text = f"{_span(seconds)} ago" if seconds >= 0 else f"{_span(-seconds)} from now"
    return text[0].upper() + text[1:]


def until(expires: _dt.datetime | None, now: _dt.datetime) -> str:
    """The UNTIL column of ``ps``: when a loaded model will be unloaded."""
    if expires is None:
        return ""
    if expires - now > _FOREVER:
        return "Forever"
    if expires <= now:
        return "Stopping..."
    return relative_time(expires, now)


def processor(size: int, size_vram: int) -> str:
    """Where a loaded model lives: ``"100% GPU"``, ``"100% CPU"`` or ``"25%/75% CPU/GPU"``."""
    if size <= 0 or size_vram <= 0:
        return "100% CPU"
    if size_vram >= size:
        return "100% GPU"
    cpu = round(100 * (size - size_vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 4) -> str:
    """Left-aligned columns separated by at least ``gap`` spaces; one line per row."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines: list[str] = []
    for row in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append((" " * gap).join(cells).rstrip())
    return "\n".join(lines) + "\n"


def go_duration(nanoseconds: int) -> str:
    """A duration as Go prints one (``ollama run --verbose`` does): ``"0s"``, ``"850ns"``,
    ``"61.145167ms"``, ``"7.945641583s"``, ``"1m2.5s"``, ``"1h0m0s"``."""
    if nanoseconds == 0:
        return "0s"
    sign, value = ("-" if nanoseconds < 0 else ""), abs(nanoseconds)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_decimal(value, 1_000)}µs"
    if value < 1_000_000_000:
        return f"{sign}{_decimal(value, 1_000_000)}ms"
    hours, rest = divmod(value, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{hours}h{minutes}m" if hours else (f"{minutes}m" if minutes else "")
    return f"{sign}{text}{_decimal(rest, 1_000_000_000)}s"


def _decimal(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{part:0{digits}d}".rstrip("0")


def timings(
    *,
    total_duration: int | None,
    load_duration: int | None,
    prompt_eval_count: int | None,
    prompt_eval_duration: int | None,
    eval_count: int | None,
    eval_duration: int | None,
) -> str:
    """The summary ``ollama run --verbose`` prints after an answer: the lines it has figures
    for (durations as Go prints them, rates in tokens per second)."""
    rows: list[tuple[str, str]] = []
    if total_duration:
        rows.append(("total duration", go_duration(total_duration)))
    if load_duration:
        rows.append(("load duration", go_duration(load_duration)))
    if prompt_eval_count:
        rows.append(("prompt eval count", f"{prompt_eval_count} token(s)"))
    if prompt_eval_duration:
        rows.append(("prompt eval duration", go_duration(prompt_eval_duration)))
        rate = (prompt_eval_count or 0) / prompt_eval_duration * 1e9
        rows.append(("prompt eval rate", f"{rate:.2f} tokens/s"))
    if eval_count:
        rows.append(("eval count", f"{eval_count} token(s)"))
    if eval_duration:
        rows.append(("eval duration", go_duration(eval_duration)))
        rows.append(("eval rate", f"{(eval_count or 0) / eval_duration * 1e9:.2f} tokens/s"))
    return "".join(f"{label + ':':<22}{value}\n" for label, value in rows)
