"""The short commands: ``list``, ``ps``, ``show``, ``rm``, ``cp``, ``embed`` and ``version``.

Each makes one or a few calls and prints the answer; the formatting is in `_format`/`_show`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json

from .. import Client, __version__
from ._console import Console
from ._errors import UsageError
from ._format import human_bytes, processor, relative_time, table, until
from ._show import render_show

__all__ = ["copy", "embed", "list_models", "ps", "remove", "show", "version"]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _short(digest: str | None) -> str:
    """The ID column: the first 12 hex digits of a digest."""
    return (digest or "").removeprefix("sha256:")[:12]


def list_models(client: Client, args: argparse.Namespace, console: Console) -> int:
    """The local models: NAME ID SIZE MODIFIED."""
    now = _now()
    rows = [
        (
            model.model or model.name or "",
            _short(model.digest),
            human_bytes(model.size or 0),
            relative_time(model.modified_at, now) if model.modified_at else "",
        )
        for model in client.list().models
    ]
    console.out(table(("NAME", "ID", "SIZE", "MODIFIED"), rows))
    return 0


def ps(client: Client, args: argparse.Namespace, console: Console) -> int:
    """The loaded models: NAME ID SIZE PROCESSOR CONTEXT UNTIL."""
    now = _now()
    rows = [
        (
            model.model or model.name or "",
            _short(model.digest),
            human_bytes(model.size or 0),
            processor(model.size or 0, model.size_vram or 0),
            str(model.context_length or ""),
            until(model.expires_at, now),
        )
        for model in client.ps().models
    ]
    console.out(table(("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"), rows))
    return 0


def show(client: Client, args: argparse.Namespace, console: Console) -> int:
    """A model's information, or just one part of it (``--modelfile``, ``--license``, ...)."""
    info = client.show(args.model)
    if args.field is None:
        console.out(render_show(info))
        return 0
    text = getattr(info, args.field) or ""
    console.out(text if not text or text.endswith("\n") else text + "\n")
    return 0


def remove(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Delete models, stopping at the first that cannot be deleted."""
    for model in args.models:
        client.delete(model)
        console.out(f"deleted '{model}'\n")
    return 0


def copy(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Copy a model under a new name."""
    client.copy(args.source, args.destination)
    console.out(f"copied '{args.source}' to '{args.destination}'\n")
    return 0


def embed(client: Client, args: argparse.Namespace, console: Console) -> int:
    """One JSON array per input; the inputs are TEXT arguments, else the lines of stdin."""
    texts: list[str] = args.text or [
        line for line in console.read_stdin().splitlines() if line.strip()
    ]
    if not texts:
        raise UsageError("no input: give TEXT, or pipe lines to stdin")
    response = client.embed(args.model, texts, dimensions=args.dimensions)
    for vector in response.embeddings:
        console.out(json.dumps(vector) + "\n")
    return 0


def version(client: Client, args: argparse.Namespace, console: Console) -> int:
    """The client's version, then the server's."""
    console.out(f"client version is {__version__}\n")
    console.out(f"server version is {client.version()}\n")
    return 0
