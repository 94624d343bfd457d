"""ollama-anyio behind a real nginx running deploy/nginx/ollama.conf, in front of emulators.

Every behaviour is checked with the async client (on asyncio and on trio) and with the
blocking client (its portal on asyncio and on trio). A variant of the recipe changes one
directive, and says why, where the shipped value would hide what is tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.to_thread
import pytest

from ollama_anyio import (
    AsyncClient,
    ChatResponse,
    Client,
    OllamaConnectionError,
    ResponseError,
)
from ollama_anyio.testing import Fault, Gate, Reply

from ._nginx import Nginx
from .conftest import Cluster, EmulatorProcess, StartCluster

pytestmark = pytest.mark.nginx

Backend = Literal["asyncio", "trio"]
MODEL = "llama3.2"
HI = [{"role": "user", "content": "Hi"}]
REPLY = "Streams pass through nginx one line at a time, as the server writes them."
# Every call is bounded: a proxy that holds a stream back fails a test instead of hanging it.
TIMEOUT = 15
# nginx's own error pages are HTML: the title is what a reader needs from them.
BAD_GATEWAY = "502 Bad Gateway"
GATEWAY_TIMEOUT = "504 Gateway Time-out"


def text(parts: list[ChatResponse]) -> str:
    return "".join(part.message.content or "" for part in parts)


def pause_every_instance(cluster: Cluster, gate: Gate) -> None:
    """Whichever instance nginx picks sends its first chunk, then waits for ``gate``."""
    for emulator in cluster.emulators:
        emulator.script(REPLY)
        emulator.faults.add(Fault.pause(gate, after=1, path="/api/chat"))


def access_lines(nginx: Nginx, path: str, count: int) -> list[str]:
    """The access log's lines for ``path`` once there are ``count`` (nginx writes a line
    after it has sent the response, so the client may be done a moment before)."""
    nginx.wait_until(
        lambda: sum(f" {path} " in line for line in nginx.access_log()) >= count,
        f"{count} access log line(s) for {path}",
    )
    return [line for line in nginx.access_log() if f" {path} " in line]


# -- a stream passes through unbuffered -------------------------------------------------------


async def stream_held_at_gate(url: str, gate: Gate) -> tuple[ChatResponse, list[ChatResponse]]:
    async with AsyncClient(url, timeout=TIMEOUT) as client:
        try:
            async with await client.chat(MODEL, HI, stream=True) as parts:
                first = await anext(parts)
                # The emulator is held at the gate: it has not produced the later chunks.
                assert not gate.is_open
                gate.open()
                rest = [part async for part in parts]
        finally:
            gate.open()
    return first, rest


def stream_held_at_gate_blocking(
    url: str, gate: Gate, backend: Backend
) -> tuple[ChatResponse, list[ChatResponse]]:
    with Client(url, backend=backend, timeout=TIMEOUT) as client:
        try:
            with client.chat(MODEL, HI, stream=True) as parts:
                first = next(parts)
                assert not gate.is_open
                gate.open()
                rest = list(parts)
        finally:
            gate.open()
    return first, rest


def check_whole(first: ChatResponse, rest: list[ChatResponse]) -> None:
    assert first.done is False
    assert rest[-1].done is True
    assert text([first, *rest]) == REPLY


@dataclass
class StreamCase:
    cluster: Cluster
    encoding: str  # the Content-Encoding nginx must have sent

    def check_encoding(self) -> None:
        (line,) = access_lines(self.cluster.nginx, "/api/chat", 1)
        assert line.endswith(f" encoding={self.encoding}"), line


@pytest.fixture(params=["shipped", "gzip-on"])
def stream_cluster(request: pytest.FixtureRequest, start_cluster: StartCluster) -> StreamCase:
    """The recipe as shipped, and with `gzip on`. It ships with gzip off (small lines on a
    fast network do not pay for compressing each flush) but says it may be turned on; the
    variant checks that a gzipped stream is still delivered and decoded line by line."""
    if request.param == "gzip-on":
        return StreamCase(start_cluster(change={"gzip": "on"}), "gzip")
    return StreamCase(start_cluster(), "-")  # nginx logs an unset header as "-"


async def test_chat_stream_reaches_the_client_before_the_server_has_finished_it(
    stream_cluster: StreamCase,
) -> None:
    gate = Gate()
    pause_every_instance(stream_cluster.cluster, gate)
    check_whole(*await stream_held_at_gate(stream_cluster.cluster.url, gate))
    stream_cluster.check_encoding()


def test_chat_stream_reaches_the_blocking_client_before_the_server_has_finished_it(
    stream_cluster: StreamCase, portal_backend: Backend
) -> None:
    gate = Gate()
    pause_every_instance(stream_cluster.cluster, gate)
    check_whole(*stream_held_at_gate_blocking(stream_cluster.cluster.url, gate, portal_backend))
    stream_cluster.check_encoding()


# -- calls spread over the instances ----------------------------------------------------------


async def test_calls_spread_over_every_instance(cluster: Cluster) -> None:
    async with AsyncClient(cluster.url, timeout=TIMEOUT) as client:
        for _ in range(9):
            assert (await client.chat(MODEL, HI)).done
    assert sum(cluster.chats()) == 9
    assert all(count > 0 for count in cluster.chats()), cluster.chats()


def test_blocking_calls_spread_over_every_instance(
    cluster: Cluster, portal_backend: Backend
) -> None:
    with Client(cluster.url, backend=portal_backend, timeout=TIMEOUT) as client:
        for _ in range(9):
            assert client.chat(MODEL, HI).done
    assert sum(cluster.chats()) == 9
    assert all(count > 0 for count in cluster.chats()), cluster.chats()


# -- an instance stopped before a call --------------------------------------------------------


def check_failed_over(cluster: Cluster) -> None:
    # Every call succeeded, and nginx did try the stopped instance: the calls moved on.
    stopped = cluster.emulators[0].port
    refused = "connect() failed (111: Connection refused) while connecting to upstream"
    assert any(
        refused in line and f"127.0.0.1:{stopped}" in line
        for line in cluster.nginx.error_log().splitlines()
    ), "no call was routed to the stopped instance"
    assert cluster.chats()[0] == 0
    assert sum(cluster.chats()) == 6


async def test_calls_succeed_with_an_instance_stopped(cluster: Cluster) -> None:
    cluster.stop(0)
    async with AsyncClient(cluster.url, timeout=TIMEOUT) as client:
        for _ in range(6):
            assert (await client.chat(MODEL, HI)).done
    check_failed_over(cluster)


def test_blocking_calls_succeed_with_an_instance_stopped(
    cluster: Cluster, portal_backend: Backend
) -> None:
    cluster.stop(0)
    with Client(cluster.url, backend=portal_backend, timeout=TIMEOUT) as client:
        for _ in range(6):
            assert client.chat(MODEL, HI).done
    check_failed_over(cluster)


@pytest.mark.parametrize("fault", [Fault.busy, Fault.bad_gateway], ids=["503", "502"])
@pytest.mark.parametrize(
    ("path", "max_retries"),
    [("/api/tags", 0), ("/api/chat", 2)],
    ids=["GET-nginx-moves-on", "POST-client-retries"],
)
async def test_calls_succeed_when_an_instance_answers_503_or_502(
    cluster: Cluster, fault: Callable[..., Fault], path: str, max_retries: int
) -> None:
    """A GET is sent on to the next server by nginx itself (the client does not retry
    here). A POST's answer is passed on as it is (nginx does not send a POST that a
    server received to another one), and the client's retry is balanced elsewhere."""
    cluster.emulators[0].faults.add(fault(times=None, path=path))
    async with AsyncClient(
        cluster.url, timeout=TIMEOUT, max_retries=max_retries, retry_backoff=0.01
    ) as client:
        for _ in range(6):
            await (client.list() if path == "/api/tags" else client.chat(MODEL, HI))
    asked = [sum(r.path == path for r in emulator.requests) for emulator in cluster.emulators]
    assert asked[0] >= 1  # the failing server was asked, and the calls still succeeded
    assert sum(asked[1:]) == 6


