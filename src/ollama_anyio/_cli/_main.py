"""``main``: parse the command line, connect (or start the emulator), run the command, and
turn every failure into a message and an exit status.

Exit statuses: 0 success; 1 an Ollama error or another failure, reported as ``Error: ...``
without a traceback; 2 a usage error; 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Generator, Sequence

from .. import Client, OllamaError
from ._chat import run
from ._console import Console
from ._errors import CliError, UsageError, error_message, unreachable
from ._models import copy, embed, list_models, ps, remove, show, version
from ._parser import build_parser, parse
from ._transfer import create, pull, push

__all__ = ["main"]

Command = Callable[[Client, argparse.Namespace, Console], int]

_COMMANDS: dict[str, Command] = {
    "run": run,
    "pull": pull,
    "push": push,
    "list": list_models,
    "ls": list_models,
    "ps": ps,
    "show": show,
    "rm": remove,
    "cp": copy,
    "create": create,
    "embed": embed,
    "version": version,
}
_INTERRUPTED = 128 + 2  # the shell's status for a process ended by SIGINT
# The error's own message already asks whether Ollama is running there: this says what to do.
_HINT = (
    "Start Ollama with `ollama serve`, point OLLAMA_HOST or --host at a running one,"
    " or add --emulate to use the built-in emulator.\n"
)


@contextlib.contextmanager
def _emulator(console: Console, model: str | None) -> Generator[str, None, None]:
    """Run the built-in emulator for the block; yields its URL. A real model (``smollm2``)
    named by the command is served by llama.cpp, if its extra is installed."""
    # Imported here: only --emulate needs the emulator's modules.
    from ..testing import EngineUnavailable, run_emulator_in_thread
    from ..testing._llama import emulated_models

    try:
        models = emulated_models(model)
    except EngineUnavailable as exc:
        raise CliError(str(exc)) from None
    failure: BaseException | None = None
    with run_emulator_in_thread(models=models) as emulator:
        console.err(f"using the built-in Ollama emulator at {emulator.url}\n")
        try:
            yield emulator.url
        except BaseException as exc:
            # The emulator's exit hands an exception passing through it to its task group,
            # which raises it wrapped in an ExceptionGroup: keep it out, raise it as it was.
            failure = exc
    if failure is not None:
        raise failure


def _execute(args: argparse.Namespace, console: Console) -> int:
    with contextlib.ExitStack() as stack:
        host: str | None = args.host
        if args.emulate:
            host = stack.enter_context(_emulator(console, getattr(args, "model", None)))
        # Leaving the block closes the client (connections, portal thread) before the emulator.
        client = stack.enter_context(Client(host))
        return _COMMANDS[args.command](client, args, console)


def _silence_stdout() -> None:
    # stdout's reader went away (``| head``): point it at /dev/null, so that the flush at
    # interpreter exit does not fail again and print a traceback.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ollama-anyio`` command line and return its exit status.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.
    """
    parser = build_parser()
    try:
        args = parse(parser, argv)
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    console = Console.from_sys()
    try:
        if args.emulate and args.host:
            raise UsageError("--host and --emulate cannot be used together")
        return _execute(args, console)
    except UsageError as exc:
        command: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        command.print_usage(console.stderr)
        console.err(f"{command.prog}: error: {exc}\n")
        return 2
    except (OllamaError, CliError) as exc:
        console.err(f"Error: {error_message(exc)}\n")
        if unreachable(exc) and not args.emulate:
            console.err(_HINT)
        return 1
    except KeyboardInterrupt:
        console.err("\n")
        return _INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except OSError as exc:  # a file that cannot be read or written
        console.err(f"Error: {exc}\n")
        return 1
