"""``pull``, ``push`` and ``create``: commands whose answer is a stream of progress events."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path

from .. import Client, ProgressResponse
from ._console import Console
from ._errors import CliError, UsageError
from ._modelfile import Modelfile, parse_modelfile
from ._progress import ProgressView

__all__ = ["create", "pull", "push", "show_progress"]

_DEFAULT_MODELFILE = "Modelfile"


def show_progress(events: Iterable[ProgressResponse], console: Console) -> None:
    """Write progress events to stderr: a bar on a terminal, distinct status lines otherwise."""
    view = ProgressView(tty=console.stderr_tty, width=console.width, unicode=console.unicode)
    try:
        for event in events:
            now = time.monotonic()
            console.err(view.feed(event.status, event.digest, event.completed, event.total, now))
    finally:
        # Also on an error or Ctrl-C: the message that follows starts on its own line.
        console.err(view.finish())


def pull(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Download a model."""
    with client.pull(args.model, insecure=args.insecure, stream=True) as events:
        show_progress(events, console)
    return 0


def push(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Upload a model."""
    with client.push(args.model, insecure=args.insecure, stream=True) as events:
        show_progress(events, console)
    return 0


def _read_modelfile(args: argparse.Namespace) -> tuple[Modelfile, Path]:
    """The Modelfile to use and the folder its relative paths start from."""
    if args.file is not None:
        path = Path(args.file).expanduser()
    elif Path(_DEFAULT_MODELFILE).is_file():
        path = Path(_DEFAULT_MODELFILE)
    else:
        # Options alone (--from, --system) are a complete recipe.
        return Modelfile(), Path.cwd()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read the Modelfile {str(path)!r}: {exc.strerror or exc}") from exc
    return parse_modelfile(text), path.parent


def _local_path(source: str, folder: Path) -> Path | None:
    """The file or folder ``source`` names, or None when it names a model."""
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = folder / path
    if path.exists():
        return path
    if source.startswith((".", "/", "~")):
        raise CliError(f"no such file or folder: {source}")
    return None


def _upload(client: Client, path: Path, console: Console) -> dict[str, str]:
    """Upload a file, or the files of a folder, as blobs: ``{file name: digest}``."""
    paths = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    )
    if not paths:
        raise CliError(f"no files to upload in {str(path)!r}")
    files: dict[str, str] = {}
    for file in paths:
        digest = client.create_blob(file)
        console.err(f"copying file {digest} 100%\n")
        files[file.name] = digest
    return files


def create(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Create a model from a Modelfile and options; options override the Modelfile."""
    modelfile, folder = _read_modelfile(args)
    # A path in --from is relative to the current folder, one in FROM to the Modelfile's.
    source, folder = (args.from_, Path.cwd()) if args.from_ else (modelfile.from_, folder)
    if not source:
        raise UsageError("create needs a Modelfile with a FROM line (-f), or --from")
    console.err("gathering model components\n")
    from_, files = source, None
    path = _local_path(source, folder)
    if path is not None:
        from_, files = None, _upload(client, path, console)
    adapters: dict[str, str] = {}
    for adapter in modelfile.adapters:
        adapter_path = _local_path(adapter, folder)
        if adapter_path is None:
            raise CliError(f"ADAPTER must be a file or folder: {adapter}")
        adapters.update(_upload(client, adapter_path, console))
    stream = client.create(
        args.model,
        quantize=args.quantize,
        from_=from_,
        files=files,
        adapters=adapters or None,
        template=modelfile.template,
        license=modelfile.license or None,
        system=args.system if args.system is not None else modelfile.system,
        parameters=modelfile.parameters or None,
        messages=modelfile.messages or None,
        stream=True,
    )
    with stream as events:
        show_progress(events, console)
    return 0