async def test_every_instance_busy_is_ollamas_503_after_the_clients_retries(
    cluster: Cluster,
) -> None:
    for emulator in cluster.emulators:
        emulator.faults.add(Fault.busy(times=None, path="/api/chat"))
    async with AsyncClient(
        cluster.url, timeout=TIMEOUT, max_retries=1, retry_backoff=0.01
    ) as client:
        with pytest.raises(ResponseError) as info:
            await client.chat(MODEL, HI)
    assert info.value.status_code == 503
    assert info.value.error.startswith("server busy")
    assert len(access_lines(cluster.nginx, "/api/chat", 2)) == 2


# -- an instance killed in the middle of a stream ---------------------------------------------


@dataclass
class Victim:
    """Kills the instance serving a stream once the client holds two of its chunks."""

    cluster: Cluster
    process: EmulatorProcess
    received: list[ChatResponse] = field(default_factory=list[ChatResponse])

    def take(self, part: ChatResponse) -> None:
        self.received.append(part)
        if len(self.received) == 2:
            assert self.cluster.chats() == [0, 0], "the stream went to another instance"
            self.process.kill()

    def check_cut(self) -> None:
        """The client got the two chunks sent before the kill, and no final one."""
        assert len(self.received) == 2
        assert not any(part.done for part in self.received)


