"""Host parsing (the SPEC §7.2 table), environment precedence, headers and timeouts."""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_anyio import AsyncClient
from ollama_anyio._config import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    api_key_from_env,
    build_headers,
    default_timeout,
    host_from_env,
    is_ollama_com,
    parse_host,
    user_agent,
)
from ollama_anyio._errors import RequestError

V6 = "[0001:002:003:0004::1]"

# Every row of the SPEC §7.2 table, in its order.
HOST_TABLE = [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":56789", "http://127.0.0.1:56789"),
    ("1.2.3.4:56789", "http://1.2.3.4:56789"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://1.2.3.4:56789", "https://1.2.3.4:56789"),
    ("example.com", "http://example.com:11434"),
    ("example.com:56789", "http://example.com:56789"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:56789", "https://example.com:56789"),
    ("example.com/", "http://example.com:11434"),
    ("example.com:56789/", "http://example.com:56789"),
    ("example.com/path", "http://example.com:11434/path"),
    ("example.com:56789/path", "http://example.com:56789/path"),
    ("https://example.com:56789/path", "https://example.com:56789/path"),
    ("example.com:56789/path/", "http://example.com:56789/path"),
    ("example.com/a/b/", "http://example.com:11434/a/b"),
    ("http://example.com/api", "http://example.com:80/api"),
    (V6, f"http://{V6}:11434"),
    (f"{V6}:56789", f"http://{V6}:56789"),
    (f"http://{V6}", f"http://{V6}:80"),
    (f"https://{V6}", f"https://{V6}:443"),
    (f"https://{V6}:56789", f"https://{V6}:56789"),
    (f"{V6}/", f"http://{V6}:11434"),
    (f"{V6}:56789/", f"http://{V6}:56789"),
    (f"{V6}/path", f"http://{V6}:11434/path"),
    (f"{V6}:56789/path", f"http://{V6}:56789/path"),
    (f"https://{V6}:56789/path", f"https://{V6}:56789/path"),
    (f"{V6}:56789/path/", f"http://{V6}:56789/path"),
    ("[::1]", "http://[::1]:11434"),
    ("localhost", "http://localhost:11434"),
    ("0.0.0.0", "http://0.0.0.0:11434"),
    ("ollama.com", "http://ollama.com:11434"),
    ("https://ollama.com", "https://ollama.com:443"),
    ("http://localhost:11434/", "http://localhost:11434"),
    ("Example.COM", "http://example.com:11434"),
    ("HTTPS://example.com", "HTTPS://example.com:11434"),
    ("ftp://example.com", "ftp://example.com:11434"),
    ("http://user:pw@example.com", "http://example.com:80"),
    ("example.com?x=1", "http://example.com:11434"),
    ("example.com:0", "http://example.com:11434"),
]


@pytest.mark.parametrize(("host", "expected"), HOST_TABLE)
def test_parse_host_spec_table(host: str | None, expected: str) -> None:
    assert parse_host(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("  localhost:1234\n", "http://localhost:1234"),  # a stray newline in OLLAMA_HOST
        ("   ", "http://127.0.0.1:11434"),
        ("http://", "http://127.0.0.1:80"),
        ("[ABCD::1]", "http://[abcd::1]:11434"),
        ("example.com:", "http://example.com:11434"),
        ("example.com:00080", "http://example.com:80"),
        ("example.com:65535", "http://example.com:65535"),
        ("example.com/p#frag", "http://example.com:11434/p"),
        ("example.com#frag/x", "http://example.com:11434"),
        ("user@example.com/p@q", "http://example.com:11434/p@q"),
    ],
)
def test_parse_host_edges(host: str, expected: str) -> None:
    assert parse_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4:99999",
        "example.com:65536",
        "example.com:abc",
        "example.com:-1",
        "example.com:+80",
        "example.com:\u0661\u0662",  # Arabic-Indic digits
        "example.com:" + "9" * 5000,
        "::1",
        "1:2:3",
        "[::1",
        "[::1]x",
        "[1.2.3.4]",
        "[not-ipv6]:80",
        "://example.com",
        "1http://example.com",
        "exa mple.com",
        "example.com\n:80",
        "exa\x00mple.com",
        "exa[mple.com",
        "exa<mple>.com",
        "a\\b.com",
        "999.1.1.1",
    ],
)
def test_parse_host_rejects(host: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_host(host)
    assert repr(host) in str(info.value)
    assert isinstance(info.value, ValueError)


@given(st.text())
def test_parse_host_never_raises_anything_else(host: str) -> None:
    try:
        url = parse_host(host)
    except RequestError:
        return
    assert isinstance(url, str)
    # A base URL is itself a valid host string meaning the same server.
    assert parse_host(url) == url


@given(st.from_regex(r"\A([a-z]+://)?[^/?#]*(:[0-9]*)?(/.*)?\Z"))
def test_parse_host_url_shaped_text(host: str) -> None:
    try:
        assert parse_host(host) == parse_host(parse_host(host))
    except RequestError:
        pass


def test_host_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert host_from_env(None) == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "example.com:1234")
    assert host_from_env(None) == "http://example.com:1234"
    assert host_from_env("") == "http://example.com:1234"
    assert host_from_env("other:1") == "http://other:1"
    monkeypatch.setenv("OLLAMA_HOST", "")
    assert host_from_env(None) == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "::1")
    with pytest.raises(RequestError, match="::1"):
        host_from_env(None)


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    assert api_key_from_env(None) is None
    assert api_key_from_env("k") == "k"
    monkeypatch.setenv("OLLAMA_API_KEY", "")
    assert api_key_from_env(None) is None
    monkeypatch.setenv("OLLAMA_API_KEY", "env-key")
    assert api_key_from_env(None) == "env-key"
    assert api_key_from_env("arg-key") == "arg-key"
    assert api_key_from_env("") is None  # an explicit empty key opts out of the environment's


