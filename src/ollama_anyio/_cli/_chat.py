"""``run``: one answer streamed to stdout, or an interactive chat on a terminal.

Ctrl-C while an answer streams raises ``KeyboardInterrupt`` out of the stream's ``with``
block, which closes the response (the server stops generating). In a chat that only ends the
answer; anywhere else it ends the program.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .. import ChatResponse, Client, OllamaError, ResponseError
from ._console import Console
from ._errors import error_message
from ._format import timings
from ._prompt import HELP, LineCollector, join_prompt
from ._transfer import show_progress

__all__ = ["run"]

_PROMPT, _MORE = ">>> ", "... "


@dataclass(frozen=True)
class _Settings:
    model: str
    think: bool | None
    format: Any
    keep_alive: float | str | None
    verbose: bool = False


def _ensure_model(client: Client, model: str, console: Console) -> None:
    """Pull ``model`` first if the server does not have it, as ``ollama run`` does."""
    try:
        client.show(model)
    except ResponseError as exc:
        if exc.status_code != 404:
            raise
        with client.pull(model, stream=True) as events:
            show_progress(events, console)


def _answer(
    client: Client, settings: _Settings, messages: list[dict[str, str]], console: Console
) -> tuple[str, ChatResponse | None]:
    """Stream one answer: content to stdout, reasoning to stderr.

    Returns:
        The content, and the final chunk (None if the stream had none).
    """
    content: list[str] = []
    final: ChatResponse | None = None
    thinking = False
    stream = client.chat(
        settings.model,
        messages,
        stream=True,
        think=settings.think,
        format=settings.format,
        keep_alive=settings.keep_alive,
    )
    try:
        with stream as chunks:
            for chunk in chunks:
                if chunk.message.thinking:
                    thinking = True
                    console.thinking(chunk.message.thinking)
                if chunk.message.content:
                    if thinking:
                        thinking = False
                        console.err("\n")
                    content.append(chunk.message.content)
                    console.out(chunk.message.content)
                if chunk.done:
                    final = chunk
    finally:
        if thinking:
            console.err("\n")
    return "".join(content), final


def _summary(settings: _Settings, final: ChatResponse | None) -> str:
    """With ``--verbose``, the timings of an answer as ``ollama run --verbose`` shows them."""
    if not settings.verbose or final is None:
        return ""
    return timings(
        total_duration=final.total_duration,
        load_duration=final.load_duration,
        prompt_eval_count=final.prompt_eval_count,
        prompt_eval_duration=final.prompt_eval_duration,
        eval_count=final.eval_count,
        eval_duration=final.eval_duration,
    )


def _chat(
    client: Client, settings: _Settings, history: list[dict[str, str]], console: Console
) -> int:
    console.enable_line_editing()
    start = list(history)
    lines = LineCollector()
    while True:
        line = console.read_line(_MORE if lines.continuing else _PROMPT)
        if line is None:  # Ctrl-D
            console.out("\n")
            return 0
        item = lines.feed(line)
        if item is None or item.kind == "empty":
            continue
        if item.kind == "bye":
            return 0
        if item.kind == "clear":
            history[:] = start
            console.out("Cleared session context\n")
        elif item.kind == "help":
            console.out(HELP)
        elif item.kind == "unknown":
            console.out(f"Unknown command '{item.text}'. Type /? for help\n")
        else:
            history.append({"role": "user", "content": item.text})
            try:
                answer, final = _answer(client, settings, history, console)
            except KeyboardInterrupt:
                # The answer was cut: forget the question too, so the history stays a
                # conversation the model actually had.
                history.pop()
                console.out("\n\n")
                continue
            except OllamaError as exc:
                history.pop()
                console.err(f"Error: {error_message(exc)}\n")
                continue
            history.append({"role": "assistant", "content": answer})
            console.out("\n\n")
            if summary := _summary(settings, final):
                console.err(summary + "\n")


def run(client: Client, args: argparse.Namespace, console: Console) -> int:
    """Answer a prompt, or chat when there is none and stdin is a terminal."""
    settings = _Settings(args.model, args.think, args.format, args.keepalive, args.verbose)
    history = [{"role": "system", "content": args.system}] if args.system else []
    arguments = " ".join(args.prompt)
    interactive = console.stdin_tty and not arguments
    prompt = arguments if console.stdin_tty else join_prompt(arguments, console.read_stdin())
    _ensure_model(client, args.model, console)
    if not interactive and not prompt:
        # Nothing to answer: load the model, as ``ollama run MODEL < /dev/null`` does.
        client.generate(args.model, keep_alive=settings.keep_alive)
        return 0
    if interactive:
        return _chat(client, settings, history, console)
    _, final = _answer(client, settings, [*history, {"role": "user", "content": prompt}], console)
    console.out("\n")
    if summary := _summary(settings, final):
        console.err("\n" + summary)
    return 0
