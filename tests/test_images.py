"""encode_image(s) and needs_io: bytes, files and base64 strings -> base64 (SPEC 1.15, 7.5)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_anyio._errors import RequestError
from ollama_anyio._images import encode_image, encode_images, needs_io
from ollama_anyio._types import Image

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
PNG_B64 = base64.b64encode(PNG).decode()
INVALID = "invalid image: expected bytes, a path to an image file, or a base64 string"


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture
def no_filesystem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks the filesystem about a path."""

    def forbidden(*args: object, **kwargs: object) -> Any:
        raise AssertionError("the filesystem was consulted")

    for name in ("isfile", "exists", "isdir"):
        monkeypatch.setattr(os.path, name, forbidden)


# --- bytes and files -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [PNG, bytearray(PNG), memoryview(PNG)])
def test_bytes_are_encoded(value: bytes | bytearray | memoryview) -> None:
    assert encode_image(value) == PNG_B64


def test_empty_bytes_are_an_empty_image() -> None:
    assert encode_image(b"") == ""


def test_path_is_read(png_file: Path) -> None:
    assert encode_image(png_file) == PNG_B64


def test_str_naming_a_file_is_read(png_file: Path) -> None:
    assert encode_image(str(png_file)) == PNG_B64


def test_str_naming_a_file_without_an_image_suffix_is_read(tmp_path: Path) -> None:
    # a name that is also valid base64: the file wins, as in the official client
    path = tmp_path / "abcd"
    path.write_bytes(b"file")
    assert encode_image(str(path)) == base64.b64encode(b"file").decode()


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(RequestError) as info:
        encode_image(missing)
    assert info.value.error == f"image file '{missing}' does not exist"
    assert isinstance(info.value, ValueError)


def test_path_under_a_file_does_not_exist(png_file: Path) -> None:
    with pytest.raises(RequestError, match=r"does not exist$"):
        encode_image(png_file / "inner.png")


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(RequestError) as info:
        encode_image(tmp_path)  # a directory
    assert info.value.error.startswith(f"image file '{tmp_path}' cannot be read: ")


@pytest.mark.parametrize("name", ["a.png", "b.JPG", "c.jpeg", "d.WebP", "e.gif"])
def test_str_with_an_image_suffix_must_exist(tmp_path: Path, name: str) -> None:
    missing = str(tmp_path / name)
    with pytest.raises(RequestError) as info:
        encode_image(missing)
    assert info.value.error == f"image file '{missing}' does not exist"


def test_relative_name_with_an_image_suffix_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RequestError, match=r"^image file 'cat\.png' does not exist$"):
        encode_image("cat.png")
    (tmp_path / "cat.png").write_bytes(PNG)
    assert encode_image("cat.png") == PNG_B64


# --- base64 strings ------------------------------------------------------------------------------


def test_base64_str_is_sent_unchanged() -> None:
    assert encode_image(PNG_B64) == PNG_B64


def test_surrounding_whitespace_is_stripped() -> None:
    assert encode_image(f"  {PNG_B64}\n") == PNG_B64


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        "aGVsbG8",  # unpadded
        "aGVs bG8=",  # inner space
        "",
        "   ",
        "report.txt",
    ],
)
def test_invalid_str(value: str) -> None:
    with pytest.raises(RequestError) as info:
        encode_image(value)
    assert info.value.error == INVALID


def test_data_url_is_rejected_with_a_hint() -> None:
    with pytest.raises(RequestError) as info:
        encode_image(f"data:image/png;base64,{PNG_B64}")
    assert info.value.error == f"{INVALID}; for a data: URL, pass only the part after 'base64,'"


def test_long_str_is_never_a_path(no_filesystem: None) -> None:
    long = base64.b64encode(PNG * 400).decode()
    assert len(long) > 4096
    assert encode_image(long) == long
    with pytest.raises(RequestError) as info:
        encode_image("x" * 5000 + ".png")  # not "does not exist": it is not a path at all
    assert info.value.error == INVALID


