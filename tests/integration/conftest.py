"""Fixtures of the nginx suite: a real nginx with the shipped recipe, in front of emulators.

``start_cluster`` starts three emulators (each on its own event loop thread) and an nginx
whose upstream lists them, rendered from ``deploy/nginx/ollama.conf`` with free ports on
127.0.0.1; ``cluster`` is that with the recipe as shipped. Everything is stopped when the
test ends, and a failing test shows the error log of every nginx it started.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from ollama_anyio.testing import ThreadedEmulator, run_emulator_in_thread

from ._nginx import INSTALL_HINT, RECIPE, Nginx, find_nginx, render, running

_STARTED = pytest.StashKey[list[Nginx]]()
_EMULATOR_PROCESS = Path(__file__).with_name("_emulator_process.py")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for nginx in item.stash.get(_STARTED, []):
            report.sections.append((f"nginx error log ({nginx.prefix})", nginx.error_log()))
    return report


def nginx_binary() -> str:
    """The nginx to run; skips the test when there is none (fails it where CI requires one)."""
    binary = find_nginx()
    if binary is None:
        if os.environ.get("OLLAMA_ANYIO_REQUIRE_NGINX"):
            pytest.fail(INSTALL_HINT.replace("are skipped", "cannot run"))
        pytest.skip(INSTALL_HINT)
    return binary


@dataclass
class Cluster:
    """nginx in front of emulator instances.

    Attributes:
        nginx: the proxy; clients use ``nginx.url``.
        emulators: the instances behind it that run in this process, in upstream order
            after any ``front`` servers.
    """

    nginx: Nginx
    emulators: list[ThreadedEmulator]
    _stops: list[contextlib.ExitStack] = field(default_factory=list[contextlib.ExitStack])

    @property
    def url(self) -> str:
        return self.nginx.url

    def stop(self, index: int) -> None:
        """Stop one emulator: its listener closes, so nginx's connections to it are refused."""
        self._stops[index].close()

    def chats(self) -> list[int]:
        """How many chat requests each emulator received."""
        return [
            sum(r.path == "/api/chat" for r in emulator.requests) for emulator in self.emulators
        ]


class StartCluster(Protocol):
    def __call__(
        self, *, change: Mapping[str, str] | None = None, front: Sequence[str] = ()
    ) -> Cluster: ...


@pytest.fixture
def start_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartCluster]:
    """Start nginx (the recipe, optionally with ``change``d directives) and three emulators.

    ``front`` lists servers placed first in the upstream (an emulator in another process);
    emulators of this process fill the list up to three.
    """
    binary = nginx_binary()
    started = request.node.stash.setdefault(_STARTED, [])
    with contextlib.ExitStack() as stack:

        def start(*, change: Mapping[str, str] | None = None, front: Sequence[str] = ()) -> Cluster:
            stops = [stack.enter_context(contextlib.ExitStack()) for _ in range(3 - len(front))]
            emulators = [s.enter_context(run_emulator_in_thread()) for s in stops]
            for emulator in emulators:
                stack.callback(_check_emulator, emulator)
            servers = [*front, *(f"127.0.0.1:{e.port}" for e in emulators)]
            prefix = tmp_path / f"nginx{len(started)}"
            prefix.mkdir()

            def site(port: int) -> str:
                recipe = RECIPE.read_text()
                return render(recipe, listen=f"127.0.0.1:{port}", servers=servers, change=change)

            nginx = Nginx(binary, prefix, site)
            started.append(nginx)
            # Entered after the emulators, so left before them: nginx stops first.
            stack.enter_context(running(nginx))
            return Cluster(nginx, emulators, stops)

        yield start


def _check_emulator(emulator: ThreadedEmulator) -> None:
    assert emulator.errors == [], "the emulator failed while serving"


@pytest.fixture
def cluster(start_cluster: StartCluster) -> Cluster:
    """nginx with the recipe as shipped (only ports and the upstream list filled in)."""
    return start_cluster()


@dataclass
class EmulatorProcess:
    """An emulator in another process; ``address`` is its ``HOST:PORT``."""

    process: subprocess.Popen[bytes]
    address: str

    def kill(self) -> None:
        """SIGKILL: the kernel closes its sockets, as when a server crashes or is OOM-killed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def emulator_process() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators in processes of their own (``hang_after``: see _emulator_process)."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, hang_after: int | None = None) -> EmulatorProcess:
        argv = [sys.executable, str(_EMULATOR_PROCESS)]
        if hang_after is not None:
            argv += ["--hang-after", str(hang_after)]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        processes.append(process)
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline().decode().strip() if ready else ""
        assert line.startswith("http://"), f"the emulator process did not start: {line!r}"
        return EmulatorProcess(process, line.removeprefix("http://"))

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
