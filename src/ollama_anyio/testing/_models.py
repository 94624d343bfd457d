"""What the emulator knows about models: the record type and the built-in catalogue.

The catalogue holds realistic descriptions (families, sizes, quantisation, capabilities, layer
digests, templates, GGUF metadata) of a few popular library models. Some are preloaded into
each emulator's store; all of them can be pulled.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from ._names import ModelName, parse_name

__all__ = [
    "CATALOG",
    "PRELOADED",
    "Layer",
    "Message",
    "Model",
    "Tensor",
    "catalog_model",
    "sha256_hex",
]

_MEDIA = "application/vnd.ollama.image."


def sha256_hex(data: bytes | str) -> str:
    """The lower-case hex SHA-256 of ``data`` (text is UTF-8 encoded)."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class Message(TypedDict):
    """A message of a model's conversation preamble (Modelfile ``MESSAGE``)."""

    role: str
    content: str


class Tensor(TypedDict):
    """One tensor of the GGUF weights, as ``/api/show`` lists it."""

    name: str
    type: str
    shape: list[int]


@dataclass(frozen=True)
class Layer:
    """One blob of a model's manifest."""

    kind: str  # model, projector, template, system, license, params, messages, adapter, config
    digest: str  # sha256:<hex>
    size: int

    @property
    def media_type(self) -> str:
        """The manifest media type, e.g. ``application/vnd.ollama.image.model``."""
        return f"{_MEDIA}{self.kind}"


@dataclass
class Model:
    """A model as stored locally; tags, show and ps are views of this record."""

    name: ModelName
    family: str
    parameter_size: str
    quantization_level: str
    capabilities: tuple[str, ...]
    context_length: int
    embedding_length: int
    layers: tuple[Layer, ...]
    families: list[str] | None = None
    format: str = "gguf"
    parent_model: str = ""
    template: str = ""
    system: str = ""
    parameters: dict[str, Any] = field(default_factory=dict[str, Any])
    license: tuple[str, ...] = ()
    messages: list[Message] = field(default_factory=list[Message])
    model_info: dict[str, Any] = field(default_factory=dict[str, Any])
    tensors: list[Tensor] = field(default_factory=list[Tensor])
    modified_at: _dt.datetime = field(
        default_factory=lambda: _dt.datetime(2025, 5, 4, 17, 37, 44, tzinfo=_dt.timezone.utc)
    )
    # The thinking controls the model declares (SPEC 9.1), shown by /api/show; none: any.
    thinking_values: tuple[bool | str, ...] = ()
    thinking_default: bool | str | None = None
    # What ps reports of a loaded model: the KV cache's bytes per context token on top of the
    # weights, and whether they sit in GPU memory (size_vram) or in RAM (size_vram 0).
    kv_bytes_per_token: int = 131_072
    on_gpu: bool = True

    def thinking_level(self, think: bool | str | None) -> bool | str | None:
        """The control the model runs with: a level it declares, else its default level."""
        if isinstance(think, str) and self.thinking_values and think not in self.thinking_values:
            return self.thinking_default
        return think

    @property
    def size(self) -> int:
        """Sum of all layer sizes, in bytes."""
        return sum(layer.size for layer in self.layers)

    @property
    def digest(self) -> str:
        """The manifest hash (64 hex, no prefix), as tags and ps report it."""
        manifest = [[layer.media_type, layer.digest, layer.size] for layer in self.layers]
        return sha256_hex(json.dumps(manifest))

    def details(self, *, with_lengths: bool) -> dict[str, Any]:
        """The ModelDetails object; tags add context and embedding lengths."""
        details: dict[str, Any] = {
            "parent_model": self.parent_model,
            "format": self.format,
            "family": self.family,
            "families": self.families,
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }
        if with_lengths:
            details["context_length"] = self.context_length
            details["embedding_length"] = self.embedding_length
        return details

    def renamed(self, name: ModelName) -> Model:
        """A copy under another name (copy, create)."""
        return replace(self, name=name, parameters=dict(self.parameters))


def _layer(kind: str, seed: str, size: int) -> Layer:
    return Layer(kind, "sha256:" + sha256_hex(seed), size)


_LLAMA_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ if .System }}{{ .System }}{{ end }}"
    "<|eot_id|>{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
_VICUNA_TEMPLATE = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"


