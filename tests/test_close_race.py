"""Calls that race ``close()`` from other threads (issue 18).

While threads call one blocking `Client`, plain calls and streams, another thread closes it:
every call either succeeds or raises `ClientClosedError` (never asyncio's CancelledError, a
BaseException outside our tree), and nothing is printed (no "unhandled exception during
asyncio.run() shutdown"). Several rounds, on both portal backends.
"""

from __future__ import annotations

import threading

import pytest

from ollama_anyio import Client, ClientClosedError
from ollama_anyio.testing import ThreadedEmulator, run_emulator_in_thread

THREADS = 16
ROUNDS = 5
WAIT = 30.0


def one_round(emu: ThreadedEmulator, backend: str) -> list[BaseException]:
    client = Client(emu.url, backend=backend)  # type: ignore[arg-type]
    client.version()
    unexpected: list[BaseException] = []
    closed = 0
    lock = threading.Lock()

    def hammer(streaming: bool) -> None:
        nonlocal closed
        while True:
            try:
                if streaming:
                    for _ in client.generate("llama3.2", "hi", stream=True):
                        pass
                else:
                    client.version()
            except ClientClosedError:
                with lock:
                    closed += 1
                return
            except BaseException as exc:
                unexpected.append(exc)
                return

    threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    emu.wait_for_requests(emu.received + 100, timeout=WAIT)
    client.close()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert closed == THREADS - len(unexpected)
    return unexpected


def test_threads_racing_close_get_only_the_closed_client_error(
    portal_backend: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with run_emulator_in_thread() as emu:
        for _ in range(ROUNDS):
            assert one_round(emu, portal_backend) == []
        assert emu.errors == []
    assert capfd.readouterr().err == ""


def test_a_call_on_a_closed_client_is_a_closed_client_error(portal_backend: str) -> None:
    client = Client("http://127.0.0.1:9", backend=portal_backend)  # type: ignore[arg-type]
    client.close()
    with pytest.raises(ClientClosedError, match="closed"):
        client.version()
    assert isinstance(ClientClosedError("x"), RuntimeError)  # what it was before
