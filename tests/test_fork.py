"""fork() and the clients (issue 18): the child starts afresh, the parent carries on.

A client used before a fork (gunicorn ``--preload``, celery's prefork pool, ``multiprocessing``
with the fork start method) must work in the child on its first call, on a connection of its
own, without touching the parent's loop thread or sockets; the parent's client goes on as if
nothing happened. Children are bounded: a result is awaited with a timeout, and a child that
does not finish in time is killed and the test fails.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import ollama_anyio
from ollama_anyio import AsyncClient, Client
from ollama_anyio._http._transport import AnyIOTransport, _PlainSocket
from ollama_anyio.testing import run_emulator_in_thread

# Forking a process that has threads is what the issue is about (Python 3.12 warns of it).
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)

FORK = multiprocessing.get_context("fork")
WAIT = 60.0  # seconds a child may take (it takes well under one)


def pooled_ports(client: Client | AsyncClient) -> set[int]:
    """The local ports of the client's idle pooled connections."""
    async_client = client._async if isinstance(client, Client) else client
    transport = async_client._session._pool.http_client()._transport
    assert isinstance(transport, AnyIOTransport)
    ports = set()
    for origin in transport._origins.values():
        for connection in origin.idle:
            assert isinstance(connection.stream, _PlainSocket)
            ports.add(connection.stream.sock.getsockname()[1])
    return ports


def in_a_child(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a forked child; return its result (or raise its error's repr)."""
    results = FORK.Queue()

    def child() -> None:
        try:
            results.put(("ok", work()))
        except BaseException as exc:  # reported to the parent, which fails the test
            results.put(("error", repr(exc)))

    process = FORK.Process(target=child)
    process.start()
    try:
        kind, value = results.get(timeout=WAIT)
        process.join(WAIT)
        assert process.exitcode == 0
    finally:
        if process.is_alive():
            process.kill()
            process.join(WAIT)
        results.close()
        results.join_thread()
    assert kind == "ok", value
    return value


def test_a_forked_childs_first_blocking_call_works_on_a_connection_of_its_own(
    portal_backend: str,
) -> None:
    with run_emulator_in_thread() as emu, Client(emu.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        version = client.version()
        parents = pooled_ports(client)
        assert len(parents) == 1

        def work() -> tuple[str, set[int]]:
            return client.version(), pooled_ports(client)

        childs_version, childs = in_a_child(work)
        assert childs_version == version
        assert len(childs) == 1
        assert not childs & parents  # no socket shared
        # The parent's client goes on, on its own pooled connection, still open.
        assert client.version() == version
        assert pooled_ports(client) == parents


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_forked_child_never_uses_the_parents_pooled_async_connection(backend: str) -> None:
    with run_emulator_in_thread() as emu:
        client = AsyncClient(emu.url)
        version = anyio.run(client.version, backend=backend)
        parents = pooled_ports(client)

        def work() -> tuple[str, set[int]]:
            async def call() -> tuple[str, set[int]]:
                answer = await client.version()
                ports = pooled_ports(client)
                await client.aclose()  # closes the child's own connection only
                return answer, ports

            return anyio.run(call, backend=backend)

        childs_version, childs = in_a_child(work)
        assert childs_version == version
        assert childs
        assert not childs & parents
        assert anyio.run(client.version, backend=backend) == version
        assert pooled_ports(client) == parents  # the child's aclose left it open
        anyio.run(client.aclose, backend=backend)


def test_the_module_functions_work_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_anyio import _default

    with run_emulator_in_thread() as emu:
        monkeypatch.setenv("OLLAMA_HOST", emu.url)
        try:
            models = {m.model for m in ollama_anyio.list().models}

            def work() -> set[str | None]:
                return {m.model for m in ollama_anyio.list().models}

            assert in_a_child(work) == models
            assert {m.model for m in ollama_anyio.list().models} == models
        finally:
            client, _default._client = _default._client, None
            if client is not None:
                client.close()


def test_a_forked_child_leaving_a_thread_emulators_block_does_not_wait_for_its_thread() -> None:
    manager = run_emulator_in_thread()
    emu = manager.__enter__()
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its outcome is its exit status
            code = 1
            try:
                signal.alarm(int(WAIT))  # a hang ends the child, and fails the test
                try:
                    emu.wait_for_requests(1, timeout=1)
                except RuntimeError:
                    manager.__exit__(None, None, None)
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert emu.url  # the parent's emulator still serves
        with Client(emu.url) as client:
            assert client.version()
    finally:
        manager.__exit__(None, None, None)
