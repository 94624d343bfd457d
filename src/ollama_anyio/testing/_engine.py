"""The deterministic "model": replies, tokens, structured values, log-probabilities, vectors.

Everything here is a pure function of its inputs, so the same request always gets the same
answer: a reply is chosen by hashing the last user message, structured output is generated
from the JSON schema's types, and embeddings come from a hash of the text.

The end of the module defines the engine interface: what serves a model with something other
than these answers (a real model, see ``_llama.py``), and :class:`DeterministicEngine`, these
same answers behind that interface.
"""

from __future__ import annotations

import array
import functools
import hashlib
import json
import math
import re
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Union, cast

from ._intent import chosen_tools, json_keys, key_schema, subject, tool_arguments
from ._models import Model, catalog_model
from ._names import ModelName, parse_name
from ._wire import json_list, json_mapping, json_object

__all__ = [
    "DeterministicEngine",
    "Embedded",
    "Engine",
    "Event",
    "Finish",
    "Job",
    "Reply",
    "ReplySource",
    "Token",
    "ToolCall",
    "default_reply",
    "embedding",
    "float32",
    "logprob_entry",
    "schema_value",
    "split_tokens",
    "token_id",
    "tool_call_id",
]


@dataclass(frozen=True)
class ToolCall:
    """A tool call the emulated model makes.

    Attributes:
        name: the function name.
        arguments: the arguments object (key order is kept on the wire).
    """

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class Reply:
    """What the emulated model answers to one generate or chat request.

    Attributes:
        content: the answer text (``response`` for generate, ``message.content`` for chat).
        thinking: reasoning text, sent before the content when the request thinks.
        tool_calls: calls to emit (chat only); dicts ``{"name": ..., "arguments": {...}}`` work.
        done_reason: force the final ``done_reason``; by default ``stop``, or ``length`` when
            ``options.num_predict`` cut the answer short.
    """

    content: str = ""
    thinking: str = ""
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] = ()
    done_reason: str | None = None

    def calls(self) -> list[ToolCall]:
        """``tool_calls`` with mappings converted to :class:`ToolCall`."""
        result: list[ToolCall] = []
        for call in self.tool_calls:
            if isinstance(call, ToolCall):
                result.append(call)
            else:
                arguments: Mapping[str, Any] = call.get("arguments") or {}
                result.append(ToolCall(str(call["name"]), dict(arguments)))
        return result


# A scripted reply: the content as a string, a Reply, or a function of the request body.
ReplySource = Union[str, Reply, Callable[[dict[str, Any]], Union[Reply, str]]]  # noqa: UP007

_SENTENCES = (
    "The sky appears blue because air molecules scatter short wavelengths of sunlight.",
    "Llamas are social animals that live in herds and communicate with soft humming sounds.",
    "A good test is small, fast and checks one behaviour at a time.",
    "Rivers carry sediment downstream and slowly reshape the valleys they flow through.",
    "Bread rises because yeast ferments sugars and releases carbon dioxide.",
    "The Pacific is the largest and deepest of the world's oceans.",
    "Honeybees share the location of flowers with a waggle dance.",
    "Light from the Sun takes about eight minutes to reach the Earth.",
    "Octopuses have three hearts and blue blood.",
    "Mountains form where tectonic plates push against each other.",
    "Coffee beans are the roasted seeds of a cherry-like fruit.",
    "Sound travels faster through water than through air.",
)
_ALTERNATIVES = (" the", ",", " a", ".", " and", " of", " to", " in", " is", " it")
_TOKEN = re.compile(r"\s*[^\W\d_]{1,8}|\s*\d{1,3}|\s*[^\w\s]|\s+")


def _hash(*parts: str) -> int:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def split_tokens(text: str) -> list[str]:
    """Split text into small word pieces, the unit a stream sends per chunk.

    Concatenating the pieces gives back ``text`` exactly.
    """
    pieces = _TOKEN.findall(text)
    rest = len(text) - sum(map(len, pieces))
    # The pattern covers every character class, but keep the round-trip guarantee explicit.
    return pieces if rest == 0 else [text]


def token_id(piece: str) -> int:
    """A stable pseudo token id for ``piece`` (a Llama-3-sized vocabulary)."""
    return 100 + _hash("tok", piece) % 128000