def test_long_but_not_too_long_str_may_still_be_a_path(png_file: Path) -> None:
    # repeated slashes name the same file; Linux refuses 4096 characters (PATH_MAX counts the NUL)
    padded = str(png_file.parent) + "/" * (4000 - len(str(png_file))) + "/cat.png"
    assert len(padded) == 4000
    assert encode_image(padded) == PNG_B64


def test_path_checks_stop_after_4096_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def isfile(path: str) -> bool:
        asked.append(len(path))
        return False

    monkeypatch.setattr(os.path, "isfile", isfile)
    assert encode_image("A" * 4096) == "A" * 4096
    assert encode_image("A" * 4100) == "A" * 4100
    assert asked == [4096]


@given(st.binary(min_size=1))
def test_bytes_round_trip(data: bytes) -> None:
    encoded = encode_image(data)
    assert base64.b64decode(encoded, validate=True) == data
    assert encode_image(encoded) == encoded  # base64 text is passed through


# --- the Image Struct and other types ------------------------------------------------------------


def test_image_struct_holds_any_form(png_file: Path) -> None:
    assert encode_image(Image(value=PNG)) == PNG_B64
    assert encode_image(Image(value=png_file)) == PNG_B64
    assert encode_image(Image(value=str(png_file))) == PNG_B64
    assert encode_image(Image(value=PNG_B64)) == PNG_B64


@pytest.mark.parametrize(
    ("value", "kind"), [(3, "int"), (None, "NoneType"), ([PNG], "list"), (1.5, "float")]
)
def test_other_types_are_rejected(value: Any, kind: str) -> None:
    with pytest.raises(RequestError) as info:
        encode_image(value)
    assert info.value.error == f"{INVALID}, got {kind}"


# --- encode_images -------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, [], ()])
def test_no_images_is_none(values: Any) -> None:
    assert encode_images(values, "images") is None


def test_each_image_is_encoded_in_order(png_file: Path) -> None:
    assert encode_images([PNG, png_file, PNG_B64, Image(value=b"x")], "images") == [
        PNG_B64,
        PNG_B64,
        PNG_B64,
        "eA==",
    ]


def test_errors_name_the_position(tmp_path: Path) -> None:
    missing = tmp_path / "gone.jpg"
    with pytest.raises(RequestError) as info:
        encode_images([PNG, missing], "messages[1].images")
    assert info.value.error == f"messages[1].images[1]: image file '{missing}' does not exist"
    assert str(info.value) == info.value.error
    with pytest.raises(RequestError, match=r"^images\[0\]: invalid image: .*, got int$"):
        encode_images([7], "images")  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("value", "kind"),
    [(PNG_B64, "str"), (PNG, "bytes"), (Path("cat.png"), "PosixPath"), (Image(value=PNG), "Image")],
)
def test_a_lone_image_is_not_a_list(value: Any, kind: str) -> None:
    if isinstance(value, Path) and os.name != "posix":
        kind = type(value).__name__
    with pytest.raises(RequestError) as info:
        encode_images(value, "images")
    assert info.value.error == f"images: expected a list of images, got {kind}"


# --- needs_io ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, False),
        ([], False),
        ([PNG, bytearray(b"x"), memoryview(b"y")], False),
        ([Image(value=PNG)], False),
        (["A" * 4097], False),
        ([Image(value="A" * 5000)], False),
        ([PNG, Path("cat.png")], True),
        ([Image(value=Path("cat.png"))], True),
        ([PNG, PNG_B64], True),  # short: it might name a file
        (["A" * 4096], True),
        ([Image(value="cat.png")], True),
        (PNG_B64, False),  # a lone image: encode_images rejects it without I/O
    ],
)
def test_needs_io(values: Any, expected: bool) -> None:
    assert needs_io(values) is expected
