"""A local Ray cluster on 127.0.0.1 for the session, and three one-slot emulators per test.

The cluster starts once (it costs seconds): on 127.0.0.1, no dashboard, its temporary files
under pytest's base temporary directory, and token authentication with the token in the
environment (inherited by Ray's processes), so nothing is written to ``~/.ray``.

Ray's GCS and raylet listen on every interface whatever the node address (Ray 2.60), so
``nox -s ray`` runs these tests in a network namespace of their own (``unshare --net``),
whose only interface is loopback: the cluster cannot be reached from anywhere else. With
``OLLAMA_ANYIO_REQUIRE_RAY`` set (the nox session sets it) a missing Ray, or a namespace
with other interfaces, fails the session; without it, either skips these tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ollama_anyio.testing import ThreadedEmulator, run_emulator_in_thread

# Read by Ray when it is imported (its configuration is fixed then) and inherited by the
# processes it starts: token authentication, the token itself in the environment rather than
# in ~/.ray/auth_token, and no usage statistics.
RAY_ENVIRONMENT = {
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(16),
    "RAY_USAGE_STATS_ENABLED": "0",
}
for _name, _value in RAY_ENVIRONMENT.items():
    os.environ[_name] = _value

try:
    import ray
except ImportError:  # the test modules skip themselves
    if os.environ.get("OLLAMA_ANYIO_REQUIRE_RAY"):
        raise

# Each request takes this long in its model's one slot: long beside the client's own costs,
# so a test sees the servers' bound, short enough to keep the session quick.
SERVICE_TIME = 0.05
TOKEN_FILE = Path.home() / ".ray" / "auth_token"


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def _loopback_only() -> bool:
    """Whether loopback is the only interface here; brings it up in a new namespace."""
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14x", b"lo", 0)
        (flags,) = struct.unpack_from("H", fcntl.ioctl(probe, _SIOCGIFFLAGS, request), 16)
        if not flags & _IFF_UP:  # a fresh namespace's loopback starts down
            fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    return True


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Ray started on 127.0.0.1; yields the environment a script needs to join it."""
    if not _loopback_only():
        reason = "Ray listens on every interface: run under `unshare --net` (nox -s ray does)"
        if os.environ.get("OLLAMA_ANYIO_REQUIRE_RAY"):
            pytest.fail(reason)
        pytest.skip(reason)
    had_token_file = TOKEN_FILE.exists()
    # A short path: Ray's Unix sockets live under it (at most 107 bytes).
    temp_dir = tmp_path_factory.mktemp("ray")
    try:
        ray.init(
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            _temp_dir=str(temp_dir),
            num_cpus=2,
            log_to_driver=False,
        )
        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False
        data_context.print_on_execution_start = False
        yield {**RAY_ENVIRONMENT, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    finally:
        ray.shutdown()
    assert had_token_file or not TOKEN_FILE.exists(), "Ray left a token file in ~/.ray"


class Servers:
    """Three emulators, each with one slot per model and a fixed service time."""

    def __init__(self, stack: contextlib.ExitStack, count: int = 3, **kwargs: Any) -> None:
        self._stacks: list[contextlib.ExitStack] = []
        self.emulators: list[ThreadedEmulator] = []
        for _ in range(count):
            own = stack.enter_context(contextlib.ExitStack())
            self.emulators.append(
                own.enter_context(
                    run_emulator_in_thread(
                        service_time=SERVICE_TIME, num_parallel=1, request_log=0, **kwargs
                    )
                )
            )
            self._stacks.append(own)

    @property
    def urls(self) -> list[str]:
        """The servers' base URLs."""
        return [emulator.url for emulator in self.emulators]

    def stop(self, index: int) -> None:
        """Stop one server: its listener and its connections close at once."""
        self._stacks[index].close()

    def received(self) -> int:
        """Requests received by every server together."""
        return sum(emulator.received for emulator in self.emulators)


@pytest.fixture
def servers(ray_cluster: dict[str, str]) -> Iterator[Servers]:
    """Three emulators (the cluster running); their errors fail the test."""
    with contextlib.ExitStack() as stack:
        pool = Servers(stack)
        yield pool
    for emulator in pool.emulators:
        assert emulator.errors == []
