"""A tiny PNG for the image examples, when no image path is given on the command line."""

import base64
import sys

# 1x1 pixel, blue
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/"
    "eL9GtQAAAABJRU5ErkJggg=="
)


def image_argument() -> bytes | str:
    """The image path given as the first argument, or the built-in PNG's bytes."""
    return sys.argv[1] if len(sys.argv) > 1 else TINY_PNG
