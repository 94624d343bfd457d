"""Every fault kind, as a client sees it, plus disconnect accounting."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import ollama
import pytest

from ollama_anyio.testing import Fault, FaultKind, Gate, OllamaEmulator

from .conftest import SSL, http

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "Tell me a story"}]}


async def stream_lines(emu: OllamaEmulator, body: dict[str, Any] = CHAT) -> list[bytes]:
    async with http(emu) as client:
        response = await client.post("/api/chat", json=body)
    assert response.status_code == 200
    return response.content.splitlines(keepends=True)


async def test_error_line_after_n_chunks(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.error(after=3, message="boom", path="/api/chat"))
    lines = await stream_lines(emu)
    assert len(lines) == 4
    assert json.loads(lines[-1]) == {"error": "boom"}
    assert not any(json.loads(line).get("done") for line in lines[:3])
    assert len(await stream_lines(emu)) > 4  # used up after one request


async def test_error_on_a_single_response_is_a_500(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.error(path="/api/chat"))
    async with http(emu) as client:
        response = await client.post("/api/chat", json=CHAT | {"stream": False})
    assert response.status_code == 500
    assert response.json() == {"error": "an error was encountered while running the model"}


async def test_official_client_raises_on_in_stream_error(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.error(after=1, message="runner died"))
    client = ollama.AsyncClient(host=emu.url, verify=SSL)
    try:
        stream = await client.chat(**CHAT, stream=True)  # type: ignore[call-overload]
        with pytest.raises(ollama.ResponseError, match="runner died"):
            async for _ in stream:
                pass
    finally:
        await client._client.aclose()


async def test_drop_mid_line(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.drop(after=2, path="/api/chat"))
    received: list[bytes] = []

    async def read_all(response: httpx.Response) -> None:
        async for line in response.aiter_lines():
            received.append(line.encode())

    async with http(emu) as client, client.stream("POST", "/api/chat", json=CHAT) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            await read_all(response)
    assert len(received) >= 2
    assert all(json.loads(line)["done"] is False for line in received[:2])
    if len(received) > 2:  # the half line, if the transport delivered it before the close
        with pytest.raises(json.JSONDecodeError):
            json.loads(received[2])
    assert emu.disconnects == 0  # the server hung up, not the client


async def test_drop_single_response(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.drop(path="/api/tags"))
    async with http(emu) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/api/tags")


async def test_truncate_ends_without_done(emu: OllamaEmulator) -> None:
    emu.faults.add(
        Fault.truncate(after=4, path="/api/chat"), Fault.truncate(after=99, path="/api/pull")
    )
    lines = await stream_lines(emu)
    assert len(lines) == 4
    assert not any(json.loads(x)["done"] for x in lines)
    async with http(emu) as client:
        pull = await client.post("/api/pull", json={"model": "gemma3"})
    statuses = [json.loads(x)["status"] for x in pull.content.splitlines()]
    assert statuses[-1] == "writing manifest"  # never the final success line


async def test_malformed_line_then_the_rest(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.malformed(after=1, path="/api/chat"))
    lines = await stream_lines(emu)
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    assert json.loads(lines[-1])["done"] is True
    assert all(line.endswith(b"\n") for line in lines)


async def test_busy_for_n_requests(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.busy(times=2, path="/api/chat"))
    async with http(emu) as client:
        statuses = [(await client.post("/api/chat", json=CHAT)).status_code for _ in range(3)]
        emu.faults.add(Fault.busy())
        busy = await client.get("/api/version")
    assert statuses == [503, 503, 200]
    assert busy.content == (
        b'{"error":"server busy, please try again.  maximum pending requests exceeded"}'
    )
    assert busy.headers["content-type"] == "application/json; charset=utf-8"


async def test_bad_gateway_html(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.bad_gateway(path="/api/tags"))
    async with http(emu) as client:
        response = await client.get("/api/tags")
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in response.text
    official = ollama.AsyncClient(host=emu.url, verify=SSL)
    emu.faults.add(Fault.bad_gateway())
    try:
        with pytest.raises(ollama.ResponseError) as info:
            await official.list()
    finally:
        await official._client.aclose()
    assert info.value.status_code == 502


async def test_nth_request_only(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.busy(path="/api/tags", nth=2))
    async with http(emu) as client:
        statuses = [(await client.get("/api/tags")).status_code for _ in range(3)]
        await client.get("/api/ps")
    assert statuses == [200, 503, 200]
    assert emu.faults.pending == []


async def test_hang_until_the_client_leaves(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.hang(after=2, path="/api/chat"))
    async with http(emu) as client, client.stream("POST", "/api/chat", json=CHAT) as response:
        lines = response.aiter_lines()
        first = [await lines.__anext__(), await lines.__anext__()]
    # Leaving the blocks closed the response; the server notices and counts it.
    with anyio.fail_after(5):
        await emu.wait_for_disconnects(1)
    assert [json.loads(x)["done"] for x in first] == [False, False]
    assert emu.disconnects == 1


async def test_delay_beaten_by_a_client_timeout(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.delay(30, path="/api/tags"))
    async with http(emu) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/api/tags", timeout=0.05)
        assert (await client.get("/api/tags")).status_code == 200
    with anyio.fail_after(5):
        await emu.wait_for_disconnects(1)


async def test_delay_and_slow_load(emu: OllamaEmulator) -> None:
    emu.faults.add(Fault.delay(0.01), Fault.slow_load(0.02, path="/api/generate"))
    async with http(emu) as client:
        response = await client.post(
            "/api/generate", json={"model": "llama3.2", "prompt": "x", "stream": False}
        )
    assert response.json()["load_duration"] >= 20_000_000
    assert emu.faults.pending == []


async def test_fault_header_for_one_request(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        headers = {"X-Emulator-Fault": "error;after=1;message=from header"}
        faulty = await client.post("/api/chat", json=CHAT, headers=headers)
        clean = await client.post("/api/chat", json=CHAT)
        bad = await client.get("/api/tags", headers={"X-Emulator-Fault": "explode"})
    assert json.loads(faulty.content.splitlines()[-1]) == {"error": "from header"}
    assert json.loads(clean.content.splitlines()[-1])["done"] is True
    assert bad.status_code == 400


async def test_client_closing_a_slow_stream_is_counted() -> None:
    async with OllamaEmulator(token_delay=0.05) as emu, http(emu) as client:
        async with client.stream("POST", "/api/chat", json=CHAT) as response:
            async for _ in response.aiter_lines():
                break
        with anyio.fail_after(5):
            await emu.wait_for_disconnects(1)
        assert emu.requests[-1].path == "/api/chat"


def test_fault_parse_and_kinds() -> None:
    fault = Fault.parse("drop; after=3")
    assert (fault.kind, fault.after) == (FaultKind.DROP, 3)
    assert Fault.parse("delay;seconds=0.5").seconds == 0.5
    with pytest.raises(ValueError, match="unknown fault option"):
        Fault.parse("error;nope=1")


async def test_pause_holds_the_rest_of_a_stream_until_its_gate_opens(emu: OllamaEmulator) -> None:
    gate = Gate()
    emu.faults.add(Fault.pause(gate, after=1, path="/api/chat"))
    async with http(emu) as client, client.stream("POST", "/api/chat", json=CHAT) as response:
        lines = response.aiter_lines()
        with anyio.fail_after(5):
            first = json.loads(await lines.__anext__())
        # The first line arrived while the gate is still shut: nothing else was produced.
        assert not gate.is_open
        gate.open()
        rest = [json.loads(line) async for line in lines]
    assert first["done"] is False
    assert rest[-1]["done"] is True
    assert "".join(c["message"]["content"] for c in [first, *rest]) != ""
    assert emu.disconnects == 0


async def test_pause_behind_an_open_gate_does_not_stop(emu: OllamaEmulator) -> None:
    gate = Gate()
    gate.open()
    emu.faults.add(Fault.pause(gate, after=2, path="/api/chat"))
    with anyio.fail_after(5):
        lines = await stream_lines(emu)
    assert json.loads(lines[-1])["done"] is True


def test_pause_cannot_come_from_a_header() -> None:
    with pytest.raises(ValueError, match="Gate"):
        Fault.parse("pause;after=1")