def _gguf_info(
    arch: str, params: int, ctx: int, emb: int, blocks: int, heads: int
) -> dict[str, Any]:
    return {
        "general.architecture": arch,
        "general.file_type": 15,
        "general.parameter_count": params,
        "general.quantization_version": 2,
        f"{arch}.attention.head_count": heads,
        f"{arch}.block_count": blocks,
        f"{arch}.context_length": ctx,
        f"{arch}.embedding_length": emb,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.merges": ["Ġ t", "Ġ a", "i n", "h e"],
        "tokenizer.ggml.token_type": [1, 1, 1, 1],
        "tokenizer.ggml.tokens": ["!", '"', "#", "$"],
    }


def _tensors(emb: int, vocab: int, quant: str) -> list[Tensor]:
    return [
        {"name": "token_embd.weight", "type": quant, "shape": [emb, vocab]},
        {"name": "blk.0.attn_norm.weight", "type": "F32", "shape": [emb]},
        {"name": "blk.0.attn_q.weight", "type": quant, "shape": [emb, emb]},
        {"name": "output_norm.weight", "type": "F32", "shape": [emb]},
    ]


def _model(
    name: str,
    *,
    family: str,
    size: str,
    quant: str,
    caps: tuple[str, ...],
    ctx: int,
    emb: int,
    weights: int,
    params: int,
    layers: tuple[Layer, ...] = (),
    template: str = "",
    parameters: Mapping[str, Any] | None = None,
    license: str = "",
    vocab: int = 128256,
    modified: tuple[int, int, int, int, int, int] = (2025, 5, 4, 17, 37, 44),
    thinking: tuple[tuple[bool | str, ...], bool | str] | None = None,
) -> Model:
    parsed = parse_name(name)
    assert parsed is not None
    if not layers:
        extra: list[Layer] = [_layer("model", name + "/model", weights)]
        if "vision" in caps:
            extra.append(_layer("projector", name + "/projector", 624_434_368))
        if template:
            extra.append(_layer("template", name + "/template", len(template)))
        if license:
            extra.append(_layer("license", name + "/license", len(license)))
        if parameters:
            extra.append(_layer("params", name + "/params", len(json.dumps(parameters))))
        layers = tuple(extra)
    arch = "bert" if "embedding" in caps else family
    return Model(
        name=parsed,
        family=family,
        families=[family],
        parameter_size=size,
        quantization_level=quant,
        capabilities=caps,
        context_length=ctx,
        embedding_length=emb,
        layers=layers,
        template=template,
        parameters=dict(parameters or {}),
        license=(license,) if license else (),
        model_info=_gguf_info(arch, params, ctx, emb, 32, 32),
        tensors=_tensors(emb, vocab, quant),
        modified_at=_dt.datetime(*modified, tzinfo=_dt.timezone.utc),
        thinking_values=thinking[0] if thinking else (),
        thinking_default=thinking[1] if thinking else None,
    )


# Real layer digests and sizes of library llama3.2 (the same as in pull-progress.ndjson).
_LLAMA32_LAYERS = (
    Layer(
        "model",
        "sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff",
        2019377376,
    ),
    Layer(
        "template", "sha256:966de95ca8a62200913e3f8bfbf84c8494536f1b94b49166851e76644e966396", 1429
    ),
    Layer(
        "license", "sha256:fcc5a6bec9daf9b561a68827b67ab6088e1dba9d1fa2a50d7bbcc8384e0a265d", 7711
    ),
    Layer(
        "license", "sha256:a70ff7e570d97baaf4e62ac6e6ad9975e04caa6d900d3742d37698494479e0cd", 6016
    ),
    Layer("params", "sha256:56bb8bd477a519ffa694fc449c2413c6f0e1d3b1c88fa7e3c9d88d3ae49d4dcb", 96),
)
_LLAMA_STOPS = {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]}
_QWEN_PARAMS = {
    "repeat_penalty": 1,
    "stop": ["<|im_start|>", "<|im_end|>"],
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
}