def test_user_agent() -> None:
    try:
        version = importlib.metadata.version("ollama-anyio")
    except importlib.metadata.PackageNotFoundError:
        version = "0.0.0"
    expected = (
        f"ollama-anyio/{version} ({platform.machine()} {platform.system().lower()}) "
        f"Python/{platform.python_version()}"
    )
    assert user_agent() == expected
    assert user_agent() is user_agent()  # cached


def test_user_agent_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    user_agent.cache_clear()
    try:
        assert user_agent().startswith("ollama-anyio/0.0.0 (")
    finally:
        user_agent.cache_clear()


def test_build_headers() -> None:
    fixed = {
        "content-type": "application/json",
        "accept": "application/json",
        "user-agent": user_agent(),
    }
    assert build_headers(None) == fixed
    assert build_headers({}) == fixed
    headers = build_headers(
        {
            "X-Custom": "1",
            "Authorization": "Bearer mine",
            "Content-Type": "text/plain",
            "ACCEPT": "text/html",
            "User-Agent": "me",
        }
    )
    assert headers == {"x-custom": "1", "authorization": "Bearer mine", **fixed}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ollama.com", True),
        ("https://ollama.com:443/api/web_search", True),
        ("https://www.ollama.com/api", True),
        ("https://OLLAMA.com", True),
        ("HTTPS://ollama.com", True),
        ("https://ollama.com./x", True),
        ("http://ollama.com", False),
        ("http://ollama.com:11434", False),
        ("https://evilollama.com", False),
        ("https://ollama.com.evil.net", False),
        ("https://evil.net/ollama.com", False),
        ("https://ollama.com@evil.net", False),
        ("https://[::1", False),
        ("ollama.com", False),
        ("", False),
    ],
)
def test_is_ollama_com(url: str, expected: bool) -> None:
    assert is_ollama_com(url) is expected


def test_default_timeout() -> None:
    assert DEFAULT_CONNECT_TIMEOUT == 10.0
    assert DEFAULT_READ_TIMEOUT == 600.0
    assert default_timeout() == httpx.Timeout(connect=10.0, read=600.0, write=600.0, pool=600.0)


@pytest.mark.parametrize(
    "headers",
    [{"x-a": "b\r\nInjected: 1"}, {"x-a": "line\nbreak"}, {"bad name": "v"}, {"x-a": "caf\u00e9"}],
)
def test_headers_that_could_split_a_request_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(RequestError):
        build_headers(headers)


def test_bytes_headers_are_accepted() -> None:
    headers: Any = {"X-Trace": b"abc"}  # httpx takes bytes too
    merged: dict[str, Any] = build_headers(headers)
    assert merged["x-trace"] == b"abc"


def test_an_api_key_with_a_line_break_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RequestError, match="API key"):
        api_key_from_env("key\r\nX-Injected: 1")
    monkeypatch.setenv("OLLAMA_API_KEY", "key\nX: 1")
    assert api_key_from_env(None) == "key\nX: 1"  # refused where it is sent, not here


@pytest.mark.parametrize("timeout", ["5", -1, float("nan"), True, (1, "x", None, None)])
def test_bad_timeouts_are_refused_before_any_request(timeout: object) -> None:
    with pytest.raises(RequestError, match="invalid timeout"):
        AsyncClient("127.0.0.1", timeout=timeout)
    with pytest.raises(RequestError, match="invalid timeout"):
        AsyncClient("127.0.0.1").with_options(timeout=timeout)


@pytest.mark.parametrize("timeout", [None, 0, 2.5, (1, 2, 3, 4), httpx.Timeout(5, connect=1)])
def test_good_timeouts_are_taken(timeout: object) -> None:
    AsyncClient("127.0.0.1", timeout=timeout).with_options(timeout=timeout)
