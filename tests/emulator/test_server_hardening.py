"""The emulator run as a server, against hostile clients (issue 18).

It must outlive running out of file descriptors, answer a body over its limit with 413, read
no more than a little of a pipelined flood while a response is under way, and answer invalid,
deeply nested or dense JSON with 400/413 in Ollama's ``{"error": ...}`` shape, leaving
``emu.errors`` (the emulator's own bugs) empty. Async tests run on asyncio and trio.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import tracemalloc

import anyio
import anyio.abc
import pytest

from ollama_anyio.testing import Fault, OllamaEmulator

pytestmark = pytest.mark.anyio

WAIT = 30.0


async def exchange(url: str, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read the answer until the server closes; its status and body."""
    host, port = url.removeprefix("http://").split(":")
    with anyio.fail_after(WAIT):
        async with await anyio.connect_tcp(host, int(port)) as stream:
            await stream.send(request)
            data = b""
            try:
                while b"\r\n\r\n" not in data or not _complete(data):
                    data += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def post(path: str, body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s" % (
        path.encode(),
        len(body),
        extra,
        body,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "exceeded max depth"),
        (b'{"model": "llama3.2", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
        (b"{not json", None),
        # Past Python's 4,300-digit limit json.loads raises a plain ValueError.
        (b'{"model": "llama3.2", "messages": [], "keep_alive": ' + b"9" * 5000 + b"}", None),
    ],
)
async def test_invalid_or_too_deep_json_is_a_400_in_ollamas_shape(
    emu: OllamaEmulator, body: bytes, message: str | None
) -> None:
    status, answer = await exchange(emu.url, post("/api/chat", body))
    assert status == 400
    error = json.loads(answer)["error"]
    assert isinstance(error, str)
    assert error
    if message is not None:
        assert error == message
    assert emu.errors == []
    assert emu.requests[-1].json is None  # recorded, though not JSON


async def test_an_announced_body_over_the_limit_is_a_413_at_once(emu: OllamaEmulator) -> None:
    # Only the head is sent: the answer must not wait for the 1 GiB it announces.
    request = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1 << 30)
    status, answer = await exchange(emu.url, request)
    assert status == 413
    assert json.loads(answer) == {"error": "http: request body too large"}
    assert emu.errors == []


async def test_a_chunked_body_over_the_limit_is_a_413() -> None:
    async with OllamaEmulator(max_request_body=1024 * 1024) as emu:
        piece = b"x" * 65536
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(20))
        request = (
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        )
        status, answer = await exchange(emu.url, request)
        assert status == 413
        assert json.loads(answer)["error"] == "http: request body too large"
        assert emu.errors == []


async def test_dense_json_is_refused_before_it_is_parsed(emu: OllamaEmulator) -> None:
    body = b"[" + b"[]," * (6 * 1024 * 1024) + b"[]]"  # 18 MiB, some 400 MiB once parsed
    status, answer = await exchange(emu.url, post("/api/chat", body))
    assert status == 413
    assert json.loads(answer)["error"] == "http: request body too large"
    assert emu.errors == []


@pytest.mark.parametrize("path", ["/api/generate", "/api/chat", "/api/embed"])
async def test_a_prompt_longer_than_the_context_window_is_truncated_to_it(
    emu: OllamaEmulator, path: str
) -> None:
    # As Ollama truncates a prompt that does not fit (keeping its end): a 4 MiB prompt of
    # two-million words is answered with at most num_ctx prompt tokens, rather than a context
    # of millions of token ids (a 60 MiB prompt cost the emulator 5.6 GB and 80 s).
    prompt = "a " * (2 * 1024 * 1024)
    request: dict[str, object] = {"model": "llama3.2", "stream": False}
    request["options"] = {"num_ctx": 1024}
    if path == "/api/chat":
        request["messages"] = [{"role": "user", "content": prompt}]
    elif path == "/api/embed":
        request["input"] = prompt
    else:
        request["prompt"] = prompt
    status, answer = await exchange(emu.url, post(path, json.dumps(request).encode()))
    assert status == 200
    result = json.loads(answer)
    # (The emulator's template adds 4 end-of-turn tokens to the window's.)
    assert 0 < result["prompt_eval_count"] <= 1024 + 4
    assert len(result.get("context", [])) <= 1024 + 4 + result.get("eval_count", 0)
    assert emu.errors == []