CATALOG: tuple[Model, ...] = (
    _model(
        "llama3.2:latest",
        family="llama",
        size="3.2B",
        quant="Q4_K_M",
        caps=("completion", "tools"),
        ctx=131072,
        emb=3072,
        weights=2019377376,
        params=3212749888,
        layers=_LLAMA32_LAYERS,
        template=_LLAMA_TEMPLATE,
        parameters=_LLAMA_STOPS,
        license="LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
    ),
    _model(
        "qwen3:latest",
        family="qwen3",
        size="8.2B",
        quant="Q4_K_M",
        caps=("completion", "tools", "thinking"),
        ctx=40960,
        emb=4096,
        weights=5225374464,
        params=8190735360,
        template=_CHATML_TEMPLATE,
        parameters=_QWEN_PARAMS,
        license="Apache License Version 2.0",
        vocab=151936,
        modified=(2025, 6, 2, 9, 40, 11),
    ),
    _model(
        "nomic-embed-text:latest",
        family="nomic-bert",
        size="137M",
        quant="F16",
        caps=("embedding",),
        ctx=2048,
        emb=768,
        weights=274290656,
        params=136727040,
        parameters={"num_ctx": 8192},
        license="Apache License Version 2.0",
        vocab=30522,
        modified=(2025, 4, 1, 8, 0, 0),
    ),
    _model(
        "all-minilm:latest",
        family="bert",
        size="22.57M",
        quant="F16",
        caps=("embedding",),
        ctx=512,
        emb=384,
        weights=45949216,
        params=22565376,
        license="Apache License Version 2.0",
        vocab=30522,
        modified=(2025, 3, 3, 12, 0, 0),
    ),
    _model(
        "llava:latest",
        family="llama",
        size="7B",
        quant="Q4_0",
        caps=("completion", "vision"),
        ctx=32768,
        emb=4096,
        weights=4109853248,
        params=7241732096,
        template=_VICUNA_TEMPLATE,
        parameters={"stop": ["[INST]", "[/INST]"]},
        license="Apache License Version 2.0",
        vocab=32000,
        modified=(2025, 2, 10, 10, 30, 0),
    ),
    _model(
        "gemma3:latest",
        family="gemma3",
        size="4.3B",
        quant="Q4_K_M",
        caps=("completion", "vision"),
        ctx=131072,
        emb=2560,
        weights=3338792448,
        params=4299915632,
        template=_CHATML_TEMPLATE,
        license="Gemma Terms of Use",
        vocab=262144,
    ),
    _model(
        "llama3.2:1b",
        family="llama",
        size="1.2B",
        quant="Q8_0",
        caps=("completion", "tools"),
        ctx=131072,
        emb=2048,
        weights=1321082688,
        params=1235814432,
        template=_LLAMA_TEMPLATE,
        parameters=_LLAMA_STOPS,
        license="LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
    ),
    _model(
        "deepseek-r1:latest",
        family="qwen2",
        size="7.6B",
        quant="Q4_K_M",
        caps=("completion", "thinking"),
        ctx=131072,
        emb=3584,
        weights=4683073184,
        params=7615616512,
        template=_CHATML_TEMPLATE,
        license="MIT License",
        vocab=152064,
    ),
    # A model that declares its thinking levels (SPEC 9.1); an unknown name gets "medium".
    _model(
        "gpt-oss:latest",
        family="gptoss",
        size="20.9B",
        quant="MXFP4",
        caps=("completion", "tools", "thinking"),
        ctx=131072,
        emb=2880,
        weights=13780154624,
        params=20914757184,
        template=_CHATML_TEMPLATE,
        license="Apache License Version 2.0",
        vocab=201088,
        modified=(2025, 8, 14, 22, 49, 43),
        thinking=(("low", "medium", "high", "xhigh"), "medium"),
    ),
    # A decision model for /v1/systemone (SPEC 9.3): it answers questions, not prompts.
    _model(
        "openjev:latest",
        family="openjev",
        size="1.5B",
        quant="Q8_0",
        caps=(),
        ctx=8192,
        emb=1536,
        weights=1646592000,
        params=1543714304,
        license="Apache License Version 2.0",
        vocab=151936,
    ),
)

PRELOADED: tuple[str, ...] = (
    "llama3.2:latest",
    "qwen3:latest",
    "nomic-embed-text:latest",
    "all-minilm:latest",
    "llava:latest",
)


def catalog_model(name: ModelName) -> Model | None:
    """The catalogue entry for ``name`` (case-insensitive), as a fresh copy."""
    for model in CATALOG:
        if model.name.key == name.key:
            return model.renamed(model.name)
    return None
