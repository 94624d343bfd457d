"""Pure input handling for ``run``: the prompt from arguments and stdin, and interactive lines.

In an interactive chat, a line is a message, or a command (``/bye``, ``/clear``, ``/?``), and
a line starting with triple quotes begins a message of several lines that ends with the line
where the triple quotes close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["HELP", "Input", "LineCollector", "join_prompt"]

_TRIPLE = '"""'

HELP = """\
Available commands:
  /clear   forget the conversation so far
  /bye     exit (so do Ctrl-D and Ctrl-C)
  /?       show this help

Begin a message with \"\"\" to write several lines; end it with \"\"\".
Ctrl-C while an answer is streaming stops that answer.
"""

_COMMANDS: dict[str, Literal["bye", "clear", "help"]] = {
    "/bye": "bye",
    "/exit": "bye",
    "/clear": "clear",
    "/?": "help",
    "/help": "help",
}


def join_prompt(arguments: str, piped: str) -> str:
    """The prompt of a one-shot ``run``: the arguments' text, then stdin after a blank line."""
    arguments, piped = arguments.strip(), piped.strip()
    if arguments and piped:
        return f"{arguments}\n\n{piped}"
    return arguments or piped


@dataclass(frozen=True)
class Input:
    """What a typed line (or block of lines) means.

    Attributes:
        kind: ``message`` (send ``text``), ``bye``, ``clear``, ``help``, ``unknown`` (a
            command we do not know, in ``text``) or ``empty``.
        text: the message or the unknown command.
    """

    kind: Literal["message", "bye", "clear", "help", "unknown", "empty"]
    text: str = ""


class LineCollector:
    """Turns typed lines into `Input`s, gathering triple-quoted blocks into one message."""

    def __init__(self) -> None:
        self._block: list[str] | None = None

    @property
    def continuing(self) -> bool:
        """Whether a triple-quoted block is open (the prompt should say so)."""
        return self._block is not None

    def feed(self, line: str) -> Input | None:
        """The meaning of ``line``, or None while a block is still open."""
        if self._block is not None:
            end = line.find(_TRIPLE)
            if end < 0:
                self._block.append(line)
                return None
            self._block.append(line[:end])
            text, self._block = "\n".join(self._block).strip("\n"), None
            return Input("message", text) if text.strip() else Input("empty")
        stripped = line.strip()
        if not stripped:
            return Input("empty")
        if stripped.startswith(_TRIPLE):
            rest = stripped[len(_TRIPLE) :]
            if rest.endswith(_TRIPLE):
                text = rest[: -len(_TRIPLE)].strip()
                return Input("message", text) if text else Input("empty")
            self._block = [rest] if rest else []
            return None
        if stripped.startswith("/"):
            command = stripped.split()[0].lower()
            kind = _COMMANDS.get(command)
            return Input(kind) if kind else Input("unknown", command)
        return Input("message", stripped)
