"""Handlers of ``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``.

A handler validates the request in the server's order (name, shortcuts, capabilities, options),
asks the engine for a reply, and turns it into chunks shaped as the SPEC shows: ``model`` echoed
as sent, ``created_at`` in UTC, text on every chunk, metrics and ``done_reason`` only on the
final one. Non-streamed answers are the aggregation of the same chunks.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._context import Context
from ._engine import (
    Embedded,
    Job,
    Reply,
    default_reply,
    embedding,
    embedding_json,
    logprob_entry,
    normalise,
    split_tokens,
    token_id,
    tool_call_id,
)
from ._models import Message, Model
from ._names import parse_name
from ._params import (
    check_format,
    check_images,
    parse_keep_alive,
    parse_options,
    parse_think,
)
from ._runner import Runner, answer, embed_answer
from ._wire import (
    JSON_CT,
    ApiError,
    DeferredResponse,
    FieldKind,
    Response,
    StreamResponse,
    decode_body,
    dumps,
    json_objects,
    json_response,
    json_str_list,
    lower_keys,
    utc_timestamp,
)

__all__ = ["chat", "embed", "embeddings", "generate"]

_COMMON: dict[str, FieldKind] = {
    "model": "str",
    "stream": "bool",
    "format": "any",
    "keep_alive": "any",
    "options": "object",
    "think": "any",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
    "_debug_render_only": "bool",
}
_GENERATE: dict[str, FieldKind] = {
    **_COMMON,
    "prompt": "str",
    "suffix": "str",
    "system": "str",
    "template": "str",
    "context": "intlist",
    "raw": "bool",
    "images": "strlist",
}
_CHAT: dict[str, FieldKind] = {**_COMMON, "messages": "list", "tools": "list"}
_MESSAGE: dict[str, FieldKind] = {
    "role": "str",
    "content": "str",
    "thinking": "str",
    "images": "strlist",
    "tool_calls": "list",
    "tool_name": "str",
    "tool_call_id": "str",
}
_METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _find(ctx: Context, text: str, not_found: str) -> Model:
    name = parse_name(text)
    model = ctx.store.get(name) if name is not None else None
    if model is None:
        raise ApiError(404, not_found)
    return model


def _shortcut(sent: str, chat: bool, reason: str) -> Response:
    body: dict[str, Any] = {"model": sent, "created_at": utc_timestamp()}
    if chat:
        body["message"] = {"role": "assistant", "content": ""}
    else:
        body["response"] = ""
    body.update(done=True, done_reason=reason)
    return json_response(body)


def _check_capabilities(model: Model, sent: str, task: str, think: Any, tools: bool) -> None:
    caps = model.capabilities
    if "completion" not in caps:
        raise ApiError(400, f'"{sent}" does not support {task}')
    if tools and "tools" not in caps:
        raise ApiError(400, f"{model.name.full} does not support tools")
    if think not in (None, False) and "thinking" not in caps:
        raise ApiError(400, f'"{sent}" does not support thinking')


def _check_logprobs(req: Mapping[str, Any]) -> int:
    top = int(req.get("top_logprobs", 0))
    if not 0 <= top <= 20:
        raise ApiError(400, "top_logprobs must be between 0 and 20")
    return top if req.get("logprobs") else 0


@dataclass
class _Run:
    """One inference: what to emit and how to report it."""

    sent: str
    chat: bool
    reply: Reply
    prompt_tokens: list[str]
    logprobs: bool
    top_logprobs: int
    num_predict: int
    stop: list[str]
    warm: bool
    load_seconds: float
    raw: bool = False
    pieces: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    done_reason: str = "stop"
    # end the stream as newer runners do: done_reason and metrics, "done": false (SPEC 9.2)
    done_reason_only: bool = False

    def plan(self) -> None:
        """Split the reply into pieces, honouring ``stop`` and ``num_predict``."""
        content = self.reply.content
        for stop in self.stop:
            if stop and stop in content:
                content = content[: content.index(stop)]
        pieces = [("thinking", p) for p in split_tokens(self.reply.thinking)]
        pieces += [("content", p) for p in split_tokens(content)]
        if 0 <= self.num_predict < len(pieces):
            pieces = pieces[: self.num_predict]
            self.done_reason = "length"
        self.pieces = pieces
        if self.reply.done_reason:
            self.done_reason = self.reply.done_reason

    def metrics(self) -> dict[str, int]:
        """Deterministic timings derived from the token counts (nanoseconds)."""
        evals = len(self.pieces) + len(self.reply.tool_calls) + 1
        load = 1_184_250 if self.warm else 512_804_917
        load += int(self.load_seconds * 1e9)
        prompt = len(self.prompt_tokens)
        values = {
            "load_duration": load,
            "prompt_eval_count": prompt,
            "prompt_eval_duration": prompt * 1_532_000,
            "eval_count": evals,
            "eval_duration": evals * 11_845_000,
        }
        total = load + values["prompt_eval_duration"] + values["eval_duration"] + 2_310_458
        return {key: v for key, v in {"total_duration": total, **values}.items() if v}

    def chunk(self, text: str = "", thinking: str = "", **extra: Any) -> dict[str, Any]:
        """One response object with the always-present fields filled."""
        body: dict[str, Any] = {"model": self.sent, "created_at": utc_timestamp()}
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            if "tool_calls" in extra:
                message["tool_calls"] = extra.pop("tool_calls")
            body["message"] = message
        else:
            body["response"] = text
            if thinking:
                body["thinking"] = thinking
        body["done"] = False
        body.update(extra)
        return body

    def chunks(self) -> Iterator[dict[str, Any]]:
        """The stream, produced lazily so each ``created_at`` is taken at send time."""
        for kind, piece in self.pieces:
            extra: dict[str, Any] = {}
            if self.logprobs and kind == "content":
                extra["logprobs"] = [logprob_entry(piece, self.top_logprobs)]
            if kind == "thinking":
                yield self.chunk(thinking=piece, **extra)
            else:
                yield self.chunk(piece, **extra)
        calls = [
            {
                "id": tool_call_id(f"{self.sent}/{index}/{call.name}/{dict(call.arguments)}"),
                "function": {"index": index, "name": call.name, "arguments": dict(call.arguments)},
            }
            for index, call in enumerate(self.reply.calls())
        ]
        if self.chat:
            for call in calls:
                yield self.chunk(tool_calls=[call])
        final = self.chunk()
        final["done"] = not self.done_reason_only
        final["done_reason"] = self.done_reason
        if not self.chat and not self.raw:
            text = [piece for kind, piece in self.pieces if kind == "content"]
            final["context"] = [token_id(t) for t in [*self.prompt_tokens, *text]]
        if not self.chat and calls:
            final["tool_calls"] = calls
        final.update(self.metrics())
        yield final


def _aggregate(chunks: Sequence[dict[str, Any]], chat: bool) -> dict[str, Any]:
    """Fold a chunk sequence into the single non-streamed object (SPEC 1.5)."""
    result = dict(chunks[-1])
    logprobs = [entry for c in chunks for entry in c.get("logprobs", ())]
    if chat:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        thinking = "".join(c["message"].get("thinking", "") for c in chunks)
        message["content"] = "".join(c["message"]["content"] for c in chunks)
        if thinking:
            message["thinking"] = thinking
        calls = [call for c in chunks for call in c["message"].get("tool_calls", ())]
        if calls:
            message["tool_calls"] = calls
        result["message"] = message
    else:
        result["response"] = "".join(c["response"] for c in chunks)
        thinking = "".join(c.get("thinking", "") for c in chunks)
        if thinking:
            result["thinking"] = thinking
    if logprobs:
        result["logprobs"] = logprobs
    return result


def _answer(run: _Run, stream: bool) -> Response | StreamResponse:
    run.plan()
    if stream:
        return StreamResponse(dumps(chunk) + b"\n" for chunk in run.chunks())
    return json_response(_aggregate(list(run.chunks()), run.chat))


def _scripted(ctx: Context, request: dict[str, Any]) -> Reply | None:
    source = ctx.replies.pop()
    if source is None:
        return None
    if callable(source):
        source = source(request)
    return Reply(content=source) if isinstance(source, str) else source


def _runner(ctx: Context, model: Model) -> Runner | None:
    """The engine serving ``model``, unless a scripted reply is queued (scripts come first)."""
    return None if len(ctx.replies) else ctx.engines.get(model.name.key)


# More characters than any token but a run of whitespace: how much of a prompt's end is split.
_CHARS_PER_TOKEN = 64


def _window(text: str, options: dict[str, Any], model: Model) -> list[str]:
    """The tokens of ``text`` that fit the context window (``num_ctx``, at most the model's).

    Ollama truncates a prompt that does not fit, keeping its end; only the end is split, so a
    huge prompt costs no more than the window (a 60 MiB one took 5.6 GB and 80 s).
    """
    size = max(1, min(int(options.get("num_ctx", 4096)), model.context_length))
    return split_tokens(text[-size * _CHARS_PER_TOKEN :])[-size:]


def _prepare(
    ctx: Context, req: dict[str, Any], model: Model, keep_alive: float
) -> tuple[dict[str, Any], bool]:
    options = {**model.parameters, **parse_options(req.get("options"))}
    check_format(req.get("format"))
    warm = ctx.store.load(model, keep_alive, int(options.get("num_ctx", 4096)), _now())
    return options, warm


def generate(ctx: Context, body: bytes) -> Response | StreamResponse | DeferredResponse:
    """``POST /api/generate``."""
    req = decode_body(body, "GenerateRequest", _GENERATE)
    sent = req.get("model", "")
    keep_alive = parse_keep_alive(req.get("keep_alive"))
    think = parse_think(req.get("think"))
    model = _find(ctx, sent, f"model '{sent}' not found")
    if req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
        raise ApiError(400, "raw mode does not support template, system, or context")
    top = _check_logprobs(req)
    check_images(req.get("images"))
    prompt = req.get("prompt", "")
    if not prompt and keep_alive == 0:
        ctx.store.unload(model.name)
        return _shortcut(sent, False, "unload")
    _check_capabilities(model, sent, "generate", think, False)
    if req.get("suffix") and "insert" not in model.capabilities:
        raise ApiError(400, f"{model.name.full} does not support insert")
    options, warm = _prepare(ctx, req, model, keep_alive)
    if not prompt:
        return _shortcut(sent, False, "load")
    runner = _runner(ctx, model)
    if runner is not None:
        job = Job(
            chat=False,
            prompt=prompt,
            system=req.get("system", model.system),
            raw=bool(req.get("raw")),
            context=req.get("context", ()),
            options=options,
            format=req.get("format"),
        )
        return answer(runner, job, sent=sent, stream=req.get("stream", True), aggregate=_aggregate)
    think = model.thinking_level(think)
    thinks = bool(think) if think is not None else "thinking" in model.capabilities
    reply = _scripted(ctx, req) or default_reply(prompt, think=thinks, fmt=req.get("format"))
    if not thinks:
        reply = Reply(reply.content, "", reply.tool_calls, reply.done_reason)
    elif isinstance(think, str) and model.thinking_values and reply.thinking:
        reply = Reply(
            reply.content, f"({think}) {reply.thinking}", reply.tool_calls, reply.done_reason
        )
    system = req.get("system", model.system)
    run = _Run(
        sent=sent,
        chat=False,
        reply=reply,
        prompt_tokens=_window(system + prompt, options, model) + ["<eot>"] * 4,
        logprobs=bool(req.get("logprobs")),
        top_logprobs=top,
        num_predict=int(options.get("num_predict", -1)),
        stop=list(options.get("stop", [])),
        warm=warm,
        load_seconds=ctx.load_seconds,
        raw=bool(req.get("raw")),
        done_reason_only=ctx.done_reason_only and req.get("stream", True),
    )
    return _answer(run, req.get("stream", True))


def _messages(raw: list[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            kind = "string" if isinstance(item, str) else "number"
            raise ApiError(
                400,
                f"json: cannot unmarshal {kind} into Go struct field "
                "ChatRequest.messages of type api.Message",
            )
        message = decode_body(dumps(item), "ChatRequest.messages", _MESSAGE, required=False)
        message["role"] = str(message.get("role", "")).lower()
        check_images(message.get("images"))
        messages.append(message)
    return messages


def chat(ctx: Context, body: bytes) -> Response | StreamResponse | DeferredResponse:
    """``POST /api/chat``."""
    req = decode_body(body, "ChatRequest", _CHAT)
    sent = req.get("model", "")
    if not sent:
        raise ApiError(400, "model is required")
    keep_alive = parse_keep_alive(req.get("keep_alive"))
    think = parse_think(req.get("think"))
    messages = _messages(req.get("messages", []))
    tools = [lower_keys(t, ("type", "function")) for t in json_objects(req.get("tools", []))]
    model = _find(ctx, sent, f"model '{sent}' not found")
    top = _check_logprobs(req)
    if not messages and keep_alive == 0:
        ctx.store.unload(model.name)
        return _shortcut(sent, True, "unload")
    _check_capabilities(model, sent, "chat", think, bool(tools))
    options, warm = _prepare(ctx, req, model, keep_alive)
    if not messages:
        return _shortcut(sent, True, "load")
    history: list[Message | dict[str, Any]] = [*model.messages, *messages]
    if model.system and messages[0]["role"] != "system":
        history.insert(0, Message(role="system", content=model.system))
    runner = _runner(ctx, model)
    if runner is not None:
        turns = [{"role": m["role"], "content": str(m.get("content", ""))} for m in history]
        job = Job(chat=True, messages=turns, options=options, format=req.get("format"))
        return answer(runner, job, sent=sent, stream=req.get("stream", True), aggregate=_aggregate)
    results: list[str] = []
    for message in reversed(history):
        if message["role"] != "tool":
            break
        results.insert(0, str(message.get("content", "")))
    users = [m for m in history if m["role"] == "user"]
    prompt = str(users[-1].get("content", "")) if users else ""
    think = model.thinking_level(think)
    thinks = bool(think) if think is not None else "thinking" in model.capabilities
    reply = _scripted(ctx, req) or default_reply(
        prompt, think=thinks, fmt=req.get("format"), tools=tools, tool_results=results
    )
    if not thinks:
        reply = Reply(reply.content, "", reply.tool_calls, reply.done_reason)
    elif isinstance(think, str) and model.thinking_values and reply.thinking:
        reply = Reply(
            reply.content, f"({think}) {reply.thinking}", reply.tool_calls, reply.done_reason
        )
    tokens = [
        p for m in history for p in ["<msg>", *_window(str(m.get("content", "")), options, model)]
    ]
    tokens = tokens[-max(1, min(int(options.get("num_ctx", 4096)), model.context_length)) :]
    run = _Run(
        sent=sent,
        chat=True,
        reply=reply,
        prompt_tokens=tokens + ["<eot>"] * 4,
        logprobs=bool(req.get("logprobs")),
        top_logprobs=top,
        num_predict=int(options.get("num_predict", -1)),
        stop=list(options.get("stop", [])),
        warm=warm,
        load_seconds=ctx.load_seconds,
        done_reason_only=ctx.done_reason_only and req.get("stream", True),
    )
    return _answer(run, req.get("stream", True))


def embed(ctx: Context, body: bytes) -> Response | DeferredResponse:
    """``POST /api/embed``: L2-normalised float32 vectors, one per input."""
    fields: dict[str, FieldKind] = {
        "model": "str",
        "input": "any",
        "truncate": "bool",
        "dimensions": "int",
        "keep_alive": "any",
        "options": "object",
    }
    req = decode_body(body, "EmbedRequest", fields)
    sent = req.get("model", "")
    if not sent:
        raise ApiError(404, "model '' not found")
    keep_alive = parse_keep_alive(req.get("keep_alive"))
    raw_input = req.get("input", [])
    inputs = [raw_input] if isinstance(raw_input, str) else json_str_list(raw_input)
    if inputs is None:
        raise ApiError(400, "invalid input type")
    model = _find(ctx, sent, f'model "{sent}" not found, try pulling it first')
    options = {**model.parameters, **parse_options(req.get("options"))}
    context = min(int(options.get("num_ctx", model.context_length)), model.context_length)
    warm = ctx.store.load(model, keep_alive, context, _now())
    inputs = [text for text in inputs if text]
    if not inputs:
        return json_response({"model": sent, "embeddings": []})
    runner = ctx.engines.get(model.name.key)
    if runner is not None:

        def embed_body(result: Embedded, total: int) -> dict[str, Any]:
            return {
                "model": sent,
                "embeddings": result.vectors,
                "total_duration": total,
                "load_duration": result.load_duration,
                "prompt_eval_count": result.prompt_eval_count,
            }

        truncate = req.get("truncate") is not False
        dims = int(req.get("dimensions", 0))
        return embed_answer(runner, inputs, body=embed_body, truncate=truncate, dimensions=dims)
    vectors: list[bytes] = []
    count = 0
    dims = int(req.get("dimensions", 0))
    for text in inputs:
        # Only what can fit is split (a run of whitespace aside, a token is shorter than
        # _CHARS_PER_TOKEN): a 60 MiB input cost 2.5 GB.
        start = text[: (context + 1) * _CHARS_PER_TOKEN]
        tokens = split_tokens(start)
        if len(tokens) > context or len(start) < len(text):
            if req.get("truncate") is False:
                raise ApiError(400, "the input length exceeds the context length")
            text = "".join(tokens[:context])
        count += min(len(tokens), context)
        if 0 < dims < model.embedding_length:
            vector = embedding(text, model.name.key, model.embedding_length)
            vectors.append(dumps(normalise(vector[:dims])))
        else:  # joined from pre-encoded text: a bulk request costs the emulator little
            vectors.append(embedding_json(text, model.name.key, model.embedding_length))
    load = (1_019_500 if warm else 498_112_375) + int(ctx.load_seconds * 1e9)
    head = dumps(
        {
            "model": sent,
            "embeddings": None,
            "total_duration": load + 13_124_417 * len(vectors),
            "load_duration": load,
            "prompt_eval_count": count,
        }
    )
    # Only the key can read so: a quote inside the model name is escaped.
    body = head.replace(b'"embeddings":null', b'"embeddings":[' + b",".join(vectors) + b"]", 1)
    return Response(200, body, JSON_CT)


def embeddings(ctx: Context, body: bytes) -> Response | DeferredResponse:
    """``POST /api/embeddings`` (legacy): one raw float64 vector, no metrics."""
    fields: dict[str, FieldKind] = {
        "model": "str",
        "prompt": "str",
        "keep_alive": "any",
        "options": "object",
    }
    req = decode_body(body, "EmbeddingRequest", fields)
    sent = req.get("model", "")
    if not sent:
        raise ApiError(400, "model is required")
    keep_alive = parse_keep_alive(req.get("keep_alive"))
    model = _find(ctx, sent, f'model "{sent}" not found, try pulling it first')
    parse_options(req.get("options"))
    ctx.store.load(model, keep_alive, model.context_length, _now())
    prompt = req.get("prompt", "")
    runner = ctx.engines.get(model.name.key)
    if runner is not None and prompt:

        def legacy_body(result: Embedded, total: int) -> dict[str, Any]:
            return {"embedding": result.vectors[0]}

        return embed_answer(runner, [prompt], body=legacy_body, normalize=False)
    vector = embedding(prompt, model.name.key, model.embedding_length, normalize=False)
    return json_response({"embedding": vector if prompt else []})
