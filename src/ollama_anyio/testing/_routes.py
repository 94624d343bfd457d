"""The router: exact paths, methods, trailing-slash redirects, and the small fixed endpoints.

Like the server's Gin router it answers unknown paths with a plain-text 404, known paths with
a wrong method with a plain-text 405 and an ``Allow`` header, and ``/path/`` with a redirect
to ``/path``. Handler errors (:class:`ApiError`) become ``{"error": ...}`` responses here.
"""

from __future__ import annotations

from collections.abc import Callable

from ._context import Context
from ._inference import chat, embed, embeddings, generate
from ._manage import blob_head, blob_upload, copy, delete, ps, show, tags
from ._systemone import systemone
from ._transfer import create, pull, push
from ._wire import (
    ApiError,
    DeferredResponse,
    Response,
    StreamResponse,
    error_response,
    json_response,
)

__all__ = ["route"]

Handler = Callable[[Context, bytes], "Response | StreamResponse | DeferredResponse"]

_BLOBS = "/api/blobs/"
_RECOMMENDATIONS = {
    "recommendations": [
        {
            "model": "qwen3:latest",
            "description": "Reasoning and tool use, runs on most laptops",
            "context_length": 40960,
            "vram_bytes": 6_200_000_000,
        },
        {
            "model": "llama3.2:latest",
            "description": "Small and fast general chat model",
            "context_length": 131072,
            "vram_bytes": 3_400_000_000,
        },
    ]
}


def _root(ctx: Context, body: bytes) -> Response:
    return Response(200, b"Ollama is running", "text/plain; charset=utf-8")


def _version(ctx: Context, body: bytes) -> Response:
    return json_response({"version": ctx.version})


def _status(ctx: Context, body: bytes) -> Response:
    return json_response({"cloud": {"disabled": False, "source": "none"}})


def _recommendations(ctx: Context, body: bytes) -> Response:
    return json_response(_RECOMMENDATIONS)


ROUTES: dict[str, dict[str, Handler]] = {
    "/": {"GET": _root, "HEAD": _root},
    "/api/version": {"GET": _version, "HEAD": _version},
    "/api/status": {"GET": _status},
    "/api/tags": {"GET": tags, "HEAD": tags},
    "/api/ps": {"GET": ps},
    "/api/show": {"POST": show},
    "/api/generate": {"POST": generate},
    "/api/chat": {"POST": chat},
    "/api/embed": {"POST": embed},
    "/api/embeddings": {"POST": embeddings},
    "/api/copy": {"POST": copy},
    "/api/delete": {"DELETE": delete},
    "/api/pull": {"POST": pull},
    "/api/push": {"POST": push},
    "/api/create": {"POST": create},
    "/api/experimental/model-recommendations": {"GET": _recommendations},
    "/v1/systemone": {"POST": systemone},
}


def _handlers(path: str) -> dict[str, Handler] | None:
    if path.startswith(_BLOBS) and "/" not in path[len(_BLOBS) :] and len(path) > len(_BLOBS):
        digest = path[len(_BLOBS) :]
        return {
            "HEAD": lambda ctx, body: blob_head(ctx, digest),
            "POST": lambda ctx, body: blob_upload(ctx, digest, body),
        }
    return ROUTES.get(path)


def _redirect(method: str, location: str) -> Response:
    headers = [("Location", location)]
    if method == "GET":
        body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
        return Response(301, body, "text/html; charset=utf-8", headers)
    return Response(307, b"", None, headers)


def route(
    ctx: Context, method: str, target: str, body: bytes
) -> Response | StreamResponse | DeferredResponse:
    """Answer one request.

    Args:
        ctx: the emulator state for this request.
        method: the HTTP method, upper case.
        target: the request target (path and optional query string).
        body: the request body.
    """
    path, _, query = target.partition("?")
    handlers = _handlers(path)
    if handlers is None:
        stripped = path.rstrip("/")
        if path.endswith("/") and stripped and _handlers(stripped) is not None:
            return _redirect(method, stripped + (f"?{query}" if query else ""))
        return Response(404, b"404 page not found", "text/plain")
    handler = handlers.get(method)
    if handler is None:
        allow = ", ".join(handlers)
        return Response(405, b"405 method not allowed", "text/plain", [("Allow", allow)])
    try:
        return handler(ctx, body)
    except ApiError as exc:
        return error_response(exc.status, exc.message, charset=exc.charset)
