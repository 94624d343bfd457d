"""What a call's span and metrics say, read from its request body and its answer.

Names follow the OpenTelemetry GenAI semantic conventions (``semantic-conventions-genai``;
see docs/observability.md for the version). Pure: no OpenTelemetry import, no I/O.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any, cast

import msgspec

__all__ = [
    "INFERENCE",
    "PROVIDER",
    "error_type",
    "input_messages",
    "operation_of",
    "output_messages",
    "request_attributes",
    "response_attributes",
    "server_of",
    "system_instructions",
    "tool_definitions",
]

PROVIDER = "ollama"  # no well-known value for Ollama: a custom one, as the conventions allow

# The operation of each endpoint: the conventions' names where one applies (chat,
# text_completion, embeddings), else the endpoint's own name.
_OPERATIONS = {
    "/api/chat": "chat",
    "/api/generate": "text_completion",
    "/api/embed": "embeddings",
    "/api/embeddings": "embeddings",
    "/api/pull": "pull",
    "/api/push": "push",
    "/api/create": "create",
    "/api/delete": "delete",
    "/api/copy": "copy",
    "/api/show": "show",
    "/api/tags": "list",
    "/api/ps": "ps",
    "/api/version": "version",
    "/v1/systemone": "systemone",
    "/api/web_search": "web_search",
    "/api/web_fetch": "web_fetch",
}
INFERENCE = frozenset({"chat", "text_completion"})
# Options read into request attributes: Ollama's name, the conventions' attribute.
_PARAMETERS = (
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", int),
    ("num_predict", "gen_ai.request.max_tokens", int),
    ("seed", "gen_ai.request.seed", int),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
)


def operation_of(path: str) -> str:
    """The operation name of an endpoint path (``/api/chat`` -> ``chat``)."""
    operation = _OPERATIONS.get(path)
    if operation is not None:
        return operation
    if path.startswith("/api/blobs/"):
        return "blob"
    return path.rsplit("/", 1)[-1] or "request"


def server_of(url: str) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of a URL (the port the scheme implies if none)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def _get(value: Any, name: str) -> Any:
    """A field of a request or answer Struct, or a key of a mapping (plain dicts first: the
    Mapping ABC's check is the slowest of these)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return cast("dict[str, Any]", value).get(name)
    if isinstance(value, msgspec.Struct):
        return getattr(value, name, None)
    if isinstance(value, Mapping):
        return cast("Mapping[str, Any]", value).get(name)
    return getattr(value, name, None)


def _plain(value: Any, kind: type) -> Any:
    """``value`` if it is of ``kind`` (an int for an int, a number for a float), else None."""
    if isinstance(value, bool):
        return None
    if kind is float and isinstance(value, (int, float)):
        return float(value)
    if kind is int and isinstance(value, int):
        return value
    return None


def request_attributes(
    operation: str, body: Any, stream: bool
) -> tuple[str | None, dict[str, Any]]:
    """The request model and the request's attributes (model, parameters, stream, format)."""
    model = _get(body, "model")
    if not isinstance(model, str) or not model:
        model = _get(body, "source")  # copy names its source
    model = model if isinstance(model, str) and model else None
    attributes: dict[str, Any] = {}
    if model is not None:
        attributes["gen_ai.request.model"] = model
    options = _get(body, "options")
    if options is not None:
        for name, attribute, kind in _PARAMETERS:
            value = _plain(_get(options, name), kind)
            if value is not None:
                attributes[attribute] = value
        stop = _get(options, "stop")
        if isinstance(stop, (list, tuple)):
            sequences = [s for s in cast("list[object]", stop) if isinstance(s, str)]
            if sequences:
                attributes["gen_ai.request.stop_sequences"] = sequences
    if stream:
        attributes["gen_ai.request.stream"] = True
    if operation in INFERENCE:
        think = _get(body, "think")
        if isinstance(think, str) and think:  # "low", "medium", "high": sent as it is
            attributes["gen_ai.request.reasoning.level"] = think
        form = _get(body, "format")
        if form is not None and not isinstance(form, msgspec.UnsetType):
            attributes["gen_ai.output.type"] = "json"
    elif operation == "embeddings":
        dimensions = _plain(_get(body, "dimensions"), int)
        if dimensions is not None:
            attributes["gen_ai.embeddings.dimension.count"] = dimensions
    return model, attributes


def response_attributes(operation: str, answer: Any) -> dict[str, Any]:
    """The attributes an answer gives: response model, finish reasons, token counts."""
    attributes: dict[str, Any] = {}
    model = _get(answer, "model")
    if isinstance(model, str) and model:
        attributes["gen_ai.response.model"] = model
    if operation in INFERENCE or operation == "embeddings":
        prompt_tokens = _plain(_get(answer, "prompt_eval_count"), int)
        if prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = prompt_tokens
    if operation in INFERENCE:
        output_tokens = _plain(_get(answer, "eval_count"), int)
        if output_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = output_tokens
        reason = _get(answer, "done_reason")
        if isinstance(reason, str) and reason:
            attributes["gen_ai.response.finish_reasons"] = [reason]
    return attributes


def error_type(error: BaseException, cancelled: bool) -> str:
    """``error.type``: ``cancelled``, else the exception's class name (module-qualified
    outside ollama-anyio and the builtins)."""
    if cancelled:
        return "cancelled"
    kind = type(error)
    module = kind.__module__
    if module == "builtins" or module.startswith("ollama_anyio"):
        return kind.__qualname__
    return f"{module}.{kind.__qualname__}"


# Content, in the conventions' JSON form (gen_ai.input.messages, gen_ai.output.messages,
# gen_ai.system_instructions), recorded only when the user opts in.


def _parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    thinking = _get(message, "thinking")
    if isinstance(thinking, str) and thinking:
        parts.append({"type": "reasoning", "content": thinking})
    content = _get(message, "content")
    if _get(message, "role") == "tool":
        part: dict[str, Any] = {"type": "tool_call_response", "response": content or ""}
        call_id = _get(message, "tool_call_id")
        if isinstance(call_id, str):
            part["id"] = call_id
        return [part]
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    for call in _get(message, "tool_calls") or ():
        function = _get(call, "function")
        part = {
            "type": "tool_call",
            "name": _get(function, "name") or "",
            "arguments": _get(function, "arguments") or {},
        }
        call_id = _get(call, "id")
        if isinstance(call_id, str):
            part["id"] = call_id
        parts.append(part)
    return parts


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def input_messages(operation: str, body: Any) -> str | None:
    """``gen_ai.input.messages`` of a chat or generate request, as a JSON string."""
    if operation == "chat":
        messages = _get(body, "messages") or ()
        return _dumps([{"role": _get(m, "role") or "user", "parts": _parts(m)} for m in messages])
    if operation == "text_completion":
        prompt = _get(body, "prompt")
        if not isinstance(prompt, str):
            return None
        return _dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}])
    return None


