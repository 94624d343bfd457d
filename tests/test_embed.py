"""The incremental embed decoder: vectors decoded as they arrive, the rest decoded at the end."""

from __future__ import annotations

import array

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import fixture_bytes
from ollama_anyio import EmbedArraysResponse, EmbeddingsResponse, EmbedResponse
from ollama_anyio._embed import EmbedBodyDecoder

floats = msgspec.json.Decoder(list[float])
whole = msgspec.json.Decoder(EmbedResponse)

BODY = (
    b'{"model":"all-minilm","embeddings":[[0.1,-0.2,3e-05],[1.5, 2.5 ,-3],[]],'
    b'"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8,"later":[1,[2]]}'
)


def decode(data: bytes, cuts: list[int]) -> EmbedResponse:
    """Decode ``data`` fed in pieces cut at ``cuts``, as `AsyncClient.embed` does."""
    decoder = EmbedBodyDecoder(floats.decode)
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        decoder.feed(data[start:cut])
        start = cut
    rest, vectors = decoder.finish()
    response = whole.decode(rest)
    if vectors is not None:
        response.embeddings = vectors
    return response


def test_vectors_are_followed_and_the_rest_is_decoded_at_the_end() -> None:
    decoder = EmbedBodyDecoder(floats.decode)
    decoder.feed(BODY[:60])
    assert decoder.vectors == [[0.1, -0.2, 3e-05]]  # decoded before the body has all arrived
    decoder.feed(BODY[60:])
    rest, vectors = decoder.finish()
    assert vectors == [[0.1, -0.2, 3e-05], [1.5, 2.5, -3.0], []]
    expected = msgspec.json.decode(BODY)
    del expected["embeddings"]
    assert msgspec.json.decode(rest) == expected


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=30))
def test_any_chunking_gives_the_whole_body_decode(cuts: list[int]) -> None:
    assert decode(BODY, cuts) == whole.decode(BODY)


@pytest.mark.parametrize(
    "name", ["embed-response.json", "embed-multi-response.json", "embed-empty-response.json"]
)
def test_every_fixture_decodes_as_a_whole_decode_does(name: str) -> None:
    data = fixture_bytes(name)
    assert decode(data, list(range(0, len(data), 7))) == whole.decode(data)


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"m","embeddings":[]}',
        b'{ "embeddings" : [ [1] , [2] ] , "model" : "m" }',
        b'{"model":"embeddings","embeddings":[[1]]}',  # the key's text as a value first
        b'{"model":"m","x":{"embeddings":[[9]]},"embeddings":[[1]]}',  # a nested key first
        b'{"model":"m","embeddings":null}',  # not an array: decoded whole
        b'{"model":"m"}',  # no vectors at all
        b'{"model":"m","embeddings"',  # cut short in the key: decoded whole, and fails there
    ],
)
def test_unusual_bodies_decode_as_a_whole_decode_does(body: bytes) -> None:
    try:
        expected: EmbedResponse | type[Exception] = whole.decode(body)
    except msgspec.DecodeError:
        expected = msgspec.DecodeError
    for cuts in ([], list(range(len(body)))):
        if expected is msgspec.DecodeError:
            with pytest.raises(msgspec.DecodeError):
                decode(body, cuts)
        else:
            assert decode(body, cuts) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"embeddings":[[1],,[2]]}',
        b'{"embeddings":[[1],]}',
        b'{"embeddings":[[1][2]]}',
        b'{"embeddings":[1,2]}',
        b'{"embeddings":[[1,"x"]]}',
        b'{"embeddings":[[1],[2]',  # ends inside the array
    ],
)
def test_malformed_arrays_fail(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode(body, [])
    with pytest.raises(msgspec.DecodeError):
        decode(body, list(range(len(body))))


def test_long_vectors_are_abridged_in_reprs() -> None:
    response = EmbedResponse(model="m", embeddings=[[0.5] * 768] * 1000)
    text = repr(response)
    assert len(text) < 1000
    assert "[0.5, 0.5, 0.5, 0.5, ...(768 in all)]" in text
    assert text.endswith(", ...(1000 in all)])")
    short = EmbedResponse(model="m", embeddings=[[1.0, 2.0]])
    assert repr(short).endswith("embeddings=[[1.0, 2.0]])")
    arrays = EmbedArraysResponse(embeddings=[array.array("f", [1.0] * 5)])
    assert "array('f', [1.0, 1.0, 1.0, 1.0, ...(5 in all)])" in repr(arrays)
    assert repr(EmbeddingsResponse(embedding=[1.0])) == "EmbeddingsResponse(embedding=[1.0])"


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"m","x":"\xff","embeddings":[[1]]}',  # bytes that are not UTF-8, skipped
        b'{"embeddings":[[1]],"embeddings":[[2],[3]]}',  # the last member of a name wins
        b'{"embeddings":[[1]],"x":{"embeddings":[]},"embeddings":[]}',
        b'{"embeddings":[[1]],"x":"\\"embeddings\\":[]"}',  # the key's text, in a string
        b'{"embeddings":[[1]] "x":1}',  # no comma after the array
        b'{"embeddings":[[1]],,"x":1}',
        b'{"x":1,"embeddings":[[1]],}',
        b'{"embeddings":[[1]]}',
        b'{"x":1 , "embeddings":[[1]] }',
    ],
)
def test_what_json_allows_around_the_array_decodes_as_a_whole_decode_does(body: bytes) -> None:
    test_unusual_bodies_decode_as_a_whole_decode_does(body)
