"""The terminal: standard streams, whether they are terminals, and how to write to them.

Commands write through a `Console` built from ``sys.stdin``/``stdout``/``stderr`` when
``main`` starts, so a test that replaces those streams sees everything. Every write is
flushed: a streamed answer must appear as it arrives, not when a buffer fills.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Console"]

_DIM, _RESET = "\x1b[2m", "\x1b[0m"


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or minimal file-like object
        return False


@dataclass
class Console:
    """The three standard streams of one command run.

    Attributes:
        stdin: None when the process was started without one.
    """

    stdin: TextIO | None
    stdout: TextIO
    stderr: TextIO

    @classmethod
    def from_sys(cls) -> Console:
        """The streams ``sys`` holds now."""
        return cls(sys.stdin, sys.stdout, sys.stderr)

    @property
    def stdin_tty(self) -> bool:
        """Whether stdin is a terminal (interactive chat) rather than a pipe or file."""
        return _isatty(self.stdin)

    @property
    def stderr_tty(self) -> bool:
        """Whether stderr is a terminal (progress bars, dimmed thinking)."""
        return _isatty(self.stderr)

    @property
    def width(self) -> int:
        """Columns of the terminal stderr is on (80 when it is not one)."""
        try:
            return os.get_terminal_size(self.stderr.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            return 80

    @property
    def unicode(self) -> bool:
        """Whether stderr can encode block characters."""
        encoding = getattr(self.stderr, "encoding", None) or ""
        return encoding.lower().replace("-", "").startswith("utf")

    def out(self, text: str) -> None:
        """Write to stdout at once."""
        if text:
            self.stdout.write(text)
            self.stdout.flush()

    def err(self, text: str) -> None:
        """Write to stderr at once."""
        if text:
            self.stderr.write(text)
            self.stderr.flush()

    def thinking(self, text: str) -> None:
        """Write a model's reasoning to stderr, dimmed on a terminal."""
        # Dim each piece on its own, so an interrupted answer cannot leave the terminal dim.
        self.err(f"{_DIM}{text}{_RESET}" if self.stderr_tty and text else text)

    def read_stdin(self) -> str:
        """All of stdin; empty if there is none or it cannot be read."""
        if self.stdin is None:
            return ""
        try:
            return self.stdin.read()
        except (OSError, ValueError):  # closed, or not readable (e.g. a test's placeholder)
            return ""

    def enable_line_editing(self) -> None:
        """Give `read_line` line editing and history, on a real terminal that supports it."""
        if self.stdin is sys.__stdin__ and self.stdin_tty:
            # Importing readline is what makes input() use it; elsewhere it would only add
            # escape sequences to the output.
            with contextlib.suppress(ImportError):
                importlib.import_module("readline")

    def read_line(self, prompt: str) -> str | None:
        """Show ``prompt`` on stdout and read one line from stdin; None at end of input."""
        if self.stdin is None:
            return None
        if self.stdin is sys.stdin and self.stdout is sys.stdout:
            # input() gives line editing and history when these are the real terminal (and
            # the readline module is loaded); on other streams it reads a plain line.
            try:
                return input(prompt)
            except EOFError:
                return None
        self.out(prompt)
        line = self.stdin.readline()
        if not line:
            return None
        return line.removesuffix("\n")
