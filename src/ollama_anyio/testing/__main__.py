"""``python -m ollama_anyio.testing``: serve the emulator in the foreground.

Prints the base URL on one line once the server accepts connections, and stops cleanly
(exit status 0) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

import anyio

from .._backends import require_backend
from ._emulator import DEFAULT_REQUEST_LOG, OllamaEmulator
from ._llama import EngineUnavailable

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ollama_anyio.testing",
        description="Serve a deterministic Ollama API emulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=11434, help="port (0 picks a free one)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument(
        "--token-delay", type=float, default=0.0, help="seconds between streamed lines"
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="catalogue model to preload, or smollm2 for a real one (repeatable; default: the"
        " standard set)",
    )
    parser.add_argument(
        "--request-log",
        type=_count,
        default=DEFAULT_REQUEST_LOG,
        metavar="N",
        help=f"keep the latest N requests for inspection (0: none; default {DEFAULT_REQUEST_LOG})",
    )
    parser.add_argument(
        "--done-reason-only",
        action="store_true",
        help='end streams with done_reason but "done": false, as some newer runners do',
    )
    parser.add_argument(
        "--service-time",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time each generate, chat or embed request takes in its model's slot (default 0)",
    )
    parser.add_argument(
        "--num-parallel",
        type=_positive,
        default=None,
        metavar="N",
        help="slots per model, as OLLAMA_NUM_PARALLEL; an embedding model gets 1"
        " (default: no limit)",
    )
    parser.add_argument(
        "--slots",
        action="append",
        type=_slot,
        default=[],
        metavar="MODEL=N",
        help="slots of one model, overriding --num-parallel (repeatable)",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _slot(text: str) -> tuple[str, int]:
    name, sep, count = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected MODEL=N, got {text!r}")
    return name, _positive(count)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


async def _serve(args: argparse.Namespace) -> None:
    emulator = OllamaEmulator(
        host=args.host,
        port=args.port,
        models=args.models,
        token_delay=args.token_delay,
        request_log=args.request_log,
        done_reason_only=args.done_reason_only,
        service_time=args.service_time,
        num_parallel=args.num_parallel,
        slots=dict(args.slots),
    )
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with emulator:
            print(emulator.url, flush=True)
            async for _ in signals:
                return


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        require_backend(args.backend)
        anyio.run(_serve, args, backend=args.backend)
    except KeyboardInterrupt:
        pass
    except (EngineUnavailable, LookupError) as exc:  # an extra is missing: llama, trio
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