def tool_call_id(seed: str) -> str:
    """``call_`` plus 8 characters of ``[a-z0-9]``, derived from ``seed``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    value = _hash("call", seed)
    chars: list[str] = []
    for _ in range(8):
        value, index = divmod(value, len(alphabet))
        chars.append(alphabet[index])
    return "call_" + "".join(chars)


def float32(value: float) -> float:
    """Round to float32 and return the shortest decimal that round-trips (Go's output)."""
    (single,) = struct.unpack("f", struct.pack("f", value))
    for digits in range(1, 10):
        candidate = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == single:
            return candidate
    return float(single)


def logprob_entry(piece: str, top: int) -> dict[str, Any]:
    """The ``logprobs`` entry of one generated token, with ``top`` alternatives."""
    value = -float32((_hash("lp", piece) % 1000) / 4000)
    entry: dict[str, Any] = {"token": piece, "logprob": value, "bytes": list(piece.encode())}
    if top > 0:
        alternatives = [{"token": piece, "logprob": value, "bytes": list(piece.encode())}]
        start = _hash("alt", piece) % len(_ALTERNATIVES)
        for rank in range(1, top):
            token = _ALTERNATIVES[(start + rank) % len(_ALTERNATIVES)]
            logprob = float32(value - 1.5 * rank - (_hash(token, piece) % 100) / 100)
            alternatives.append({"token": token, "logprob": logprob, "bytes": list(token.encode())})
        entry["top_logprobs"] = alternatives
    return entry


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Mapping[str, Any] | None = root
        for part in ref[2:].split("/"):
            target = json_mapping(target.get(part, {})) if target is not None else None
        return target if target is not None else {}
    return schema


def schema_value(
    schema: Any, seed: str, root: Mapping[str, Any] | None = None, hint: str = ""
) -> Any:
    """A value that conforms to a (JSON-schema subset) ``schema``, derived from ``seed``.

    Args:
        schema: the schema; objects get every listed property, arrays ``minItems`` or two items.
        seed: text that makes the values vary deterministically.
        root: the top-level schema, for ``$ref`` into ``$defs``/``definitions``.
        hint: the property name, used to make strings readable.
    """
    node = json_mapping(schema)
    if node is None:
        return {}
    root = node if root is None else root
    schema = _resolve(node, root)
    number = _hash(seed, hint)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][number % len(schema["enum"])]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return schema_value(options[0], seed, root, hint)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    kinds = json_list(kind)
    if kinds is not None:
        kind = next((k for k in kinds if k != "null"), "null")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties") or {}
        return {key: schema_value(sub, seed, root, key) for key, sub in props.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 2)), 1)
        count = min(count, int(schema.get("maxItems", count)))
        items = schema.get("items") or {"type": "string"}
        return [schema_value(items, f"{seed}/{i}", root, hint) for i in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", low + 100))
        return low + number % (high - low + 1)
    if kind == "number":
        floor = float(schema.get("minimum", 0.0))
        ceiling = float(schema.get("maximum", floor + 100.0))
        return round(floor + (number % 1000) / 1000 * (ceiling - floor), 2)
    if kind == "boolean":
        return number % 2 == 0
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return f"2025-{number % 12 + 1:02d}-{number % 28 + 1:02d}"
    words = _SENTENCES[number % len(_SENTENCES)].split()
    return f"{hint or 'value'} {words[number % len(words)].strip('.,')}".strip()


def _tool_calls(tools: Sequence[Mapping[str, Any]], text: str) -> list[ToolCall]:
    # One call per tool the prompt asks for, with arguments from its words (see _intent):
    # "weather in San Francisco, CA" is one call, {"city": "San Francisco, CA"}; "in Tokyo
    # and Toronto" two, as a model makes them.
    calls: list[ToolCall] = []
    for tool, asked in chosen_tools(tools, text):
        function: Mapping[str, Any] = tool.get("function") or {}
        parameters: Mapping[str, Any] = function.get("parameters") or {}
        baseline = json_object(schema_value(parameters, text)) or {}
        name = str(function.get("name", "tool"))
        calls.extend(
            ToolCall(name, arguments) for arguments in tool_arguments(tool, asked, baseline)
        )
    return calls


def _json_answer(prompt: str, sentence: str) -> dict[str, Any]:
    # format="json" without a schema: the keys the prompt asks for, else a plausible object.
    keys = json_keys(prompt)
    if not keys:
        return {"answer": sentence, "topic": subject(prompt) or sentence.split()[0]}
    schema = {"type": "object", "properties": {key: key_schema(key) for key in keys}}
    return cast("dict[str, Any]", schema_value(schema, prompt))


_WORD = re.compile(r"[a-z]{3,}")
# Words that say nothing of a topic: a prompt sharing only these with a sentence is not on it.
_COMMON = frozenset(
    "about and are because can could does for from has have how into its not that the their"
    " them then there these they this through what when where which who why will with would"
    " you your tell write give explain describe list show".split()
)
# The words a request starts with before its topic ("Tell me about", "What is the").
_LEAD = re.compile(
    r"(?:(?:please|can|could|would|will|you|tell|me|us|about|explain|describe|write|give"
    r"|list|show|summari[sz]e|what|why|how|who|when|where|which|is|are|was|were|do|does|did"
    r"|the|a|an|of|be|i|need|want|to|know|in|on)\b[\s,]*)+",
    re.IGNORECASE,
)


def _on_topic(prompt: str) -> str | None:
    """The sentence sharing the most words with the prompt, so a demo answer is on topic."""
    words = set(_WORD.findall(prompt.lower())) - _COMMON
    best, score = None, 0
    for sentence in _SENTENCES:
        shared = len(words & set(_WORD.findall(sentence.lower())))
        if shared > score:
            best, score = sentence, shared
    return best


_GREETING = re.compile(
    r"\W*(hi|hello|hey|good (morning|afternoon|evening))( there)?\b\W*", re.IGNORECASE
)
# Answers to a prompt no sentence above is about: about its own subject, so the one answer
# reads as a reply to it, never as unrelated trivia.
_GENERAL = (
    "Here is a short answer about {topic}: start from the basics, then add detail as needed.",
    "{Topic} is a broad subject; the key idea is to understand its parts one at a time.",
    "In short, {topic} depends on the context, and a small example usually makes it clear.",
    "Good question about {topic}: the short version comes down to a few simple ideas.",
)


def _answer(prompt: str, number: int) -> str:
    """One coherent sentence for ``prompt``: a greeting back, the sentence on its topic, or
    a general answer about its subject."""
    if _GREETING.fullmatch(prompt):
        return "Hello! How can I help you today?"
    sentence = _on_topic(prompt)
    if sentence is not None:
        return sentence
    rest = prompt.strip()
    lead = _LEAD.match(rest)
    rest = rest[lead.end() :] if lead else rest
    topic = " ".join(re.split(r"[.?!\n]", rest, maxsplit=1)[0].split()[:6]) or "this"
    template = _GENERAL[number % len(_GENERAL)]
    return template.format(topic=topic, Topic=topic[:1].upper() + topic[1:])


_PROMPT_READ = 64 * 1024  # characters of a prompt the default reply looks at


def default_reply(
    prompt: str,
    *,
    think: bool,
    fmt: Any = None,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_results: Sequence[str] = (),
) -> Reply:
    """The reply the emulated model gives when no reply was scripted.

    Args:
        prompt: the last user message (or the generate prompt).
        think: whether to produce reasoning text.
        fmt: the request's ``format``: ``"json"``, a schema object, or empty.
        tools: the request's tool definitions; the first one is called, unless the
            conversation already ends with tool results.
        tool_results: contents of the trailing ``tool`` messages.
    """
    number = _hash(prompt)
    # The answer is built from the prompt's start: a huge prompt's words need not all be
    # split and compared (an 8 MiB prompt took 900 MB and seconds).
    prompt = prompt[:_PROMPT_READ]
    thinking = ""
    if think:
        topic = " ".join(prompt.split()[:8])
        thinking = f'The user asks: "{topic}". I should answer briefly and clearly.'
    if tools and not tool_results:
        return Reply(thinking=thinking, tool_calls=_tool_calls(tools, prompt))
    first = _answer(prompt, number)
    text = first
    if tool_results:
        text = "Based on the tool result: " + "; ".join(tool_results)
    if fmt == "json":
        text = json.dumps(_json_answer(prompt, first), ensure_ascii=False)
    elif isinstance(fmt, Mapping):
        text = json.dumps(schema_value(fmt, prompt), ensure_ascii=False)
    return Reply(content=text, thinking=thinking)


# A vector is made of _PIECES pieces, each one of _TABLE precomputed unit-scaled pieces
# chosen by a hash of the text: a 64 x 384 request costs the emulator well under a
# millisecond of arithmetic and its JSON is joined from pre-encoded text, so a bulk client
# meets a server bounded by its slots and service time, not by the emulator's CPU.
_PIECES = 8
_TABLE = 256


@functools.lru_cache(maxsize=16)
def _table(length: int) -> tuple[tuple[tuple[float, ...], bytes], ...]:
    """The pieces of ``length`` values: each of L2 norm ``1 / sqrt(_PIECES)``, with its JSON."""
    entries: list[tuple[tuple[float, ...], bytes]] = []
    for index in range(_TABLE):
        seed = f"embed-piece\x00{length}\x00{index}".encode()
        values = _unit(hashlib.shake_256(seed).digest(2 * length), _PIECES)
        entries.append((values, ",".join(map(repr, values)).encode()))
    return tuple(entries)


def _unit(raw: bytes, pieces: int = 1) -> tuple[float, ...]:
    """``raw`` read as int16s, scaled to L2 norm ``1 / sqrt(pieces)``, six digits each."""
    ints = array.array("h")
    ints.frombytes(raw)
    if sys.byteorder == "big":  # the same vectors on every machine
        ints.byteswap()
    scale = 1.0 / (math.sqrt(sum(v * v for v in ints) * pieces) or 1.0)
    # Six significant digits (the values are below 1): a float32 holds them exactly and
    # they are already the shortest decimal of that float32, as Ollama writes it.
    return tuple(round(v * scale, 6) for v in ints)


def _pieces(text: str, model: str, size: int) -> list[tuple[tuple[float, ...], bytes]]:
    key = "\x00".join(("embed", model, text)).encode()
    if size < 8 * _PIECES:  # a small vector costs little made whole, and pieces would repeat
        values = _unit(hashlib.shake_256(key).digest(2 * size))
        return [(values, ",".join(map(repr, values)).encode())]
    digest = hashlib.blake2b(key, digest_size=_PIECES).digest()
    bounds = [size * i // _PIECES for i in range(_PIECES + 1)]
    return [_table(bounds[i + 1] - bounds[i])[digest[i]] for i in range(_PIECES)]


def embedding(text: str, model: str, size: int, *, normalize: bool = True) -> list[float]:
    """A deterministic vector for ``text`` under ``model``.

    Args:
        text: the input.
        model: the model's identity, so that two models give different vectors.
        size: the number of dimensions.
        normalize: L2-normalised float32 values (``/api/embed``); otherwise raw float64
            values, not of unit norm, as the legacy ``/api/embeddings`` returns them.
    """
    values = [value for piece, _ in _pieces(text, model, size) for value in piece]
    return values if normalize else [value * 8.0 for value in values]


def embedding_json(text: str, model: str, size: int) -> bytes:
    """``embedding(text, model, size)`` as JSON text, joined from pre-encoded pieces."""
    return b"[" + b",".join(encoded for _, encoded in _pieces(text, model, size)) + b"]"


def normalise(values: Sequence[float]) -> list[float]:
    """Scale to unit L2 norm and round each value to float32."""
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [float32(v / norm) for v in values]


# -- the engine interface ----------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One generate or chat request as an engine sees it, after the handler validated it.

    Attributes:
        chat: a chat request (``messages``) rather than a generate one (``prompt``).
        messages: the whole conversation, the model's system message first.
        prompt: the generate prompt.
        system: the generate system message.
        raw: the generate prompt is sent to the model as is, without its template.
        context: token ids of an earlier generate answer to continue.
        options: the model's parameters overlaid with the request's ``options``.
        format: ``"json"``, a JSON schema object, or ``None``.
    """

    chat: bool
    messages: Sequence[Mapping[str, Any]] = ()
    prompt: str = ""
    system: str = ""
    raw: bool = False
    context: Sequence[int] = ()
    options: Mapping[str, Any] = field(default_factory=dict[str, Any])
    format: Any = None


@dataclass(frozen=True)
class Token:
    """A piece of generated text (one chunk of a stream)."""

    text: str


@dataclass(frozen=True)
class Finish:
    """The end of a generation: why it stopped, and its counters (durations in nanoseconds)."""

    done_reason: str
    prompt_eval_count: int
    prompt_eval_duration: int
    eval_count: int
    eval_duration: int
    load_duration: int = 0
    context: tuple[int, ...] = ()


Event = Union[Token, Finish]  # noqa: UP007


@dataclass(frozen=True)
class Embedded:
    """Embedding vectors, one per input, and what computing them took."""

    vectors: list[list[float]]
    prompt_eval_count: int
    load_duration: int = 0


class Engine(Protocol):
    """What produces the answers of a model served by something other than the default.

    The emulator validates each request as the server does and hands the engine only what
    passed. Every method blocks: the emulator calls them in a worker thread, one request at a
    time per engine, so an engine needs no locking of its own; an engine with an integer
    attribute ``parallel`` above 1 is given that many requests at once (and must be
    thread-safe).
    """

    def describe(self, name: ModelName) -> Model:
        """The model record (size, quantization, context length, family) ``name`` shows."""
        ...

    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        """Tokens of the answer, then one :class:`Finish`; ends early once ``stop`` is set."""
        ...

    def embed(self, texts: Sequence[str], *, truncate: bool, normalize: bool) -> Embedded:
        """One vector per text; ``normalize`` scales each to unit length (``/api/embed``)."""
        ...

    def close(self) -> None:
        """Free what the engine holds (a model's memory); called once, when the emulator stops."""
        ...


def _last_user(job: Job) -> str:
    users = [m for m in job.messages if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else job.prompt


class DeterministicEngine:
    """The default engine's answers (:func:`default_reply`) behind the :class:`Engine` interface.

    A thin adapter, so the machinery that serves engines (queueing, the worker thread, the
    asynchronous body) can be exercised without a real model, and a template for new engines.

    Args:
        base: the catalogue model whose record the served name shows.
    """

    def __init__(self, base: str = "llama3.2") -> None:
        parsed = parse_name(base)
        model = catalog_model(parsed) if parsed is not None else None
        if model is None:
            raise ValueError(f"unknown catalogue model {base!r}")
        self._base = model

    def describe(self, name: ModelName) -> Model:
        """The base model's record under ``name``."""
        return self._base.renamed(name)

    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        """The deterministic reply, a piece per token, honouring ``num_predict`` and ``stop``."""
        started = time.perf_counter_ns()
        content = default_reply(_last_user(job), think=False, fmt=job.format).content
        for word in job.options.get("stop", ()):
            if word and word in content:
                content = content[: content.index(word)]
        pieces = split_tokens(content)
        limit = int(job.options.get("num_predict", -1))
        reason = "stop"
        if 0 <= limit < len(pieces):
            pieces, reason = pieces[:limit], "length"
        prompt = split_tokens(" ".join(str(m.get("content", "")) for m in job.messages))
        evaluated = time.perf_counter_ns()
        for piece in pieces:
            if stop.is_set():
                return
            yield Token(piece)
        ids = tuple(token_id(t) for t in [*prompt, *pieces])
        yield Finish(
            reason,
            prompt_eval_count=len(prompt) or 1,
            prompt_eval_duration=evaluated - started,
            eval_count=len(pieces),
            eval_duration=time.perf_counter_ns() - evaluated,
            context=ids,
        )

    def embed(self, texts: Sequence[str], *, truncate: bool, normalize: bool) -> Embedded:
        """The deterministic vector of each text."""
        key, size = self._base.name.key, self._base.embedding_length
        vectors = [embedding(text, key, size, normalize=normalize) for text in texts]
        return Embedded(vectors, sum(len(split_tokens(t)) for t in texts))

    def close(self) -> None:
        """Nothing to free."""