@pytest.fixture
def victim(start_cluster: StartCluster, emulator_process: Callable[..., EmulatorProcess]) -> Victim:
    """The victim, a process that hangs its first chat stream after two chunks, is first in
    the upstream: with every server idle, least_conn gives a fresh nginx's first request to
    the first server (checked through the other instances' request logs before the kill)."""
    process = emulator_process(hang_after=2)
    return Victim(start_cluster(front=[process.address]), process)


async def test_instance_killed_mid_stream_is_a_connection_error_then_the_next_call_works(
    victim: Victim,
) -> None:
    async with AsyncClient(victim.cluster.url, timeout=TIMEOUT) as client:
        with pytest.raises(OllamaConnectionError):
            async with await client.chat(MODEL, HI, stream=True) as parts:
                async for part in parts:
                    victim.take(part)
        victim.check_cut()
        assert (await client.chat(MODEL, HI)).done
    assert sum(victim.cluster.chats()) == 1


def test_instance_killed_mid_stream_is_a_connection_error_for_the_blocking_client(
    victim: Victim, portal_backend: Backend
) -> None:
    with Client(victim.cluster.url, backend=portal_backend, timeout=TIMEOUT) as client:
        with pytest.raises(OllamaConnectionError), client.chat(MODEL, HI, stream=True) as parts:
            for part in parts:
                victim.take(part)
        victim.check_cut()
        assert client.chat(MODEL, HI).done
    assert sum(victim.cluster.chats()) == 1


# -- nginx's own 502 and 504 pages ------------------------------------------------------------


@pytest.fixture
def all_stopped(cluster: Cluster) -> Cluster:
    """Every instance stopped: nginx tries each, then answers its own 502 page."""
    for index in range(len(cluster.emulators)):
        cluster.stop(index)
    return cluster


@pytest.fixture
def all_slow(start_cluster: StartCluster) -> Cluster:
    """Instances that wait 30 s before answering, behind a recipe whose proxy_read_timeout is
    100 ms: the shipped 900 s (longer than the client's own read timeout, on purpose) is what
    makes nginx's 504 rare, so a test of that page must shorten it. A POST that reached a
    server is not sent to another (no ``non_idempotent``): nginx answers 504 at once."""
    cluster = start_cluster(change={"proxy_read_timeout": "100ms"})
    for emulator in cluster.emulators:
        emulator.faults.add(Fault.delay(30, path="/api/chat", times=None))
    return cluster


def check_page(error: ResponseError, status: int, title: str) -> None:
    assert error.status_code == status
    assert title in error.error


