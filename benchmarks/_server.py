"""A fake Ollama server for the benchmarks, run in its own process.

``python -m benchmarks._server`` listens on a free port of 127.0.0.1, prints its URL on one line,
and serves until its standard input closes (so it also ends when the benchmark process dies).

It speaks just enough HTTP/1.1, by hand on asyncio's protocol layer: keep-alive, request bodies
with Content-Length, answers with Content-Length, and streams in chunked transfer encoding with
one HTTP chunk per NDJSON line, as Ollama sends them. Every answer is built once at start-up, so
serving a request is a header scan, a dictionary look-up and one ``write``: the server is never
the bottleneck of a client.

Routes: ``POST /api/chat`` (streamed unless the body says ``"stream": false``, as in Ollama),
``POST /api/embed``, ``GET /api/tags``, ``GET /api/version``. An unknown model gets Ollama's 404.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading

from . import _bodies

_DATE = b"Date: Wed, 15 Jan 2025 10:30:00 GMT\r\n"
_NOT_STREAMED = re.compile(rb'"stream"\s*:\s*false')
_MAX_HEAD = 64 * 1024


def _plain(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"; charset=utf-8\r\n"
        + _DATE
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        + body
    )  # fmt: skip


def _chunked(lines: list[bytes]) -> bytes:
    parts = [b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n", _DATE]
    parts.append(b"Transfer-Encoding: chunked\r\n\r\n")
    for line in lines:
        parts.append(b"%x\r\n%s\r\n" % (len(line), line))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class _Answers:
    def __init__(self) -> None:
        self.chat = _plain(b"200 OK", _bodies.chat_body())
        self.stream = _chunked(_bodies.stream_lines())
        self.embed = _plain(b"200 OK", _bodies.embed_body())
        self.tags = _plain(b"200 OK", _bodies.tags_body())
        self.version = _plain(b"200 OK", b'{"version":"0.12.0"}')
        self.root = _plain(b"200 OK", b"Ollama is running", b"text/plain")
        self.no_model = _plain(b"404 Not Found", b'{"error":"model not found"}')
        self.no_route = _plain(b"404 Not Found", b"404 page not found", b"text/plain")
        self.bad = _plain(b"400 Bad Request", b'{"error":"bad request"}')
        self.model_key = b'"' + _bodies.MODEL.encode() + b'"'

    def answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"POST":
            if path not in (b"/api/chat", b"/api/embed"):
                return self.no_route
            if self.model_key not in body:
                return self.no_model
            if path == b"/api/embed":
                return self.embed
            return self.chat if _NOT_STREAMED.search(body) else self.stream
        if method in (b"GET", b"HEAD"):
            if path == b"/api/tags":
                return self.tags
            if path == b"/api/version":
                return self.version
            if path == b"/":
                return self.root
        return self.no_route


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order as they complete."""

    def __init__(self, answers: _Answers) -> None:
        self._answers = answers
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and self._answer_one():
            pass

    def _answer_one(self) -> bool:
        """Answer the first request in the buffer if it is complete; whether one was."""
        transport = self._transport
        assert transport is not None
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > _MAX_HEAD:
                transport.write(self._answers.bad)
                transport.close()
            return False
        lines = bytes(buffer[:end]).split(b"\r\n")
        try:
            method, path, _version = lines[0].split(b" ", 2)
        except ValueError:
            transport.write(self._answers.bad)
            transport.close()
            return False
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":  # no client here sends chunked requests
                transport.write(self._answers.bad)
                transport.close()
                return False
        start = end + 4
        if len(buffer) < start + length:
            return False
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        answer = self._answers.answer(method, path.partition(b"?")[0], body)
        if method == b"HEAD":
            answer = answer[: answer.index(b"\r\n\r\n") + 4]
        transport.write(answer)
        if close:
            transport.close()
            return False
        return True


async def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve until standard input reaches its end; print the URL once listening."""
    loop = asyncio.get_running_loop()
    answers = _Answers()
    server = await loop.create_server(lambda: _Connection(answers), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"http://{host}:{bound}", flush=True)
    stop = asyncio.Event()

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
