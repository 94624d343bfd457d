"""Every ```python block of README.md and docs/*.md runs, as its own program, against the emulator.

A block is a whole program: it runs in a fresh interpreter, in an empty directory, with
``OLLAMA_HOST`` pointing at an emulator started for it alone on 127.0.0.1 with every model of
the catalogue (llama3.2, gemma3, qwen3, all-minilm, nomic-embed-text, llava, gpt-oss, ...). It
passes when it exits 0 within the timeout and leaks nothing that Python reports on the way out.
A block that defines ``test_`` functions runs under pytest instead, so a documented test is a
passing test (the ``ollama_emulator`` fixture is there, as in any project that installs us).

A block that must not run (it needs a service the test cannot start) has ``<!-- no-run -->`` as
the last non-blank line before its fence; it is still compiled. Few may: see `MAX_NO_RUN`. A
block that imports a library of one of the package's optional extras (pydantic, opentelemetry,
ray, ...) is skipped where that library is not installed, and runs in the sessions that install
it; a module no extra provides is never a reason to skip (a misspelt import fails).

Files are found by globbing, so a new ``docs/*.md`` is checked with no edit here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_anyio.testing import ThreadedEmulator, run_emulator_in_thread
from ollama_anyio.testing._models import CATALOG

ROOT = Path(__file__).resolve().parent.parent
NO_RUN = "<!-- no-run -->"
# Blocks skipped over README and every docs file together: a skipped block is an untested one.
MAX_NO_RUN = 5
# Per block, on a loaded 2-core machine: an interpreter start, an import, a few calls.
TIMEOUT = 120
README_MAX_LINES = 300

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_PYTHON = {"python", "py", "python3"}
# What Python prints when an object is dropped holding a resource, or a finalizer fails.
_LEAKS = re.compile(r"ResourceWarning|Exception ignored|was never awaited")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    source: str
    no_run: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def imports(self) -> set[str]:
        """The top-level names of the modules the block imports (absolute imports only)."""
        names: set[str] = set()
        for node in ast.walk(ast.parse(self.source)):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
        return names

    @property
    def is_test_module(self) -> bool:
        tree = ast.parse(self.source)
        return any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test_")
            for node in tree.body
        )


def markdown_files() -> list[Path]:
    """README.md and every Markdown file of docs/, sorted."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path) -> Iterator[Block]:
    """The fenced blocks of ``path``: a fence closes on the same character, at least as long."""
    lines = path.read_text(encoding="utf-8").splitlines()
    previous = ""  # the last non-blank line outside a block
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        fence = opening["fence"]
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[index])
            index += 1
        else:
            raise AssertionError(f"{path}:{start + 1}: a code fence is never closed")
        language = (opening["info"].split() or [""])[0].lower()
        yield Block(
            path,
            start + 1,
            language,
            textwrap.dedent("\n".join(body)) + "\n",
            no_run=previous == NO_RUN,
        )
        previous = ""
        index += 1


def python_blocks() -> list[Block]:
    return [
        block
        for path in markdown_files()
        for block in code_blocks(path)
        if block.language in _PYTHON
    ]


BLOCKS = python_blocks()


if sys.version_info >= (3, 11):
    import tomllib

    def _extras_requirements() -> list[str]:
        """The requirements of every optional extra, from the checkout's pyproject.toml."""
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        extras = tomllib.loads(text)["project"].get("optional-dependencies", {})
        return [requirement for extra in extras.values() for requirement in extra]

else:

    def _extras_requirements() -> list[str]:
        """The requirements of every optional extra, from the installed metadata (no tomllib)."""
        requirements = importlib.metadata.requires("ollama-anyio") or []
        return [requirement for requirement in requirements if "extra ==" in requirement]


def optional_modules() -> set[str]:
    """Module names the extras may provide: ``opentelemetry-sdk`` gives ``opentelemetry_sdk``
    and ``opentelemetry``, ``llama-cpp-python`` gives ``llama_cpp`` (and two more)."""
    modules: set[str] = set()
    for requirement in _extras_requirements():
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match is not None:
            name = match[0].lower()
            modules.add(re.sub(r"[-.]", "_", name))
            modules.add(re.sub(r"[-.]", "_", name.removesuffix("-python")))
            modules.add(re.split(r"[-_.]", name)[0])
    return modules


def missing_optional(block: Block) -> list[str]:
    """The modules of optional extras the block imports that are not installed here."""
    optional = optional_modules()
    return sorted(
        name
        for name in block.imports
        if name in optional and importlib.util.find_spec(name) is None
    )


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    """A fresh emulator per block, with every catalogue model, so blocks cannot see each other."""
    with run_emulator_in_thread(models=[model.name.display for model in CATALOG]) as emulator:
        yield emulator
    assert not emulator.errors, emulator.errors


