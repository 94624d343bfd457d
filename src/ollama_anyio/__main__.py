"""``python -m ollama_anyio``: the command line (also installed as ``ollama-anyio``).

Example::

    python -m ollama_anyio --emulate run llama3.2 "Why is the sky blue?"
"""

from __future__ import annotations

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
