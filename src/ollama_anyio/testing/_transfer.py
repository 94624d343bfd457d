"""Handlers with progress streams: ``/api/pull``, ``/api/push`` and ``/api/create``.

Requests are validated before anything is streamed (so errors keep their status); the job
itself is a generator of progress events, and its effect on the store happens when the stream
reaches ``writing manifest``, so a client that disconnects early leaves the store unchanged.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterator
from typing import Any

from ._context import Context
from ._models import Layer, Message, Model, catalog_model, sha256_hex
from ._names import ModelName, parse_name
from ._wire import (
    ApiError,
    FieldKind,
    Response,
    StreamResponse,
    decode_body,
    dumps,
    error_response,
    json_objects,
    json_response,
    json_str_list,
)

__all__ = ["create", "pull", "push"]

Events = Iterator[dict[str, Any]]
_FRACTIONS = (0.0001, 0.01, 0.065, 0.2, 0.4, 0.64, 0.86, 1.0)
_ZEROS = "0" * 19
_MANIFESTS = "/usr/share/ollama/.ollama/models/manifests"
_QUANTIZE = {"q8_0": "Q8_0", "q4_k_m": "Q4_K_M", "q4_k_s": "Q4_K_S"}


def _answer(events: Events, stream: bool) -> Response | StreamResponse:
    if stream:
        return StreamResponse(dumps(event) + b"\n" for event in events)
    last: dict[str, Any] = {}
    for event in events:
        last = event
    if "error" in last:
        return error_response(500, last["error"], charset=False)
    return json_response(last, charset=False)


def _transfer(verb: str, layer: Layer, present: bool) -> Events:
    status = f"{verb} {layer.digest[7:19]}"
    if present or layer.size < 1_000_000:
        yield {
            "status": status,
            "digest": layer.digest,
            "total": layer.size,
            "completed": layer.size,
        }
        return
    yield {"status": status, "digest": layer.digest, "total": layer.size}
    for fraction in _FRACTIONS:
        completed = int(layer.size * fraction)
        yield {
            "status": status,
            "digest": layer.digest,
            "total": layer.size,
            "completed": completed,
        }


def _pull_events(ctx: Context, model: Model | None, *, finish: bool = True) -> Events:
    yield {"status": "pulling manifest"}
    if model is None:
        yield {"error": "pull model manifest: file does not exist"}
        return
    for layer in model.layers:
        yield from _transfer("pulling", layer, ctx.store.has_blob(layer.digest))
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    model.modified_at = _dt.datetime.now(_dt.timezone.utc)
    ctx.store.add(model)
    if finish:
        yield {"status": "success"}


def _name_field(req: dict[str, Any]) -> str:
    return str(req.get("model") or req.get("name") or "")


def pull(ctx: Context, body: bytes) -> Response | StreamResponse:
    """``POST /api/pull``: download a model of the built-in catalogue."""
    fields: dict[str, FieldKind] = {
        "model": "str",
        "name": "str",
        "insecure": "bool",
        "stream": "bool",
        "username": "str",
        "password": "str",
    }
    req = decode_body(body, "PullRequest", fields)
    name = parse_name(_name_field(req))
    if name is None:
        raise ApiError(400, "invalid model name")
    return _answer(_pull_events(ctx, catalog_model(name)), req.get("stream", True))


def _push_events(ctx: Context, name: ModelName) -> Events:
    yield {"status": "retrieving manifest"}
    model = ctx.store.get(name)
    if model is None:
        yield {"status": "couldn't retrieve manifest"}
        path = f"{_MANIFESTS}/{name.host}/{name.namespace}/{name.model}/{name.tag}"
        yield {"error": f"open {path}: no such file or directory"}
        return
    for layer in model.layers:
        yield from _transfer("pushing", layer, False)
    yield {"status": "pushing manifest"}
    yield {"status": "success"}


def push(ctx: Context, body: bytes) -> Response | StreamResponse:
    """``POST /api/push``: upload a local model (always accepted by the emulated registry)."""
    fields: dict[str, FieldKind] = {
        "model": "str",
        "name": "str",
        "insecure": "bool",
        "stream": "bool",
        "username": "str",
        "password": "str",
    }
    req = decode_body(body, "PushRequest", fields)
    sent = _name_field(req)
    if not sent:
        raise ApiError(400, "model is required")
    name = parse_name(sent)
    if name is None:
        raise ApiError(400, "invalid model name")
    return _answer(_push_events(ctx, name), req.get("stream", True))


_CREATE: dict[str, FieldKind] = {
    "model": "str",
    "name": "str",
    "from": "str",
    "files": "strmap",
    "adapters": "strmap",
    "template": "str",
    "license": "any",
    "system": "str",
    "parameters": "object",
    "messages": "list",
    "quantize": "str",
    "quantization": "str",
    "stream": "bool",
    "renderer": "str",
    "parser": "str",
    "requires": "str",
    "remote_host": "str",
    "info": "object",
}


def _new_layers(req: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, content) of the layers a create request adds, in manifest order."""
    layers: list[tuple[str, str]] = []
    if "template" in req:
        layers.append(("template", req["template"]))
    if "system" in req:
        layers.append(("system", req["system"]))
    for text in _licenses(req):
        layers.append(("license", text))
    if "parameters" in req:
        layers.append(("params", dumps(req["parameters"]).decode()))
    if "messages" in req:
        layers.append(("messages", dumps(req["messages"]).decode()))
    return layers


