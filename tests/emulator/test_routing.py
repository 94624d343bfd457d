"""Router behaviour, framing and request decoding, checked over real HTTP with httpx."""

from __future__ import annotations

import json

import anyio
import h11
import pytest

from ollama_anyio.testing import OllamaEmulator

from .conftest import http


async def test_root_and_version(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        root = await client.get("/")
        head = await client.head("/")
        version = await client.get("/api/version")
        head_version = await client.head("/api/version")
        head_tags = await client.head("/api/tags")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["content-type"] == "text/plain; charset=utf-8"
    assert (head.status_code, head.content) == (200, b"")
    assert version.content == b'{"version":"0.12.6"}'
    assert version.headers["content-type"] == "application/json; charset=utf-8"
    assert head_version.status_code == 200
    assert (head_tags.status_code, head_tags.content) == (200, b"")
    assert int(head_tags.headers["content-length"]) > 0


async def test_unknown_path_and_wrong_method(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        missing = await client.get("/api/nope")
        wrong = await client.get("/api/chat")
        head_ps = await client.head("/api/ps")
        delete_post = await client.post("/api/delete", json={"model": "x"})
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    assert missing.headers["content-type"] == "text/plain"
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")
    assert wrong.headers["allow"] == "POST"
    assert head_ps.status_code == 405
    assert delete_post.headers["allow"] == "DELETE"


async def test_trailing_slash_redirects(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        get = await client.get("/api/tags/")
        post = await client.post("/api/show/", json={"model": "llama3.2"})
        followed = await client.get("/api/version/", follow_redirects=True)
    assert (get.status_code, get.headers["location"]) == (301, "/api/tags")
    assert (post.status_code, post.headers["location"]) == (307, "/api/show")
    assert followed.json() == {"version": "0.12.6"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "missing request body"),
        (b"{", 400, "unexpected end of JSON input"),
        (
            b'{"model":"llama3.2",}',
            400,
            "invalid character '}' looking for beginning of object key string",
        ),
        (
            b'{"model": 5}',
            400,
            "json: cannot unmarshal number into Go struct field ShowRequest.model of type string",
        ),
        (b"[1]", 400, "json: cannot unmarshal array into Go value of type api.ShowRequest"),
        (b"null", 400, "model is required"),
        (b'{"model": null}', 400, "model is required"),
    ],
)
async def test_body_decoding_errors(
    emu: OllamaEmulator, body: bytes, status: int, message: str
) -> None:
    async with http(emu) as client:
        response = await client.post("/api/show", content=body)
    assert response.status_code == status
    assert response.json() == {"error": message}
    assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_keys_are_case_insensitive_and_unknown_keys_ignored(emu: OllamaEmulator) -> None:
    body = {"MODEL": "llama3.2", "Stream": False, "Prompt": "hi", "whatever": [1, 2]}
    async with http(emu) as client:
        response = await client.post("/api/generate", content=json.dumps(body))
    assert response.status_code == 200
    assert response.json()["model"] == "llama3.2"
    assert response.json()["done"] is True


async def test_keep_alive_connection_and_one_chunk_per_line(emu: OllamaEmulator) -> None:
    """Two requests on one connection; each NDJSON line arrives as its own HTTP chunk."""
    body = json.dumps({"model": "llama3.2", "prompt": "hello"}).encode()
    conn = h11.Connection(h11.CLIENT)
    async with await anyio.connect_tcp("127.0.0.1", emu.port) as stream:
        for _ in range(2):
            request = h11.Request(
                method="POST",
                target="/api/generate",
                headers=[("Host", "localhost"), ("Content-Length", str(len(body)))],
            )
            await stream.send(conn.send(request) + conn.send(h11.Data(data=body)))
            await stream.send(conn.send(h11.EndOfMessage()) or b"")
            chunks: list[bytes] = []
            current = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive())
                elif isinstance(event, h11.Response):
                    assert event.status_code == 200
                    assert (b"transfer-encoding", b"chunked") in event.headers
                elif isinstance(event, h11.Data):
                    current += event.data
                    if event.chunk_end:
                        chunks.append(current)
                        current = b""
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert len(chunks) > 3
            assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks)
            assert json.loads(chunks[-1])["done"] is True
            conn.start_next_cycle()
    assert len(emu.requests) == 2


async def test_requests_are_recorded(emu: OllamaEmulator) -> None:
    async with http(emu) as client:
        await client.post("/api/show", json={"model": "llama3.2"}, headers={"X-Test": "yes"})
        await client.get("/api/tags")
    first, second = emu.requests
    assert (first.method, first.path, first.json) == ("POST", "/api/show", {"model": "llama3.2"})
    assert first.header("x-test") == "yes"
    assert (second.method, second.path, second.json, second.body) == ("GET", "/api/tags", None, b"")


async def test_bad_http_gets_400(emu: OllamaEmulator) -> None:
    async with await anyio.connect_tcp("127.0.0.1", emu.port) as stream:
        await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
    assert data.startswith(b"HTTP/1.1 400")
