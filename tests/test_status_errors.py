"""Typed status errors: one ResponseError subclass per status, the answer's headers, and the
429 that is not retried because it says a usage limit or quota is used up."""

from __future__ import annotations

import pickle
import sys

import httpx
import pytest

from conftest import FakeOllama, fixture_bytes
from ollama_anyio import (
    AsyncClient,
    BadGatewayError,
    BadRequestError,
    ForbiddenError,
    GatewayTimeoutError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ServerBusyError,
    UnauthorizedError,
    UsageLimitError,
)
from ollama_anyio._errors import is_usage_limit

BOTH_PATHS = True

STATUSES = [
    (400, BadRequestError),
    (401, UnauthorizedError),
    (403, ForbiddenError),
    (404, NotFoundError),
    (429, RateLimitError),
    (502, BadGatewayError),
    (503, ServerBusyError),
    (504, GatewayTimeoutError),
    (500, ResponseError),
    (499, ResponseError),
]


@pytest.mark.parametrize(("status", "cls"), STATUSES)
async def test_every_status_is_raised_as_its_class_and_still_a_response_error(
    fake: FakeOllama, status: int, cls: type[ResponseError]
) -> None:
    fake.json("GET", "/api/tags", {"error": "it went wrong"}, status=status)
    async with AsyncClient(**fake.options(max_retries=0)) as client:
        with pytest.raises(ResponseError) as info:
            await client.list()
    assert type(info.value) is cls
    assert (info.value.status_code, info.value.error) == (status, "it went wrong")
    assert str(info.value) == f"it went wrong (status code: {status})"  # as the official one


async def test_the_error_keeps_the_answers_headers(fake: FakeOllama) -> None:
    fake.routes[("GET", "/api/tags")] = lambda request: httpx.Response(
        503,
        json={"error": "server busy"},
        headers={"X-Request-Id": "abc123", "X-RateLimit-Remaining": "0"},
    )
    async with AsyncClient(**fake.options(max_retries=0)) as client:
        with pytest.raises(ServerBusyError) as info:
            await client.list()
    assert info.value.headers["x-request-id"] == "abc123"
    assert info.value.headers["X-RATELIMIT-REMAINING"] == "0"


async def test_model_not_found_names_the_model_and_hints_at_pulling(fake: FakeOllama) -> None:
    fake.json("POST", "/api/embed", fixture_bytes("error-404-embed.json"), status=404)
    async with AsyncClient(**fake.options()) as client:
        with pytest.raises(NotFoundError) as info:
            await client.embed("nomic-embed-text", "hi")
    assert info.value.model == "all-minilm"  # the model the fixture's message names
    assert info.value.hint is not None
    assert "pull" in info.value.hint
    if sys.version_info >= (3, 11):
        assert info.value.__notes__ == [info.value.hint]


async def test_unauthorized_keeps_the_sign_in_url(fake: FakeOllama) -> None:
    fake.json("POST", "/api/chat", fixture_bytes("error-401-unauthorized.json"), status=401)
    async with AsyncClient(**fake.options()) as client:
        with pytest.raises(UnauthorizedError) as info:
            await client.chat("gpt-oss:120b-cloud", [{"role": "user", "content": "hi"}])
    assert info.value.signin_url is not None
    assert info.value.signin_url.startswith("https://ollama.com/connect")
    assert info.value.hint is not None
    assert info.value.signin_url in info.value.hint


async def test_a_used_up_usage_limit_is_not_retried(fake: FakeOllama) -> None:
    message = "you (user) have reached your weekly usage limit, upgrade for higher limits"
    fake.json("POST", "/api/chat", {"error": message}, status=429)
    async with AsyncClient(**fake.options(max_retries=3)) as client:
        with pytest.raises(UsageLimitError) as info:
            await client.chat("m:cloud", [{"role": "user", "content": "hi"}])
    assert isinstance(info.value, RateLimitError)
    assert len(fake.requests) == 1


async def test_a_plain_rate_limit_is_retried(fake: FakeOllama) -> None:
    fake.json("POST", "/api/chat", {"error": "rate limit exceeded"}, status=429)
    async with AsyncClient(**fake.options(max_retries=2)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.chat("m", [{"role": "user", "content": "hi"}])
    assert type(info.value) is RateLimitError
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("message", "used_up"),
    [
        ("you have reached your weekly usage limit", True),
        ("quota exceeded for this month", True),
        ("Resource has been exhausted (e.g. check quota).", True),
        ("insufficient credits", True),
        ("daily limit reached", True),
        ("rate limit exceeded", False),
        ("too many requests, slow down", False),
        ("server busy, please try again.  maximum pending requests exceeded", False),
    ],
)
def test_which_429_messages_mean_a_used_up_limit(message: str, used_up: bool) -> None:
    assert is_usage_limit(message) is used_up


def test_a_status_error_pickles_with_its_class_and_headers() -> None:
    error = NotFoundError("model 'x' not found", 404, None, {"x-request-id": "r1"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is NotFoundError
    assert (copy.error, copy.status_code, dict(copy.headers)) == (
        "model 'x' not found",
        404,
        {"x-request-id": "r1"},
    )
