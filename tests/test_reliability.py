"""Faults over real sockets: the emulator on 127.0.0.1 drops, truncates, hangs and refuses.

Each test names the behaviour it guarantees. Async tests run on asyncio and trio; the blocking
tests use the ``ollama_emulator`` fixture (an emulator in a thread) and a portal on each backend.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from ollama_anyio import (
    AsyncClient,
    Client,
    IncompleteStreamError,
    OllamaConnectionError,
    OllamaTimeoutError,
    ProtocolError,
    RequestError,
    ResponseError,
)
from ollama_anyio._errors import Fact, Failure
from ollama_anyio._http._retry import Retry, RetryPolicy
from ollama_anyio._sync_client import Stream
from ollama_anyio.testing import Fault, OllamaEmulator, ThreadedEmulator

HI = [{"role": "user", "content": "Why is the sky blue?"}]
WAIT = 30.0  # seconds any wait of a helper thread may take


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- 1. connection failures -------------------------------------------------------------------


async def test_nothing_listening_is_a_connection_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncClient(url, max_retries=0) as client:
        with pytest.raises(ConnectionError, match=url.replace(".", r"\.")) as info:
            await client.list()
        assert isinstance(info.value, OllamaConnectionError)
        with pytest.raises(OllamaConnectionError, match="is Ollama running"):
            async with await client.chat("llama3.2", HI, stream=True) as stream:
                async for _ in stream:
                    pass


async def test_connection_dropped_mid_line_keeps_the_chunks_before(
    emulator: OllamaEmulator,
) -> None:
    emulator.faults.add(Fault.drop(after=3, path="/api/chat"))
    async with AsyncClient(emulator.url) as client:
        received = []
        with pytest.raises(OllamaConnectionError):
            async for part in await client.chat("llama3.2", HI, stream=True):
                received.append(part)
    assert len(received) == 3
    assert all(not part.done for part in received)


# -- 2. server errors ---------------------------------------------------------------------------


async def test_truncated_stream_is_an_error(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.truncate(after=4, path="/api/generate"))
    async with AsyncClient(emulator.url) as client:
        received = []
        with pytest.raises(IncompleteStreamError):
            async for part in await client.generate("llama3.2", "hello", stream=True):
                received.append(part.response)
    assert len(received) == 4


async def test_error_line_mid_stream(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.error(after=2, message="runner crashed", path="/api/chat"))
    async with AsyncClient(emulator.url) as client:
        received = []
        with pytest.raises(ResponseError, match="runner crashed") as info:
            async for part in await client.chat("llama3.2", HI, stream=True):
                received.append(part)
    assert info.value.status_code == 200
    assert len(received) == 2


async def test_malformed_line_names_its_start(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.malformed(after=1, path="/api/chat"))
    async with AsyncClient(emulator.url) as client:
        with pytest.raises(ProtocolError, match="malformed line"):
            async for _ in await client.chat("llama3.2", HI, stream=True):
                pass


async def test_html_502_from_a_proxy_reads_as_the_page_title(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.bad_gateway(path="/api/tags"))
    async with AsyncClient(emulator.url, max_retries=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.list()
    assert info.value.status_code == 502
    assert info.value.error == "502 Bad Gateway"  # the page's title, not its markup


async def test_unknown_model_is_a_404(emulator: OllamaEmulator) -> None:
    async with AsyncClient(emulator.url) as client:
        with pytest.raises(ResponseError) as info:
            await client.chat("no-such-model", HI)
    assert info.value.status_code == 404
    assert "not found" in info.value.error


# -- 3. timeouts --------------------------------------------------------------------------------


async def test_read_timeout_fires_when_the_server_stops_sending(
    emulator: OllamaEmulator,
) -> None:
    emulator.faults.add(Fault.hang(after=2, path="/api/chat"))
    async with AsyncClient(emulator.url, timeout=httpx.Timeout(5, read=0.2)) as client:
        received = []
        with pytest.raises(OllamaTimeoutError) as info:
            async for part in await client.chat("llama3.2", HI, stream=True):
                received.append(part)
    assert isinstance(info.value, TimeoutError)
    assert len(received) == 2
    await emulator.wait_for_disconnects(1)


async def test_deadline_around_a_call_on_a_hung_server(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.hang(path="/api/chat"))
    async with AsyncClient(emulator.url) as client:
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                await client.chat("llama3.2", HI)
        await emulator.wait_for_disconnects(1)
        assert (await client.chat("llama3.2", HI)).done  # still usable


# -- 4. retries ---------------------------------------------------------------------------------


async def test_busy_server_is_retried_then_answers(
    emulator: OllamaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults.add(Fault.busy(times=2, path="/api/chat"))
    caplog.set_level(logging.DEBUG, logger="ollama_anyio")
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        response = await client.chat("llama3.2", HI)
    assert response.done
    assert [r.path for r in emulator.requests] == ["/api/chat"] * 3
    retries = [r for r in caplog.records if r.name == "ollama_anyio"]
    assert len(retries) == 2
    assert "server busy" in retries[0].getMessage()


async def test_retries_give_up_with_the_last_error(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.busy(times=None, path="/api/tags"))
    async with AsyncClient(emulator.url, max_retries=3, retry_backoff=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.list()
    assert info.value.status_code == 503
    assert len(emulator.requests) == 4


async def test_writes_are_not_retried_unless_asked(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.busy(times=1, path="/api/copy"))
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        with pytest.raises(ResponseError):
            await client.copy("llama3.2", "mine")
    assert len(emulator.requests) == 1
    emulator.faults.add(Fault.busy(times=1, path="/api/copy"))
    async with AsyncClient(emulator.url, retry_backoff=0, retry_writes=True) as client:
        assert (await client.copy("llama3.2", "mine")).status == "success"
    assert len(emulator.requests) == 3


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", ["/api/create", "/api/push"])
async def test_create_and_push_are_writes_and_not_retried(
    emulator: OllamaEmulator, path: str, stream: bool
) -> None:
    # Before one policy decided, these two were retried on 503 like a chat.
    emulator.faults.add(Fault.busy(times=1, path=path))
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        with pytest.raises(ResponseError) as info:
            if stream:
                if path == "/api/create":
                    parts = await client.create("mine", from_="llama3.2", stream=True)
                else:
                    parts = await client.push("llama3.2", stream=True)
                async for _ in parts:
                    pass
            elif path == "/api/create":
                await client.create("mine", from_="llama3.2")
            else:
                await client.push("llama3.2")
    assert info.value.status_code == 503
    assert len(emulator.requests) == 1


def _failure(fact: Fact, *, reused: bool = False, timeout: str | None = None) -> Failure:
    return Failure(fact, "x", reused=reused, timeout=timeout)


@pytest.mark.parametrize(
    ("failure", "idempotent", "retried", "stale"),
    [
        (_failure(Fact.NOT_CONNECTED), True, True, False),
        (_failure(Fact.NOT_CONNECTED), False, False, False),
        (_failure(Fact.NOT_CONNECTED, timeout="connect"), True, True, False),
        (_failure(Fact.NOT_CONNECTED, timeout="pool"), True, True, False),
        (_failure(Fact.NO_DESCRIPTORS), True, False, False),
        (_failure(Fact.NOTHING_SENT, reused=True), False, True, True),
        (_failure(Fact.NO_RESPONSE, reused=True), True, True, True),
        (_failure(Fact.NO_RESPONSE, reused=True), False, False, False),
        (_failure(Fact.NO_RESPONSE), True, False, False),
        (_failure(Fact.NO_RESPONSE, reused=True, timeout="read"), True, False, False),
        (_failure(Fact.BEGAN, reused=True), True, False, False),
        (_failure(Fact.PROTOCOL), True, False, False),
        (_failure(Fact.REFUSED), True, False, False),
    ],
)
def test_the_retry_policy_decides_from_the_fact_alone(
    failure: Failure, idempotent: bool, retried: bool, stale: bool
) -> None:
    retry = RetryPolicy(max_retries=2, backoff=0).decide(0, idempotent=idempotent, failure=failure)
    assert (retry is not None) is retried
    assert retry is None or retry.stale is stale


def test_a_stale_connection_is_retried_once_per_call_and_a_one_shot_body_never() -> None:
    policy = RetryPolicy(max_retries=0)
    stale = _failure(Fact.NO_RESPONSE, reused=True)
    assert policy.decide(0, idempotent=True, failure=stale) == Retry(0.0, stale=True)
    assert policy.decide(0, idempotent=True, failure=stale, stale_retried=True) is None
    unsent = _failure(Fact.NOTHING_SENT, reused=True)
    assert policy.decide(0, idempotent=True, repeatable=False, failure=unsent) is None
    assert policy.decide(0, idempotent=True, status=503) is None  # max_retries=0


@pytest.mark.parametrize("setting", ["max_line_size", "max_body_size"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "1"])
def test_size_limits_must_be_positive_numbers_of_bytes(setting: str, value: Any) -> None:
    options: dict[str, Any] = {setting: value}
    with pytest.raises(RequestError, match=setting):
        AsyncClient(**options)


async def test_no_retry_once_the_body_has_begun(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.error(after=1, message="server busy", path="/api/chat"))
    async with AsyncClient(emulator.url, retry_backoff=0) as client:
        with pytest.raises(ResponseError):
            async for _ in await client.chat("llama3.2", HI, stream=True):
                pass
    assert len(emulator.requests) == 1


async def test_retry_after_is_honoured() -> None:
    answers = iter(
        [
            httpx.Response(429, json={"error": "slow down"}, headers={"retry-after": "0"}),
            httpx.Response(200, json={"version": "1.2.3"}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    # A huge backoff: only Retry-After (0 s) lets this finish.
    async with AsyncClient(transport=transport, retry_backoff=3600) as client:
        assert await client.version() == "1.2.3"


# -- 5. cancellation and early exit -------------------------------------------------------------


async def test_early_exit_disconnects_and_leaves_the_client_usable(
    emulator: OllamaEmulator,
) -> None:
    async with AsyncClient(emulator.url) as client:
        async with await client.generate("llama3.2", "tell me a story", stream=True) as stream:
            async for _ in stream:
                break
        await emulator.wait_for_disconnects(1)
        assert (await client.generate("llama3.2", "again")).done


async def test_cancelled_task_group_disconnects_every_stream(emulator: OllamaEmulator) -> None:
    emulator.faults.add(Fault.hang(after=1, path="/api/chat", times=None))
    async with AsyncClient(emulator.url) as client:

        async def consume() -> None:
            async for _ in await client.chat("llama3.2", HI, stream=True):
                pass

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(consume)
            await emulator.wait_for_requests(4)
            tg.cancel_scope.cancel()
        await emulator.wait_for_disconnects(4)


def test_ctrl_c_in_the_blocking_client_closes_the_response(
    ollama_emulator: ThreadedEmulator, portal_backend: str
) -> None:
    ollama_emulator.faults.add(Fault.hang(after=1, path="/api/chat"))

    def press_ctrl_c() -> None:
        # Deterministic: once the request has arrived, the call runs in the portal, so the
        # main thread is inside its crossing (`_call`), whose handler the test is about.
        ollama_emulator.wait_for_requests(1)
        # A real SIGINT to the main thread, which wakes it from its wait as Ctrl-C does.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    with Client(ollama_emulator.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        presser.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.chat("llama3.2", HI)
        finally:
            presser.join(WAIT)
        assert not presser.is_alive()
        ollama_emulator.wait_for_disconnects(1)
        assert client.chat("llama3.2", HI).done


def test_ctrl_c_while_reading_a_blocking_stream_closes_it(
    ollama_emulator: ThreadedEmulator, portal_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ollama_emulator.faults.add(Fault.hang(after=2, path="/api/generate"))

    received: list[object] = []
    waiting = threading.Event()  # the reader waits in the portal for a third chunk
    take_ready = Stream._take_ready

    async def take_ready_and_tell(self: Stream[object]) -> object:
        # Runs in the portal while the main thread is inside its crossing (`_call`): a
        # SIGINT sent from now on lands where Ctrl-C is handled, never a line before it.
        if len(received) == 2:
            waiting.set()
        return await take_ready(self)

    monkeypatch.setattr(Stream, "_take_ready", take_ready_and_tell)

    def press_ctrl_c() -> None:
        if waiting.wait(WAIT):  # (the reader never came: the test fails, nothing hangs)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    with Client(ollama_emulator.url, backend=portal_backend) as client:  # type: ignore[arg-type]
        presser.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                for part in client.generate("llama3.2", "a long story", stream=True):
                    received.append(part)
        finally:
            waiting.set()
            presser.join(WAIT)
        assert not presser.is_alive()
        ollama_emulator.wait_for_disconnects(1)  # before close(): the stream closed itself
    assert len(received) == 2


# -- 6. concurrency -----------------------------------------------------------------------------


async def test_hundreds_of_tasks_share_one_client(emulator: OllamaEmulator) -> None:
    answers: list[str] = []
    async with AsyncClient(emulator.url) as client:

        async def ask(i: int) -> None:
            reply = await client.chat("llama3.2", [{"role": "user", "content": f"question {i}"}])
            answers.append(reply.message.content)

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(ask, i)
    assert len(answers) == 200
    assert all(answers)


def test_async_client_in_consecutive_event_loops(ollama_emulator: ThreadedEmulator) -> None:
    client = AsyncClient(ollama_emulator.url)

    async def ask() -> str | None:
        return (await client.generate("llama3.2", "hi")).response

    first = asyncio.run(ask())
    second = asyncio.run(ask())  # the official client fails here: "Event loop is closed"
    third = anyio.run(ask, backend="trio")
    assert first == second == third != ""

    async def close() -> None:
        await client.aclose()

    asyncio.run(close())
    gc.collect()  # nothing of the ended loops is left to warn about


def test_blocking_client_from_many_threads_then_nothing_left(
    ollama_emulator: ThreadedEmulator, portal_backend: str
) -> None:
    client = Client(ollama_emulator.url, backend=portal_backend)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert client.embed("all-minilm", "hello").embeddings
                assert sum(1 for _ in client.generate("llama3.2", "hi", stream=True)) > 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    client.close()
    assert errors == []
    assert client._async._session.closed  # every connection closed; the autouse fixture checks
    # that the portal thread has ended


# -- 8. security --------------------------------------------------------------------------------


async def test_api_key_is_not_sent_across_a_redirect_to_another_origin() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "ollama.internal":
            return httpx.Response(307, headers={"location": "http://elsewhere.example/api/tags"})
        return httpx.Response(200, json={"models": []})

    async with AsyncClient(
        "http://ollama.internal:11434", api_key="sekrit", transport=httpx.MockTransport(handler)
    ) as client:
        await client.list()
    first, second = seen
    assert first.headers["authorization"] == "Bearer sekrit"
    assert "authorization" not in second.headers
    assert "sekrit" not in repr(client)


async def test_api_key_never_in_error_messages() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncClient(url, api_key="sekrit", max_retries=0) as client:
        with pytest.raises(OllamaConnectionError) as info:
            await client.ps()
    assert "sekrit" not in str(info.value)
    assert "sekrit" not in repr(info.value)


async def test_a_plain_async_for_left_by_break_still_disconnects(
    emulator: OllamaEmulator,
) -> None:
    # No 'async with': the stream gets no signal but being dropped, and closes itself then.
    async with AsyncClient(emulator.url) as client:
        async for _ in await client.generate("llama3.2", "tell me a story", stream=True):
            break
        await emulator.wait_for_disconnects(1)
        assert (await client.generate("llama3.2", "again")).done
