"""`Image`, and images for ``generate(images=...)`` and chat messages: bytes, files or base64
-> base64.

The server takes each image as standard padded base64 of the file's bytes, without a ``data:``
prefix (SPEC 1.15). Reading a file blocks, so `needs_io` tells the async client when to run
`encode_images` in a worker thread rather than on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from typing import Any, TypeAlias, Union

from ._errors import RequestError
from ._pydantic import image_core_schema
from ._types_base import DUMPED_WHOLE, SubscriptableStruct, dump_encoder

__all__ = ["Image", "ImageArg", "ImageLike", "encode_image", "encode_images", "needs_io"]


class Image(SubscriptableStruct, kw_only=True):
    """An image given as bytes, a path, or a base64 string; sent as base64."""

    value: Union[str, bytes, os.PathLike[str]]  # noqa: UP007  (msgspec reads this at run time)

    def model_dump(self, **options: Any) -> str:  # type: ignore[override]
        """The image as the base64 text sent to the server (a file is read).

        Raises:
            RequestError: the file does not exist or cannot be read, or a str is neither a
                file nor base64.
        """
        return encode_image(self)

    def model_dump_json(
        self, *, indent: int | None = None, exclude_none: bool = False, **options: Any
    ) -> str:
        """`model_dump` as a JSON string."""
        return dump_encoder.encode(self.model_dump()).decode()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return image_core_schema(cls)


DUMPED_WHOLE.add(Image)

ImageLike = Union[str, bytes, "os.PathLike[str]", Image]

ImageArg: TypeAlias = Image | bytes | bytearray | memoryview | str | os.PathLike[str]

# A string this long is an inline image, never a path: skipping the file checks keeps a
# multi-megabyte base64 string away from the filesystem calls (and their OS limits).
MAX_PATH_LENGTH = 4096
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_INVALID = "invalid image: expected bytes, a path to an image file, or a base64 string"


def encode_image(value: ImageArg) -> str:
    """The base64 text the server expects for one image.

    Args:
        value: the image's bytes; a path to its file (``os.PathLike`` or a str naming an
            existing file); a base64 string, sent unchanged apart from surrounding whitespace;
            or an `Image` holding one of these.

    Raises:
        RequestError: the file does not exist or cannot be read, a str is neither a file nor
            base64, or the value has another type.
    """
    if isinstance(value, Image):
        value = value.value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, os.PathLike):
        return _encode_file(os.fspath(value))
    if isinstance(value, str):
        return _encode_str(value)
    raise RequestError(f"{_INVALID}, got {type(value).__name__}")


def encode_images(values: Sequence[ImageArg] | None, where: str) -> list[str] | None:
    """Encode each image with `encode_image`; None when there are none.

    Args:
        values: the images, or None.
        where: the argument's name for error messages, e.g. ``messages[1].images``.

    Raises:
        RequestError: as `encode_image`, prefixed with the image's position, e.g.
            ``messages[1].images[0]: ...``; or ``values`` is a single image, not a list.
    """
    if not values:
        return None
    if isinstance(values, (Image, str, bytes, bytearray, memoryview, os.PathLike)):
        # A lone image would otherwise be iterated: a str by character, bytes by integer.
        raise RequestError(f"{where}: expected a list of images, got {type(values).__name__}")
    encoded: list[str] = []
    for index, value in enumerate(values):
        try:
            encoded.append(encode_image(value))
        except RequestError as exc:
            raise RequestError(f"{where}[{index}]: {exc.error}") from exc
    return encoded


def needs_io(values: Sequence[ImageArg] | None) -> bool:
    """Whether encoding ``values`` may touch the filesystem (so belongs in a worker thread).

    True if any image is a path, or a str short enough to name a file; False for bytes and
    long base64 strings, which are encoded without I/O.
    """
    if not values or isinstance(values, (Image, str, bytes, bytearray, memoryview, os.PathLike)):
        return False  # nothing to do, or a lone image that encode_images rejects without I/O
    for value in values:
        if isinstance(value, Image):
            value = value.value
        if isinstance(value, os.PathLike):
            return True
        if isinstance(value, str) and len(value) <= MAX_PATH_LENGTH:
            return True
    return False


def _encode_str(value: str) -> str:
    if len(value) <= MAX_PATH_LENGTH:
        if os.path.isfile(value):
            return _encode_file(value)
        if value.lower().endswith(_IMAGE_SUFFIXES):
            raise RequestError(f"image file '{value}' does not exist")
    text = value.strip()
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    else:
        if text:
            return text
    if text.startswith("data:"):
        raise RequestError(f"{_INVALID}; for a data: URL, pass only the part after 'base64,'")
    raise RequestError(_INVALID)


def _encode_file(path: str | bytes) -> str:
    shown = os.fsdecode(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (FileNotFoundError, NotADirectoryError):
        raise RequestError(f"image file '{shown}' does not exist") from None
    except OSError as exc:
        raise RequestError(f"image file '{shown}' cannot be read: {exc.strerror}") from None
    return base64.b64encode(data).decode("ascii")