def _run(block: Block, directory: Path, host: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OLLAMA_HOST": host, "PYTHONIOENCODING": "utf-8"}
    for name in ("OLLAMA_API_KEY", "OLLAMA_ANYIO_LOG", "PYTHONWARNINGS"):
        environment.pop(name, None)
    if block.is_test_module:
        script = directory / "test_block.py"
        command = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", script.name]
    else:
        script = directory / "block.py"
        command = ["-W", "always::ResourceWarning", script.name]
    script.write_text(block.source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, *command],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_the_block_runs_against_the_emulator(
    block: Block, emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    if block.no_run:
        # Even a block that does not run must be valid Python (a fragment may await).
        compile(block.source, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        pytest.skip(f"{NO_RUN} (compiled only)")
    compile(block.source, block.name, "exec")  # a program: an await belongs in a function
    missing = missing_optional(block)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, from an optional extra not installed here")
    result = _run(block, tmp_path, emulator.url)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert not _LEAKS.search(result.stderr), output
    if block.is_test_module:
        assert re.search(r"\d+ passed", result.stdout), output


def test_few_blocks_are_left_unrun() -> None:
    skipped = [block.name for block in BLOCKS if block.no_run]
    assert len(skipped) <= MAX_NO_RUN, skipped


def test_every_no_run_mark_sits_on_a_python_block() -> None:
    # A mark before anything else would skip nothing, and say it does.
    for path in markdown_files():
        marks = path.read_text(encoding="utf-8").count(NO_RUN)
        marked = [b for b in code_blocks(path) if b.no_run]
        assert marks == len(marked), f"{path.name}: {marks} marks, {len(marked)} marked blocks"
        for block in marked:
            assert block.language in _PYTHON, f"{block.name} is {block.language or 'plain'}"


def test_a_block_needing_an_extra_is_told_from_a_misspelt_import(tmp_path: Path) -> None:
    assert {"trio", "ollama", "pytest"} <= optional_modules()
    assert "os" not in optional_modules()
    block = Block(
        tmp_path / "page.md",
        1,
        "python",
        "import os.path\nfrom trio import run\nimport no_such_module\nfrom . import x\n",
        no_run=False,
    )
    assert block.imports == {"os", "trio", "no_such_module"}
    # trio is installed here and no_such_module is in no extra: the block runs (and fails).
    assert missing_optional(block) == []


def test_the_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_the_block_reader_finds_fences_marks_and_languages(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n<!-- no-run -->\n\n```python\nimport os\n```\n\n"
        "- a list item\n\n  ```py\n  x = 1\n  if x:\n      print(x)\n  ```\n\n"
        "````python\n```\nnot a fence end\n````\n\n```console\n$ ls\n```\n",
        encoding="utf-8",
    )
    blocks = list(code_blocks(page))
    assert [(b.line, b.language, b.no_run) for b in blocks] == [
        (5, "python", True),
        (11, "py", False),
        (17, "python", False),
        (22, "console", False),
    ]
    assert blocks[1].source == "x = 1\nif x:\n    print(x)\n"
    assert blocks[2].source == "```\nnot a fence end\n"


def test_an_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1)\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="never closed"):
        list(code_blocks(page))


# Pages other branches are writing (issues 18 to 24); a link to one of them may dangle until it
# lands. Empty this once they are all on main, and every link is checked.
PENDING_PAGES: frozenset[str] = frozenset()
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (duplicates get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    in_block = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_block = not in_block
        if in_block or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def local_links(path: Path) -> Iterator[tuple[str, Path, str]]:
    """(link, target file, fragment) of every relative link outside code blocks and spans."""
    in_block = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_block = not in_block
        if in_block:
            continue
        for link in _LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto: ...
                continue
            target, _, fragment = link.partition("#")
            yield link, (path.parent / target).resolve() if target else path, fragment


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_local_link_and_anchor_resolves(path: Path) -> None:
    broken: list[str] = []
    for link, target, fragment in local_links(path):
        name = target.relative_to(ROOT).as_posix() if target.is_relative_to(ROOT) else str(target)
        if not target.exists():
            if name not in PENDING_PAGES:
                broken.append(link)
            continue
        if fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(link)
    assert not broken, broken


def test_anchors_follow_githubs_rules(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Switching from `ollama`\n\n## As a server of its own\n\n## Faults\n\n## Faults\n"
        "\n```python\n# not a heading\n```\n",
        encoding="utf-8",
    )
    assert anchors(page) == {
        "switching-from-ollama",
        "as-a-server-of-its-own",
        "faults",
        "faults-1",
    }
