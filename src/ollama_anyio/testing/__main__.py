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

from ._emulator import OllamaEmulator
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
    return parser


async def _serve(args: argparse.Namespace) -> None:
    emulator = OllamaEmulator(
        host=args.host, port=args.port, models=args.models, token_delay=args.token_delay
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
        anyio.run(_serve, args, backend=args.backend)
    except KeyboardInterrupt:
        pass
    except EngineUnavailable as exc:  # --model smollm2 without the llama extra
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