def _licenses(req: dict[str, Any]) -> list[str]:
    value = req.get("license")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    texts = json_str_list(value)
    if texts is not None:
        return texts
    raise ApiError(400, "json: cannot unmarshal license into string or []string")


def _from_files(ctx: Context, name: ModelName, req: dict[str, Any], quant: str | None) -> Model:
    files: dict[str, str] = req["files"]
    size = 0
    for digest in files.values():
        data = ctx.store.blob(digest)
        if data is None and not ctx.store.has_blob(digest):
            raise ApiError(400, f"blob {digest} not found")
        size += len(data or b"")
    weights = next(iter(files.values()))
    safetensors = any(f.endswith(".safetensors") for f in files)
    if safetensors:
        weights = "sha256:" + sha256_hex(f"converted/{sorted(files.values())}")
    return Model(
        name=name,
        family="llama",
        families=["llama"],
        parameter_size=f"{max(size, 1) / 1e6:.2f}M",
        quantization_level=quant or "F16",
        capabilities=("completion",),
        context_length=8192,
        embedding_length=4096,
        layers=(Layer("model", weights, max(size, 1)),),
        format="safetensors" if safetensors else "gguf",
    )


def _create_events(ctx: Context, req: dict[str, Any], new: Model, base: Model | None) -> Events:
    quant = new.quantization_level if req.get("quantize") or req.get("quantization") else None
    if base is None:
        files = req["files"]
        if new.format == "safetensors":
            yield {"status": "converting model"}
            yield {"status": f"creating new layer {new.layers[0].digest}"}
            if "tokenizer_config.json" in files:
                yield {"status": "using autodetected template llama3-instruct"}
        else:
            total = new.layers[0].size
            yield {"status": "parsing GGUF"}
            for fraction in (0.25, 0.5, 1.0):
                completed = int(total * fraction)
                yield {
                    "status": "validating GGUF model",
                    "digest": _ZEROS,
                    "total": total,
                    "completed": completed,
                }
    if quant:
        total = new.size
        source = base.quantization_level if base else "F16"
        for fraction in (0.25, 0.75, 1.0):
            completed = int(total * fraction)
            yield {
                "status": f"quantizing {source} model to {quant}",
                "digest": _ZEROS,
                "total": total,
                "completed": completed,
            }
        yield {"status": "verifying conversion"}
    for layer in new.layers:
        fresh = layer.kind in ("template", "system", "license", "params", "messages") and (
            base is None or layer not in base.layers
        )
        if base is None and layer.kind == "model" and new.format == "safetensors":
            continue
        verb = (
            "creating new layer"
            if fresh or (quant and layer.kind == "model")
            else "using existing layer"
        )
        yield {"status": f"{verb} {layer.digest}"}
    yield {"status": "writing manifest"}
    ctx.store.add(new)
    yield {"status": "success"}


def create(ctx: Context, body: bytes) -> Response | StreamResponse:
    """``POST /api/create``: from a local model (``from``) or from uploaded blobs (``files``)."""
    req = decode_body(body, "CreateRequest", _CREATE)
    name = parse_name(_name_field(req))
    if name is None:
        raise ApiError(400, "invalid model name")
    if "from" not in req and "files" not in req:
        raise ApiError(400, "neither 'from' or 'files' was specified")
    quantize = req.get("quantize") or req.get("quantization")
    quant = None
    if quantize:
        quant = _QUANTIZE.get(quantize.lower())
        if quant is None:
            raise ApiError(400, f"unsupported quantization type {quantize}")
    base: Model | None = None
    pulled: Model | None = None
    if "from" in req:
        source = parse_name(req["from"])
        if source is None:
            raise ApiError(400, "invalid model name", charset=False)
        base = ctx.store.get(source)
        if base is None:
            remote = catalog_model(source)
            if remote is None:
                return _answer(_pull_events(ctx, None), req.get("stream", True))
            base = pulled = remote
        if quant and base.quantization_level not in ("F16", "BF16", "F32"):
            raise ApiError(400, "quantization is only supported for F16 and F32 models")
        new = base.renamed(name)
    else:
        new = _from_files(ctx, name, req, quant)
    if quant:
        weights = new.layers[0]
        size = int(weights.size * (0.55 if quant == "Q8_0" else 0.3))
        digest = "sha256:" + sha256_hex(f"{weights.digest}/{quant}")
        new.layers = (Layer("model", digest, size), *new.layers[1:])
        new.quantization_level = quant
    added = _new_layers(req)
    kinds = {kind for kind, _ in added}
    kept = [layer for layer in new.layers if layer.kind not in kinds]
    new.layers = (
        *kept,
        *(Layer(kind, "sha256:" + sha256_hex(text), len(text.encode())) for kind, text in added),
    )
    if "template" in req:
        new.template = req["template"]
    if "system" in req:
        new.system = req["system"]
    if "license" in req:
        new.license = tuple(_licenses(req))
    if "parameters" in req:
        new.parameters = {**new.parameters, **req["parameters"]}
    if "messages" in req:
        new.messages = [
            Message(role=str(m.get("role", "")), content=str(m.get("content", "")))
            for m in json_objects(req["messages"])
        ]
    new.modified_at = _dt.datetime.now(_dt.timezone.utc)
    events = _create_events(ctx, req, new, base)
    if pulled is not None:
        events = itertools.chain(
            _pull_events(ctx, pulled.renamed(pulled.name), finish=False), events
        )
    return _answer(events, req.get("stream", True))
