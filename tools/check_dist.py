"""Check what the built wheel and sdist carry: ``python tools/check_dist.py DIST_DIR``.

The wheel must carry ``py.typed`` (type checkers read the package's annotations), the pytest
plugin's entry point (the ``ollama_emulator`` fixture) and the ``ollama-anyio`` script; the
sdist the sources and the tests. Exits 1, saying what is missing, otherwise 0.
"""

from __future__ import annotations

import configparser
import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL_FILES = (
    "ollama_anyio/py.typed",
    "ollama_anyio/__init__.py",
    "ollama_anyio/testing/__init__.py",
)
ENTRY_POINTS = {
    "console_scripts": ("ollama-anyio", "ollama_anyio.__main__:main"),
    "pytest11": ("ollama_anyio", "ollama_anyio.testing._pytest_plugin"),
}
SDIST_FILES = ("pyproject.toml", "README.md", "src/ollama_anyio/py.typed", "tests/conftest.py")


def wheel_problems(path: Path) -> list[str]:
    """What the wheel at ``path`` lacks."""
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        problems = [f"the wheel has no {name}" for name in WHEEL_FILES if name not in names]
        entry_files = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        if not entry_files:
            return [*problems, "the wheel has no entry_points.txt"]
        entries = configparser.ConfigParser()
        entries.optionxform = str  # type: ignore[assignment,method-assign]  # keep the case
        entries.read_string(wheel.read(entry_files[0]).decode())
    for group, (name, target) in ENTRY_POINTS.items():
        found = entries.get(group, name, fallback=None)
        if found != target:
            problems.append(f"entry point {group}:{name} is {found!r}, not {target!r}")
    return problems


def sdist_problems(path: Path) -> list[str]:
    """What the sdist at ``path`` lacks."""
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    return [f"the sdist has no {name}" for name in SDIST_FILES if name not in names]


def main(folder: str) -> int:
    """Check the one wheel and the one sdist in ``folder``; returns the exit status."""
    wheels = sorted(Path(folder).glob("*.whl"))
    sdists = sorted(Path(folder).glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {folder}", file=sys.stderr)
        return 1
    problems = wheel_problems(wheels[0]) + sdist_problems(sdists[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{wheels[0].name} and {sdists[0].name} carry what they must")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
