"""Pure rendering of ``show``: a model's information as indented sections.

Sections, each shown only when the server sent something for it: Model (architecture,
parameters, context and embedding length, quantization), Capabilities, Parameters, System and
License (its first lines; ``show --license`` prints it all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import ShowResponse

__all__ = ["render_show"]

_LICENSE_LINES = 2


def _count(value: Any) -> str:
    """A parameter count as the library shows it: ``3.2B``, ``137M``."""
    if not isinstance(value, int) or value <= 0:
        return ""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return str(value)


def _section(title: str, rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [f"  {title}"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        cells.append(row[-1])
        lines.append(("    " + "    ".join(cells)).rstrip())
    return [*lines, ""]


def _model_rows(show: ShowResponse) -> list[tuple[str, str]]:
    info = show.model_info or {}
    details = show.details
    arch = str(info.get("general.architecture") or (details.family if details else "") or "")
    parameters = (details.parameter_size if details else None) or _count(
        info.get("general.parameter_count")
    )
    context = info.get(f"{arch}.context_length") or (details.context_length if details else None)
    embedding = info.get(f"{arch}.embedding_length") or (
        details.embedding_length if details else None
    )
    quantization = details.quantization_level if details else None
    rows = [
        ("architecture", arch),
        ("parameters", parameters or ""),
        ("context length", str(context or "")),
        ("embedding length", str(embedding or "")),
        ("quantization", quantization or ""),
    ]
    return [(name, value) for name, value in rows if value]


def _parameter_rows(text: str | None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for line in (text or "").splitlines():
        name, *value = line.split(maxsplit=1)
        rows.append((name, value[0] if value else ""))
    return rows


def _text_rows(text: str | None, limit: int | None = None) -> list[tuple[str]]:
    lines = [line.strip() for line in (text or "").strip().splitlines()]
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], "..."]
    return [(line,) for line in lines]


def render_show(show: ShowResponse) -> str:
    """The sections of ``show MODEL``."""
    lines = [
        *_section("Model", _model_rows(show)),
        *_section("Capabilities", [(c,) for c in show.capabilities or ()]),
        *_section("Parameters", _parameter_rows(show.parameters)),
        *_section("System", _text_rows(show.system)),
        *_section("License", _text_rows(show.license, _LICENSE_LINES)),
    ]
    return "\n".join(lines) + "\n" if lines else ""
