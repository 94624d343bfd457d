"""What one hostile answer may cost, with the default settings (issue 18).

Each server sends more than its endpoint could legitimately return: a gzip bomb, a chunk of
2^64-1 bytes, JSON dense in empty arrays (about 24 times its size once decoded). The call must
end with `ProtocolError`, and the memory it took (traced by tracemalloc, the server's
allocations included) stays far below the 700 MiB the issue allows: the endpoint's limit plus a
fixed overhead. The payloads are built before tracing starts and sent in 1 MiB pieces.
"""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import anyio
import anyio.abc
import pytest

from ollama_anyio import AsyncClient, ProtocolError
from test_hostile import HI, Handler, Hostile

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
CEILING = 300 * MiB  # what any of these may cost; the bound is 700 MiB
PIECE = 1 * MiB


@pytest.fixture
def hostile(tcp_server: Callable[[Callable[..., object]], str]) -> Callable[[Handler], Hostile]:
    def start(handler: Handler) -> Hostile:
        server = Hostile(handler)
        server.url = tcp_server(server.serve)
        return server

    return start


@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def send_in_pieces(stream: anyio.abc.SocketStream, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), PIECE):
        await stream.send(view[start : start + PIECE])  # type: ignore[arg-type] # (sent as is)


def gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(PIECE)
    out = [packer.compress(zeros) for _ in range(size // PIECE)]
    return b"".join(out) + packer.flush()


def dense_chat(size: int) -> bytes:
    """A chat answer whose tool call's arguments are ``size`` bytes of empty arrays."""
    arrays = b"[" + b"[]," * (size // 3) + b"[]]"
    return (
        b'{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant",'
        b'"content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":%s}}}]},'
        b'"done":true}' % arrays
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(256 * MiB)  # a quarter of a MB on the wire, 4 times the limit


@pytest.fixture(scope="module")
def dense() -> bytes:
    return dense_chat(60 * MiB)  # under chat's 64 MiB body limit: the weighing refuses it


async def test_a_gzip_bomb_to_chat_stops_at_the_limit(
    hostile: Callable[[Handler], Hostile], bomb: bytes, traced: Callable[[], int]
) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        )
        await send_in_pieces(stream, bomb)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=30) as client:
        with pytest.raises(ProtocolError, match="longer than the limit"):
            await client.chat("m", messages=HI)
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


async def test_a_chunk_of_2_to_the_64_bytes_stops_at_the_limit(
    hostile: Callable[[Handler], Hostile], traced: Callable[[], int]
) -> None:
    piece = b"x" * PIECE

    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"
        )
        while True:  # until the client gives up and closes
            await stream.send(piece)

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=30) as client:
        with pytest.raises(ProtocolError, match="longer than the limit"):
            await client.chat("m", messages=HI)
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


async def test_dense_json_to_chat_is_refused_before_it_is_decoded(
    hostile: Callable[[Handler], Hostile], dense: bytes, traced: Callable[[], int]
) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(dense))
        await send_in_pieces(stream, dense)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=30) as client:
        with pytest.raises(ProtocolError, match="to decode"):
            await client.chat("m", messages=HI)
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


async def test_a_dense_stream_line_is_refused_before_it_is_decoded(
    hostile: Callable[[Handler], Hostile], traced: Callable[[], int]
) -> None:
    line = dense_chat(30 * MiB) + b"\n"  # under the 32 MiB line limit

    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(line))
        await send_in_pieces(stream, line)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=30) as client:
        with pytest.raises(ProtocolError, match="to decode"):
            async for _ in await client.chat("m", messages=HI, stream=True):
                pass
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


@pytest.mark.parametrize("endpoint", ["list", "ps", "show"])
async def test_an_endless_answer_to_list_ps_and_show_stops_at_their_limit(
    hostile: Callable[[Handler], Hostile], traced: Callable[[], int], endpoint: str
) -> None:
    piece = b" " * PIECE

    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            await stream.send(b"%x\r\n%s\r\n" % (len(piece), piece))

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=30) as client:
        with pytest.raises(ProtocolError, match="longer than the limit"):
            if endpoint == "show":
                await client.show("m")
            else:
                await getattr(client, endpoint)()
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


def embed_body(embeddings: bytes) -> bytes:
    return b'{"model":"m","embeddings":' + embeddings + b"}"


async def embed_answer(hostile: Callable[[Handler], Hostile], body: bytes, as_arrays: bool) -> None:
    async def handle(stream: anyio.abc.SocketStream, h: bytes, b: bytes, n: int) -> bool:
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        await send_in_pieces(stream, body)
        return True

    server = hostile(handle)
    async with AsyncClient(server.url, max_retries=0, timeout=60) as client:
        await client.embed("m", input="hi", as_arrays=as_arrays)


@pytest.mark.parametrize("as_arrays", [False, True])
async def test_one_huge_embed_vector_is_refused_as_it_grows(
    hostile: Callable[[Handler], Hostile], traced: Callable[[], int], as_arrays: bool
) -> None:
    tracemalloc.stop()  # (the payload is built untraced)
    vector = embed_body(b"[[" + b"0," * (100 * MiB) + b"0]]")  # 100 million floats: 3 GiB
    tracemalloc.start()
    with pytest.raises(ProtocolError, match="vector of the embeddings is longer than the limit"):
        await embed_answer(hostile, vector, as_arrays)
    peak = traced()
    print(f"peak {peak >> 20} MiB")
    assert peak < CEILING


async def test_millions_of_embed_vectors_are_refused_past_the_decode_budget(
    hostile: Callable[[Handler], Hostile],
) -> None:
    # 3 million one-float vectors, some 380 MiB as lists: refused after about 2 million.
    # Not traced (tracemalloc makes millions of small decodes too slow): the typed error is
    # the bound's witness.
    vectors = embed_body(b"[" + b"[0]," * 3_000_000 + b"[0]]")
    with pytest.raises(ProtocolError, match=r"embeddings .* would take more than the limit"):
        await embed_answer(hostile, vectors, as_arrays=False)