async def test_nginx_502_page_is_a_response_error(all_stopped: Cluster) -> None:
    async with AsyncClient(all_stopped.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.chat(MODEL, HI)
    check_page(info.value, 502, BAD_GATEWAY)


async def test_nginx_504_page_is_a_response_error(all_slow: Cluster) -> None:
    async with AsyncClient(all_slow.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.chat(MODEL, HI)
    check_page(info.value, 504, GATEWAY_TIMEOUT)


def test_nginx_502_and_504_pages_are_response_errors_for_the_blocking_client(
    start_cluster: StartCluster, portal_backend: Backend
) -> None:
    stopped = start_cluster()
    for index in range(3):
        stopped.stop(index)
    slow = start_cluster(change={"proxy_read_timeout": "100ms"})
    for emulator in slow.emulators:
        emulator.faults.add(Fault.delay(30, path="/api/chat", times=None))
    for cluster, status, title in ((stopped, 502, BAD_GATEWAY), (slow, 504, GATEWAY_TIMEOUT)):
        with Client(cluster.url, backend=portal_backend, timeout=TIMEOUT, max_retries=0) as client:
            with pytest.raises(ResponseError) as info:
                client.chat(MODEL, HI)
        check_page(info.value, status, title)


async def test_with_retries_a_502_is_tried_again_and_still_reported(all_stopped: Cluster) -> None:
    # The client's own retries (502 is one it may retry) end in the same typed error.
    async with AsyncClient(
        all_stopped.url, timeout=TIMEOUT, max_retries=1, retry_backoff=0.01
    ) as client:
        with pytest.raises(ResponseError) as info:
            await client.list()
    check_page(info.value, 502, BAD_GATEWAY)
    assert len(access_lines(all_stopped.nginx, "/api/tags", 2)) == 2


async def test_nginx_error_page_message_is_its_text_without_markup(all_stopped: Cluster) -> None:
    async with AsyncClient(all_stopped.url, timeout=TIMEOUT, max_retries=0) as client:
        with pytest.raises(ResponseError) as info:
            await client.chat(MODEL, HI)
    assert info.value.error == BAD_GATEWAY


# -- nginx closes an idle kept-alive connection -----------------------------------------------


@pytest.fixture
def short_keepalive(start_cluster: StartCluster) -> Cluster:
    """The recipe with `keepalive_timeout 1s`: the shipped 75 s would make a test wait that
    long for nginx to close the idle connection, which is the event under test."""
    return start_cluster(change={"keepalive_timeout": "1s"})


def wait_for_idle_close(nginx: Nginx) -> None:
    """The client's connection is idle in nginx's keep-alive, then nginx closes it."""
    assert nginx.status()["waiting"] == 1, "the client did not keep its connection open"
    nginx.wait_until(lambda: nginx.status()["waiting"] == 0, "closing the idle connection")


def check_reconnected(nginx: Nginx) -> None:
    lines = access_lines(nginx, "/api/chat", 2)
    connections = {re.search(r"conn=(\d+)", line)[1] for line in lines}  # type: ignore[index]
    assert len(connections) == 2, "the second call did not come on a new connection"


async def test_call_after_nginx_closed_the_idle_connection_reconnects(
    short_keepalive: Cluster,
) -> None:
    async with AsyncClient(short_keepalive.url, timeout=TIMEOUT, max_retries=0) as client:
        assert (await client.chat(MODEL, HI)).done
        await anyio.to_thread.run_sync(wait_for_idle_close, short_keepalive.nginx)
        assert (await client.chat(MODEL, HI)).done
    check_reconnected(short_keepalive.nginx)


def test_blocking_call_after_nginx_closed_the_idle_connection_reconnects(
    short_keepalive: Cluster, portal_backend: Backend
) -> None:
    with Client(
        short_keepalive.url, backend=portal_backend, timeout=TIMEOUT, max_retries=0
    ) as client:
        assert client.chat(MODEL, HI).done
        wait_for_idle_close(short_keepalive.nginx)
        assert client.chat(MODEL, HI).done
    check_reconnected(short_keepalive.nginx)


async def test_a_write_after_nginx_closed_the_idle_connection_succeeds(
    short_keepalive: Cluster,
) -> None:
    # A write is never sent twice, so it succeeds only because the closed connection was
    # seen before anything was sent on it (the check before reuse), with retries off.
    async with AsyncClient(short_keepalive.url, timeout=TIMEOUT, max_retries=0) as client:
        assert (await client.chat(MODEL, HI)).done
        await anyio.to_thread.run_sync(wait_for_idle_close, short_keepalive.nginx)
        await client.copy(MODEL, "copy-after-idle-close")


# -- 200 concurrent streams -------------------------------------------------------------------

STREAMS = 200


def numbered_reply(body: dict[str, Any]) -> Reply:
    """A reply naming its request, long enough to come in a dozen chunks."""
    return Reply(content=expected(body["messages"][-1]["content"]))


def expected(prompt: str) -> str:
    return f"{prompt}: " + " ".join(f"word{k}" for k in range(12))


def script_numbered(cluster: Cluster) -> None:
    for emulator in cluster.emulators:
        emulator.script(*[numbered_reply] * STREAMS)


def check_all(results: dict[int, list[ChatResponse]], cluster: Cluster) -> None:
    assert sorted(results) == list(range(STREAMS))
    for index, parts in results.items():
        assert text(parts) == expected(f"stream {index}"), index
        assert [part.done for part in parts].count(True) == 1
        assert parts[-1].done
    assert sum(cluster.chats()) == STREAMS
    assert all(count > 0 for count in cluster.chats()), cluster.chats()


async def test_200_concurrent_streams_complete_in_order(cluster: Cluster) -> None:
    script_numbered(cluster)
    results: dict[int, list[ChatResponse]] = {}
    async with AsyncClient(cluster.url, timeout=TIMEOUT) as client:

        async def one(index: int) -> None:
            messages = [{"role": "user", "content": f"stream {index}"}]
            async with await client.chat(MODEL, messages, stream=True) as parts:
                results[index] = [part async for part in parts]

        async with anyio.create_task_group() as group:
            for index in range(STREAMS):
                group.start_soon(one, index)
    check_all(results, cluster)


def test_200_concurrent_blocking_streams_complete_in_order(
    cluster: Cluster, portal_backend: Backend
) -> None:
    script_numbered(cluster)
    with Client(cluster.url, backend=portal_backend, timeout=TIMEOUT) as client:

        def one(index: int) -> list[ChatResponse]:
            messages = [{"role": "user", "content": f"stream {index}"}]
            with client.chat(MODEL, messages, stream=True) as parts:
                return list(parts)

        with ThreadPoolExecutor(max_workers=STREAMS) as pool:
            results = dict(enumerate(pool.map(one, range(STREAMS))))
    check_all(results, cluster)
