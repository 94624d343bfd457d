"""The command line grammar: argparse parsers for every subcommand, and argument types.

Global options (``--host``, ``--emulate``) are accepted before the subcommand and after it:
subparsers share a parent whose defaults are suppressed, so an option given after the
subcommand does not reset one given before it.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any, cast

from .._errors import RequestError
from .._requests import check_keep_alive

__all__ = ["build_parser", "keepalive", "parse", "positive_int", "response_format"]

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def keepalive(text: str) -> float | str:
    """``--keepalive``: a duration such as ``5m`` or ``1h30m``, or a number of seconds."""
    value: float | str = float(text) if _NUMBER.fullmatch(text) else text
    try:
        checked = check_keep_alive(value, "--keepalive")
    except RequestError as exc:
        raise argparse.ArgumentTypeError(exc.error) from None
    assert checked is not None
    return checked


def response_format(text: str) -> str | dict[str, Any]:
    """``--format``: ``json``, or a JSON schema written inline."""
    if text == "json":
        return text
    try:
        schema = json.loads(text)
    except ValueError:
        schema = None
    if not isinstance(schema, dict):
        raise argparse.ArgumentTypeError("must be 'json' or a JSON schema object")
    return cast("dict[str, Any]", schema)


def positive_int(text: str) -> int:
    """An integer of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--host",
        default=default,
        metavar="URL",
        help="the Ollama server (default: $OLLAMA_HOST, else http://127.0.0.1:11434)",
    )
    parser.add_argument(
        "--emulate",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="start the built-in Ollama emulator and use it",
    )


def _transfer(sub: Any, name: str, summary: str, parent: argparse.ArgumentParser) -> None:
    command = sub.add_parser(name, parents=[parent], help=summary, description=_sentence(summary))
    command.add_argument("model", metavar="MODEL")
    command.add_argument(
        "--insecure", action="store_true", help="allow an insecure connection to the registry"
    )


def _sentence(summary: str) -> str:
    return summary[:1].upper() + summary[1:] + "."


def _plain(
    sub: Any, name: str, summary: str, parent: argparse.ArgumentParser, **extra: Any
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` describes it with its summary."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[parent], help=summary, description=_sentence(summary), **extra
    )
    return parser


def _run(sub: Any, parent: argparse.ArgumentParser) -> None:
    run = sub.add_parser(
        "run",
        parents=[parent],
        help="chat with a model",
        description="Answer PROMPT (and piped stdin), or chat interactively on a terminal;"
        " without either, load MODEL. Options may come before or after MODEL and PROMPT.",
    )
    run.add_argument("model", metavar="MODEL")
    run.add_argument("prompt", nargs="*", metavar="PROMPT")
    run.set_defaults(rest="prompt")
    run.add_argument(
        "--think",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="make a thinking model think, or not (its reasoning goes to stderr)",
    )
    run.add_argument("--format", type=response_format, help="'json', or a JSON schema")
    run.add_argument(
        "--keepalive",
        type=keepalive,
        metavar="DURATION",
        help="how long the model stays loaded afterwards, e.g. 5m, 1h, 0 or -1 (forever)",
    )
    run.add_argument("--system", metavar="TEXT", help="a system message")
    run.add_argument(
        "--verbose",
        action="store_true",
        help="after each answer, print its timings and token counts (to stderr)",
    )


def _show(sub: Any, parent: argparse.ArgumentParser) -> None:
    show = sub.add_parser(
        "show",
        parents=[parent],
        help="show a model's information",
        description="Show MODEL's details, parameters, license and more, or one part of them.",
    )
    show.add_argument("model", metavar="MODEL")
    only = show.add_mutually_exclusive_group()
    for field in ("modelfile", "template", "parameters", "system", "license"):
        only.add_argument(
            f"--{field}",
            dest="field",
            action="store_const",
            const=field,
            help=f"print only the {field}",
        )


def _create(sub: Any, parent: argparse.ArgumentParser) -> None:
    create = sub.add_parser(
        "create",
        parents=[parent],
        help="create a model from a Modelfile",
        description="Create MODEL from a Modelfile (default: ./Modelfile) and/or options.",
    )
    create.add_argument("model", metavar="MODEL")
    create.add_argument("-f", "--file", metavar="MODELFILE", help="the Modelfile to read")
    create.add_argument("--from", dest="from_", metavar="MODEL_OR_PATH", help="the base model")
    create.add_argument("--system", metavar="TEXT", help="the system message")
    create.add_argument("-q", "--quantize", metavar="TYPE", help="quantize, e.g. q4_K_M, q8_0")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` as the official CLI does: options anywhere after the subcommand.

    argparse gives a ``nargs="*"`` positional what follows MODEL up to the first option and
    no more, so words after an option (``run MODEL --format json PROMPT``) are left over:
    they belong to the subcommand's trailing positional (its ``rest``). Anything else left
    over is argparse's usage error.
    """
    args, extras = parser.parse_known_args(argv)
    rest: str | None = getattr(args, "rest", None)
    words = [word for word in extras if not word.startswith("-") or word == "-"]
    if rest is None or len(words) != len(extras):
        command: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        if extras:
            command.error(f"unrecognized arguments: {' '.join(extras)}")
        return args
    setattr(args, rest, [*getattr(args, rest), *words])
    return args


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ollama-anyio``; ``args.command`` names the subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    _globals(parent, suppress=True)
    parser = argparse.ArgumentParser(
        prog="ollama-anyio",
        description="Use an Ollama server (or the built-in emulator) from the command line.",
    )
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _run(sub, parent)
    _transfer(sub, "pull", "download a model from a registry", parent)
    _transfer(sub, "push", "upload a model to a registry", parent)
    _plain(sub, "list", "list the local models", parent, aliases=["ls"])
    _plain(sub, "ps", "list the models loaded in memory", parent)
    _show(sub, parent)
    rm = _plain(sub, "rm", "delete models", parent)
    rm.add_argument("models", nargs="+", metavar="MODEL")
    cp = _plain(sub, "cp", "copy a model under a new name", parent)
    cp.add_argument("source", metavar="SOURCE")
    cp.add_argument("destination", metavar="DESTINATION")
    _create(sub, parent)
    embed = sub.add_parser(
        "embed",
        parents=[parent],
        help="print the embedding of each TEXT as a JSON array",
        description="Print one JSON array per TEXT (or per line of stdin), one per line.",
    )
    embed.add_argument("model", metavar="MODEL")
    embed.add_argument("text", nargs="*", metavar="TEXT")
    embed.set_defaults(rest="text")
    embed.add_argument("--dimensions", type=positive_int, metavar="N", help="truncate to N")
    _plain(sub, "version", "show the client and server versions", parent)
    for command in sub.choices.values():
        # Lets a usage error found after parsing show the subcommand's usage line.
        command.set_defaults(command_parser=command)
    return parser