@pytest.mark.parametrize("path", ["/api/generate", "/api/embed"])
async def test_a_huge_prompt_costs_the_emulator_little(emu: OllamaEmulator, path: str) -> None:
    # The default reply looked at every word of the prompt, and embed split all of its input:
    # 900 MB at the peak for 8 MiB.
    text = "a " * (4 * 1024 * 1024)
    request = {"model": "all-minilm" if path == "/api/embed" else "llama3.2", "stream": False}
    request["input" if path == "/api/embed" else "prompt"] = text
    tracemalloc.start()
    try:
        status, answer = await exchange(emu.url, post(path, json.dumps(request).encode()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 200
    assert json.loads(answer)["response" if path == "/api/generate" else "embeddings"]
    # The request's bytes, their decoded string, the recorded request: a few copies of 8 MiB.
    assert peak < 128 * 1024 * 1024
    assert emu.errors == []


@pytest.mark.parametrize("at_once", [False, True], ids=["after", "at-once"])
async def test_a_pipelined_flood_waits_in_the_kernel_while_a_response_hangs(
    emu: OllamaEmulator, at_once: bool
) -> None:
    emu.faults.add(Fault.hang(path="/api/chat"))
    request = post("/api/chat", b'{"model":"llama3.2","messages":[],"stream":true}')
    host, port = emu.url.removeprefix("http://").split(":")
    flood = b"GET /api/tags HTTP/1.1\r\nHost: x\r\n\r\n" * 2000  # 74 KB a piece
    sent = 0
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        if at_once:
            # The flood is there before the server has even accepted the connection (so
            # before its first read): on asyncio, anyio's accepted streams read until a
            # read finds nothing waiting, which a flood never lets happen.
            sock.sendall(request + flood)
            sent = len(flood)
        else:
            sock.sendall(request)
        await emu.wait_for_requests(1)
        sock.setblocking(False)
        # Stop when the peer's buffers are full: a send that would block for long.
        while sent < 256 * 1024 * 1024:
            try:
                sent += sock.send(flood)
            except BlockingIOError:
                with anyio.move_on_after(1.0) as waited:
                    await anyio.wait_writable(sock)
                if waited.cancelled_caught:
                    break
    # Kernel buffers on loopback hold a few MiB; without back-pressure all 256 MiB go in.
    assert sent < 64 * 1024 * 1024
    assert emu.errors == []


def test_the_server_outlives_running_out_of_file_descriptors(tmp_path: object) -> None:
    # In a process of its own, whose descriptor limit is then set just above what it uses.
    script = textwrap.dedent(
        """
        import os, resource, sys
        import anyio
        from ollama_anyio.testing import OllamaEmulator

        async def main():
            async with OllamaEmulator() as emu:
                used = len(os.listdir("/proc/self/fd"))
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (used + 4, hard))
                print(emu.url, flush=True)
                await anyio.to_thread.run_sync(sys.stdin.readline)  # until the test is done
                print("alive", len(emu.errors), flush=True)

        anyio.run(main)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        # A burst: far more connections than the server has descriptors for.
        burst = [socket.create_connection((host, int(port)), timeout=WAIT) for _ in range(64)]
        for sock in burst:
            sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in burst[:3]:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        for sock in burst:
            sock.close()
        # The burst gone, the server answers again.
        with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
            sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        process.stdin.write("done\n")
        process.stdin.flush()
        assert process.stdout.readline().split() == ["alive", "0"]
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        process.stdin.close()
        process.stdout.close()
