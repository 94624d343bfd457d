"""The checks ``nox -s build`` runs on the built wheel and sdist find what is missing."""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "tools"))
import check_dist

ENTRY_POINTS = """\
[console_scripts]
ollama-anyio = ollama_anyio.__main__:main

[pytest11]
ollama_anyio = ollama_anyio.testing._pytest_plugin
"""


def _wheel(path: Path, *, skip: str = "", entry_points: str = ENTRY_POINTS) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for name in check_dist.WHEEL_FILES:
            if name != skip:
                wheel.writestr(name, "")
        wheel.writestr("ollama_anyio-0.1.0.dist-info/entry_points.txt", entry_points)
    return path


def _sdist(path: Path, *, skip: str = "") -> Path:
    with tarfile.open(path, "w:gz") as sdist:
        for name in check_dist.SDIST_FILES:
            if name != skip:
                sdist.addfile(tarfile.TarInfo(f"ollama_anyio-0.1.0/{name}"), io.BytesIO(b""))
    return path


def test_a_complete_distribution_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _wheel(tmp_path / "ollama_anyio-0.1.0-py3-none-any.whl")
    _sdist(tmp_path / "ollama_anyio-0.1.0.tar.gz")
    assert check_dist.main(str(tmp_path)) == 0
    assert "carry what they must" in capsys.readouterr().out


def test_a_wheel_without_py_typed_or_the_plugin_fails(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "a.whl", skip="ollama_anyio/py.typed", entry_points="[x]\n")
    assert check_dist.wheel_problems(wheel) == [
        "the wheel has no ollama_anyio/py.typed",
        "entry point console_scripts:ollama-anyio is None, not 'ollama_anyio.__main__:main'",
        "entry point pytest11:ollama_anyio is None, not 'ollama_anyio.testing._pytest_plugin'",
    ]


def test_an_sdist_without_its_tests_fails(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path / "a.tar.gz", skip="tests/conftest.py")
    assert check_dist.sdist_problems(sdist) == ["the sdist has no tests/conftest.py"]