def tool_definitions(operation: str, body: Any) -> str | None:
    """``gen_ai.tool.definitions``: the tools a chat request offers, flattened to
    ``{"type", "name", "description", "parameters"}`` as the conventions show them."""
    tools = _get(body, "tools") if operation == "chat" else None
    if not tools:
        return None
    definitions: list[dict[str, Any]] = []
    for tool in cast("list[Any]", tools):
        function = _get(tool, "function")
        definition: dict[str, Any] = {"type": _get(tool, "type") or "function"}
        for name in ("name", "description", "parameters"):
            value = _get(function, name)
            if value is not None:
                definition[name] = msgspec.to_builtins(value)
        definitions.append(definition)
    return _dumps(definitions)


def system_instructions(operation: str, body: Any) -> str | None:
    """``gen_ai.system_instructions``: a generate request's ``system`` (a chat's system
    messages are part of its input messages)."""
    system = _get(body, "system") if operation == "text_completion" else None
    if not isinstance(system, str) or not system:
        return None
    return _dumps([{"type": "text", "content": system}])


def output_messages(operation: str, answer: Any) -> str | None:
    """``gen_ai.output.messages`` of an answer (a whole one, or a stream's accumulation)."""
    if operation == "chat":
        message = _get(answer, "message")
        parts = _parts(message) if message is not None else []
    elif operation == "text_completion":
        content = _get(answer, "response")
        parts = [{"type": "text", "content": content}] if isinstance(content, str) else []
    else:
        return None
    reason = _get(answer, "done_reason")
    return _dumps(
        [
            {
                "role": "assistant",
                "parts": parts,
                "finish_reason": reason if isinstance(reason, str) and reason else "error",
            }
        ]
    )
