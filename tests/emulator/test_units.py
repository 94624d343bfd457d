"""The pure parts, without a server: names, decoding, parameters, engine, fault matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_anyio.testing import Fault, FaultKind, Faults
from ollama_anyio.testing._engine import float32, schema_value, split_tokens, tool_call_id
from ollama_anyio.testing._names import parse_name
from ollama_anyio.testing._params import parse_keep_alive
from ollama_anyio.testing._wire import ApiError, decode_body, dumps, utc_timestamp


@pytest.mark.parametrize(
    ("text", "display", "full"),
    [
        ("llama3.2", "llama3.2:latest", "registry.ollama.ai/library/llama3.2:latest"),
        ("mattw/pygmalion", "mattw/pygmalion:latest", "registry.ollama.ai/mattw/pygmalion:latest"),
        (
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        ),
        ("localhost:5000/ns/m:t", "localhost:5000/ns/m:t", "localhost:5000/ns/m:t"),
    ],
)
def test_names(text: str, display: str, full: str) -> None:
    name = parse_name(text)
    assert name is not None
    assert (name.display, name.full) == (display, full)


@pytest.mark.parametrize("text", ["", "a b", "a/b/c/d", ":tag", "-x", "x:"])
def test_invalid_names(text: str) -> None:
    assert parse_name(text) is None


def test_case_insensitive_identity() -> None:
    first, second = parse_name("Llama3.2"), parse_name("llama3.2:LATEST")
    assert first is not None
    assert second is not None
    assert first.key == second.key


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 300),
        (0, 0),
        (42.5, 42.5),
        (-1, -1),
        ("5m", 300),
        ("1h30m", 5400),
        ("300ms", 0.3),
        ("-1s", -1),
        ("0", 0),
    ],
)
def test_keep_alive(value: object, seconds: float) -> None:
    assert parse_keep_alive(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", 'time: missing unit in duration "5"'),
        ("abc", 'time: invalid duration "abc"'),
        ([1], "Unsupported type: '[]interface {}'"),
    ],
)
def test_keep_alive_errors(value: object, message: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_keep_alive(value)
    assert (info.value.status, info.value.message) == (400, message)


def test_decode_body_semantics() -> None:
    fields = {"model": "str", "stream": "bool"}
    body = b'{"Model":"a","model":"b","STREAM":null,"extra":1}'
    assert decode_body(body, "X", fields) == {"model": "b"}  # type: ignore[arg-type]
    with pytest.raises(ApiError, match=r"Go struct field X\.stream of type bool"):
        decode_body(b'{"stream":"yes"}', "X", fields)  # type: ignore[arg-type]


def test_dumps_is_go_compatible() -> None:
    assert dumps({"a": "<b>&\u2028", "é": [1, 2.5]}) == (
        '{"a":"\\u003cb\\u003e\\u0026\\u2028","é":[1,2.5]}'.encode()
    )


def test_timestamps() -> None:
    assert utc_timestamp(1_700_000_000_123_450_000) == "2023-11-14T22:13:20.12345Z"
    assert utc_timestamp(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


@given(st.text())
def test_split_tokens_round_trips(text: str) -> None:
    assert "".join(split_tokens(text)) == text


def test_engine_helpers() -> None:
    assert float32(0.1) == 0.1
    assert float32(1 / 3) == 0.33333334
    ident = tool_call_id("seed")
    assert ident.startswith("call_")
    assert len(ident) == 13
    assert ident == tool_call_id("seed")
    assert schema_value({"type": ["null", "integer"], "minimum": 5, "maximum": 5}, "s") == 5


def test_fault_matching() -> None:
    faults = Faults()
    faults.add(Fault.busy(times=2, path="/a"), Fault.busy(path="/b", nth=2), Fault.hang(times=None))
    assert [f.kind for f in faults.take("/a")] == [FaultKind.BUSY, FaultKind.HANG]
    assert [f.path for f in faults.take("/b")] == [None]
    assert [f.path for f in faults.take("/b")] == ["/b", None]
    assert [f.path for f in faults.take("/a")] == ["/a", None]
    assert faults.pending == [Fault.hang(times=None)]
    faults.clear()
    assert faults.take("/a") == []
