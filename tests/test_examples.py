"""Every script in examples/ runs against the emulator (via OLLAMA_HOST), exits 0 and prints
what it should."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_anyio.testing import ThreadedEmulator, run_emulator_in_thread
from ollama_anyio.testing._names import parse_name

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# What each example's output must match (re.search, multi-line).
OUTPUT = {
    "chat.py": r"\w+.*\.",
    "chat-stream.py": r"\w+.*\.\n",
    "async-chat.py": r"\w+.*\.",
    "chat-with-history.py": r"> What about at sunset\?\n.+\n\n> And on Mars\?\n.+\n\n6 messages",
    "generate.py": r"\w+.*\.",
    "generate-stream.py": r"\w+.*\.\n",
    "async-generate.py": r"\w+.*\.",
    "fill-in-middle.py": r"def remove_non_ascii\(s: str\) -> str:\n.*\n    return result",
    "tools.py": r"called add_two_numbers\(\{'a': \d+, 'b': \d+\}\) = \d+\nfinal answer: Based on",
    "async-tools.py": r"called subtract_two_numbers\(.*\) = -?\d+\nfinal answer: Based on",
    "multi-tool.py": r"get_temperature\(\{'city': 'Paris'\}\) -> -?\d+°C\n"
    r"get_temperature\(\{'city': 'Cairo'\}\) -> -?\d+°C\nfinal answer: Based on",
    "structured-outputs.py": r"^.+: \d+, available=(True|False)$",
    "async-structured-outputs.py": r"^.+: \d+ moons, rings=(True|False)$",
    "structured-outputs-image.py": r"summary: .+\ntime of day: (morning|afternoon|evening|night|"
    r"unknown)\n- .+ \(\d+\.\d\d\)",
    "thinking.py": r"Thinking:\nThe user asks: .+\n\nAnswer:\n\w+",
    "thinking-generate.py": r"Thinking:\nThe user asks: .+\n\nAnswer:\n\w+",
    "thinking-levels.py": r"\[low\] thought \d+ characters; answer: .+\n\[medium\].+\n\[high\]",
    "multimodal-chat.py": r"\w+.*\.",
    "multimodal-generate.py": r"\w+.*\.\n",
    "embed.py": r"^768 dimensions, starting \[.+\]\n768 dimensions",
    "pull.py": r"layer [0-9a-f]{12}: 100%$(.|\n)*^success$",
    "create.py": r"success\n\w+",
    "ps.py": r"^llama3\.2:latest: \d+ bytes, \d+ in VRAM, until \d{4}-",
    "list.py": r"^llama3\.2:latest: \d+ bytes 3\.2B$",
    "show.py": r"family: llama\nparameters: 3\.2B\ncapabilities: completion, tools",
    "chat-logprobs.py": r"^'.+': p=0\.\d{3} \(alternatives: '.+', '.+', '.+'\)$",
    "generate-logprobs.py": r"^'.+': -\d\.\d{4}$",
    "web-search.py": r"set OLLAMA_API_KEY",
    "trio-app.py": r"\[1\] Why is the sky blue\?\n    .+ \(\d+ tokens\)",
    "structured-parsing.py": r"^.+: \d+ min, \d+ ingredients\nstreamed: .+\n"
    r"not a Recipe \(cut at the length limit: True\): '\{.*'$",
    "tool-runner.py": r"answer after 2 steps: Based on the tool result: sunny and 21°C in Tokyo; "
    r"sunny and 21°C in Toronto\ntranscript: \['user', 'assistant', 'tool', 'tool', 'assistant'\]"
    r"\ncalling get_weather\(\{'city': 'Tokyo'\}\)\n(calling|  ->).+\n.+\n.+\nBased on .+\n"
    r"done in 2 steps",
    "batch_embed_helper.py": r"^2000 vectors of \d+ float32 values, in input order$",
    "ensure_model.py": r"^qwen3 is on the server\nloaded: True\nloaded after unload: False$",
    "raw_response.py": r"^200 application/json.* ms\n(.|\n)+^stream headers: \{.+\}\n"
    r"not found: .+pull it",
}

# Examples that need an optional extra, run by that extra's own session instead.
RUN_ELSEWHERE = {"ray-bulk-embed.py"}  # tests/ray_cluster, in nox -s ray


@pytest.fixture(scope="module")
def emulator() -> Iterator[ThreadedEmulator]:
    with run_emulator_in_thread() as emulator:
        # A code model for fill-in-the-middle: the catalogue has none with "insert".
        llama = emulator.store.get(parse_name("llama3.2"))  # type: ignore[arg-type]
        assert llama is not None
        coder = parse_name("qwen2.5-coder")
        assert coder is not None
        emulator.store.add(
            dataclasses.replace(llama, name=coder, capabilities=("completion", "insert"))
        )
        yield emulator


def _run(args: list[str], host: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OLLAMA_HOST": host, "PYTHONIOENCODING": "utf-8"}
    environment.pop("OLLAMA_API_KEY", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLES,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_example_is_checked_and_listed_in_the_readme() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith(("_", "test_"))}
    assert scripts == set(OUTPUT) | RUN_ELSEWHERE
    readme = (EXAMPLES / "README.md").read_text()
    for name in [*scripts, "test_app_with_emulator.py"]:
        assert f"]({name})" in readme, name


@pytest.mark.parametrize("name", sorted(OUTPUT))
def test_the_example_runs_against_the_emulator(emulator: ThreadedEmulator, name: str) -> None:
    result = _run([name], emulator.url)
    assert result.returncode == 0, result.stderr
    assert re.search(OUTPUT[name], result.stdout, re.MULTILINE), result.stdout


def test_the_emulator_fixture_example_passes_under_pytest() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_app_with_emulator.py",
        ],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
