"""Pure request building: arguments in, a checked request body out, or a `RequestError`.

Every argument is checked here, before anything is sent, and the error names the argument at
fault. Nothing here does network I/O; the only I/O is reading image files named by a path, which
the async client runs in a worker thread when `needs_io` says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, cast

import msgspec

from . import _images, _structured, _tools
from ._errors import RequestError
from ._pydantic import construct
from ._types import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    DeleteRequest,
    EmbeddingsRequest,
    EmbedRequest,
    Format,
    GenerateRequest,
    ImageLike,
    KeepAlive,
    Message,
    Options,
    OptionsArg,
    PullRequest,
    PushRequest,
    ShowRequest,
    SystemOneContent,
    SystemOneQuestion,
    SystemOneRequest,
    Think,
    ToolCall,
    ToolLike,
    WebFetchRequest,
    WebSearchRequest,
)

__all__ = [
    "JsonBody",
    "check_digest",
    "check_keep_alive",
    "check_model",
    "encoder",
    "needs_io",
]

encoder = msgspec.json.Encoder()

# The bodies below are copies of blank instances with their fields replaced (msgspec's replace,
# a C call): calling the classes would run their argument checks (`_pydantic.ModelMeta`), which
# the values built here have passed. Each copy replaces every field whose blank value must not
# be shared (a required field, a list): ``model``, chat's ``messages`` and ``tools``, ``input``.
_copy = msgspec.structs.replace


class JsonBody(Mapping[str, Any]):
    """A request body as ``_request(json=...)`` shows it: a mapping of what is sent, as the
    official client passes a dict there, for the tools that wrap ``_request`` and read it.

    Its dict is built only when it is first read (``msgspec.to_builtins``); ``_request``
    encodes the Struct itself, so an unwrapped call pays one small object for it.
    """

    __slots__ = ("_dict", "struct")

    def __init__(self, struct: Any) -> None:
        self.struct = struct
        self._dict: dict[str, Any] | None = None

    def _built(self) -> dict[str, Any]:
        if self._dict is None:
            self._dict = cast("dict[str, Any]", msgspec.to_builtins(self.struct))
        return self._dict

    def __getitem__(self, key: str) -> Any:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        return f"JsonBody({self.struct!r})"


# SPEC 1.10: [host/][namespace/]model[:tag]; a cloud name may carry a second tag (":cloud").
_MODEL_NAME = re.compile(
    r"(?:[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}/)?"
    r"(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?"
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}){0,2}"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


_SECOND = 10**9
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": _SECOND} | {
    "m": 60 * _SECOND,
    "h": 3600 * _SECOND,
}
_PART = r"(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(ns|us|µs|μs|ms|s|m|h)"  # Go's time.ParseDuration
_DURATION = re.compile(rf"([-+]?)(?:0|(?:{_PART})+)")


def check_keep_alive(value: object, where: str = "keep_alive") -> float | str | None:
    """Check a ``keep_alive`` value (SPEC §1.11) and return it as it will be sent.

    Numbers are seconds (negative: forever) and are sent as floats, like the official client
    does; strings must be Go durations such as ``"5m"``, ``"1h30m"``, ``"-1m"`` or ``"0"``.

    Args:
        value: None, a number of seconds or a duration string.
        where: the argument's name, for the error message.

    Raises:
        RequestError: a bool, another type, a non-finite number, or a string that the server
            would reject (no unit, bad syntax, more than about 292 years).
    """
    if value is None:
        return None
    # bool is an int subclass, but the server answers 400 "Unsupported type: 'bool'".
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise RequestError(f"{where} must be a finite number of seconds, got {value!r}")
        return seconds
    if not isinstance(value, str):
        raise RequestError(
            f"{where} must be a number of seconds, a duration string or None, "
            f"not {type(value).__name__}"
        )
    match = _DURATION.fullmatch(value)
    if match is None:
        raise RequestError(
            f"{where} must be a Go duration such as '5m', '1h30m', '300ms' or '0', got {value!r}"
        )
    # Go rejects durations that overflow an int64 of nanoseconds; so do we, without int()
    # on digit strings long enough for Python to refuse them.
    total = Fraction(0)
    for whole, frac, bare_frac, unit in re.findall(_PART, value):
        whole, frac = whole.lstrip("0"), (frac or bare_frac)[:30]
        if len(whole) > 19:
            total = Fraction(2**64)
            break
        total += (int(whole or "0") + Fraction(int(frac or "0"), 10 ** len(frac))) * _UNIT_NS[unit]
    if total > (2**63 if match.group(1) == "-" else 2**63 - 1):
        raise RequestError(f"{where} duration {value!r} is out of range (about 292 years)")
    return value


def check_model(model: object, where: str = "model") -> str:
    """Return ``model`` if it is a syntactically valid model name, else raise `RequestError`."""
    if not isinstance(model, str):
        raise RequestError(f"{where} must be a string, got {type(model).__name__}")
    if not model:
        raise RequestError(f"{where} is required (got an empty string)")
    if not _MODEL_NAME.fullmatch(model):
        raise RequestError(f"{where} {model!r} is not a valid model name")
    return model


def check_digest(digest: object) -> str:
    """Return ``digest`` if it has the form ``sha256:<64 lowercase hex>``, else raise."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise RequestError(f"digest must look like 'sha256:<64 hex digits>', got {digest!r}")
    return digest


def _str(value: str | None, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{where} must be a string, got {type(value).__name__}")
    return value


def _bool(value: bool | None, where: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise RequestError(f"{where} must be True or False, got {type(value).__name__}")
    return value


def _int(value: int | None, where: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise RequestError(f"{where} must be an integer, got {type(value).__name__}")
    return value


def _options(options: object, where: str = "options") -> Any:
    if options is None or isinstance(options, Options):
        return options
    if not isinstance(options, Mapping):
        raise RequestError(f"{where} must be a mapping or an Options, got {type(options).__name__}")
    mapping = cast("Mapping[str, Any]", options)
    try:
        msgspec.convert(mapping, Options, strict=False)
    except msgspec.ValidationError as exc:
        raise RequestError(f"{where}: {exc}") from None
    return dict(mapping)


def _format(format: object) -> Any:
    if format is None or format in ("", "json") or isinstance(format, Mapping):
        return cast(Any, format)
    if _structured.is_schema_type(format):
        return _structured.schema_of(cast("type[Any]", format))
    raise RequestError(
        f"format must be '', 'json', a JSON schema mapping or a type, got {format!r}"
    )


def _think(think: object) -> Any:
    # Models declare their own level names (SPEC 9.1): any non-empty string is sent as given,
    # and the server falls back to the model's default for a name it does not declare.
    if think is None or isinstance(think, bool) or (isinstance(think, str) and think):
        return think
    raise RequestError(f"think must be True, False or a level name such as 'high', got {think!r}")


def _top_logprobs(value: int | None) -> int | None:
    if _int(value, "top_logprobs") is not None and not 0 <= value <= 20:  # type: ignore[operator]
        raise RequestError(f"top_logprobs must be between 0 and 20, got {value}")
    return value


def _message(value: object, where: str) -> Message:
    if type(value) is dict and len(cast("dict[str, object]", value)) == 2:
        # {"role": ..., "content": ...}, by far the most common message
        plain = cast("dict[str, object]", value)
        role, content = plain.get("role"), plain.get("content")
        if isinstance(role, str) and role and isinstance(content, str):
            return _copy(_MESSAGE, role=role, content=content)
    if isinstance(value, Message):
        message = value
    elif isinstance(value, Mapping):
        items = cast("Mapping[str, Any]", value).items()
        try:
            # None is "not given", as for the official client (OpenAI-style histories send it).
            message = msgspec.convert({k: v for k, v in items if v is not None}, Message)
        except msgspec.ValidationError as exc:
            raise RequestError(f"{where}: {exc}") from None
    else:
        raise RequestError(f"{where} must be a mapping or a Message, got {type(value).__name__}")
    if not isinstance(message.role, str) or not message.role:
        raise RequestError(f"{where}.role is required")
    calls = [
        _tool_call(call, f"{where}.tool_calls[{i}]")
        for i, call in enumerate(message.tool_calls or ())
    ]
    # Empty values are not sent, as the official client does (SPEC 7.4).
    return msgspec.structs.replace(
        message,
        content=_str(message.content, f"{where}.content") or "",
        thinking=_str(message.thinking, f"{where}.thinking") or None,
        images=_images.encode_images(message.images, f"{where}.images"),
        tool_calls=calls or None,
        tool_name=_str(message.tool_name, f"{where}.tool_name") or None,
        tool_call_id=_str(message.tool_call_id, f"{where}.tool_call_id") or None,
    )


def _tool_call(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, ToolCall):
        try:
            value = msgspec.convert(value, ToolCall)
        except msgspec.ValidationError as exc:
            raise RequestError(f"{where}: {exc}") from None
    # A plain dict, so that "arguments" is sent even when empty (the server requires the key)
    # while the id and index are sent only when known.
    function: dict[str, Any] = {"name": value.function.name, "arguments": value.function.arguments}
    if value.function.index is not None:
        function["index"] = value.function.index
    call: dict[str, Any] = {"function": function}
    if value.id:
        call["id"] = value.id
    return call


def _messages(messages: object, where: str = "messages") -> list[Message]:
    if messages is None:
        return []
    kind = type(messages).__name__
    if isinstance(messages, (str, bytes, Mapping, Message)) or not isinstance(messages, Sequence):
        raise RequestError(f"{where} must be a sequence of messages, got {kind}")
    return [_message(m, f"{where}[{i}]") for i, m in enumerate(cast("Sequence[object]", messages))]


def needs_io(*, messages: object = None, images: object = None) -> bool:
    """Whether building the request may read files (images given as paths)."""
    if isinstance(messages, Sequence) and not isinstance(messages, (str, bytes)):
        for m in cast("Sequence[object]", messages):
            found: Any = (
                m.images
                if isinstance(m, Message)
                else cast("Mapping[str, Any]", m).get("images")
                if isinstance(m, Mapping)
                else None
            )
            if found and _images.needs_io(found):
                return True
    return bool(images) and _images.needs_io(cast(Any, images))


def _context(context: Sequence[int] | None) -> list[int] | None:
    if context is None:
        return None
    if (
        isinstance(context, (str, bytes))
        or not isinstance(context, Sequence)
        or not all(isinstance(token, int) for token in context)
    ):
        raise RequestError("context must be a sequence of integers (a previous answer's context)")
    return list(context)


def generate(
    model: str,
    prompt: str | None,
    suffix: str | None,
    *,
    system: str | None,
    template: str | None,
    context: Sequence[int] | None,
    stream: bool,
    think: Think | None,
    logprobs: bool | None,
    top_logprobs: int | None,
    raw: bool | None,
    format: Format | None,
    images: Sequence[ImageLike] | None,
    options: OptionsArg | None,
    keep_alive: KeepAlive | None,
    truncate: bool | None,
    shift: bool | None,
    width: int | None,
    height: int | None,
    steps: int | None,
) -> GenerateRequest:
    """The body of ``generate()``; reads image files given as paths."""
    return _copy(
        _GENERATE,
        model=check_model(model),
        stream=bool(stream),
        options=_options(options),
        format=_format(format),
        keep_alive=check_keep_alive(keep_alive),
        prompt=_str(prompt, "prompt"),
        suffix=_str(suffix, "suffix"),
        system=_str(system, "system"),
        template=_str(template, "template"),
        context=_context(context),
        raw=_bool(raw, "raw"),
        images=_images.encode_images(images, "images"),
        think=_think(think),
        truncate=_bool(truncate, "truncate"),
        shift=_bool(shift, "shift"),
        logprobs=_bool(logprobs, "logprobs"),
        top_logprobs=_top_logprobs(top_logprobs),
        width=_int(width, "width"),
        height=_int(height, "height"),
        steps=_int(steps, "steps"),
    )


def chat(
    model: str,
    messages: Sequence[Mapping[str, Any] | Message] | None,
    *,
    tools: Sequence[ToolLike] | None,
    stream: bool,
    think: Think | None,
    logprobs: bool | None,
    top_logprobs: int | None,
    format: Format | None,
    options: OptionsArg | None,
    keep_alive: KeepAlive | None,
    truncate: bool | None,
    shift: bool | None,
) -> ChatRequest:
    """The body of ``chat()``; reads image files given as paths."""
    return _copy(
        _CHAT,
        model=check_model(model),
        stream=bool(stream),
        options=_options(options),
        format=_format(format),
        keep_alive=check_keep_alive(keep_alive),
        messages=_messages(messages),
        tools=_tools.convert_tools(tools),
        think=_think(think),
        truncate=_bool(truncate, "truncate"),
        shift=_bool(shift, "shift"),
        logprobs=_bool(logprobs, "logprobs"),
        top_logprobs=_top_logprobs(top_logprobs),
    )


def embed(
    model: str,
    input: str | Sequence[str],
    *,
    truncate: bool | None,
    options: OptionsArg | None,
    keep_alive: KeepAlive | None,
    dimensions: int | None,
) -> EmbedRequest:
    """The body of ``embed()``."""
    if not isinstance(input, str):
        if (
            isinstance(input, bytes)
            or not isinstance(input, Sequence)
            or not all(isinstance(text, str) for text in input)
        ):
            raise RequestError("input must be a string or a sequence of strings")
        input = list(input)
    if _int(dimensions, "dimensions") is not None and dimensions is not None and dimensions < 1:
        raise RequestError(f"dimensions must be a positive integer, got {dimensions}")
    return _copy(
        _EMBED,
        model=check_model(model),
        input=input,
        truncate=_bool(truncate, "truncate"),
        options=_options(options),
        keep_alive=check_keep_alive(keep_alive),
        dimensions=dimensions,
    )


def embeddings(
    model: str,
    prompt: str | None,
    *,
    options: OptionsArg | None,
    keep_alive: KeepAlive | None,
) -> EmbeddingsRequest:
    """The body of the legacy ``embeddings()``."""
    return EmbeddingsRequest(
        model=check_model(model),
        prompt=_str(prompt, "prompt"),
        options=_options(options),
        keep_alive=check_keep_alive(keep_alive),
    )


def pull(model: str, *, insecure: bool, stream: bool) -> PullRequest:
    """The body of ``pull()``."""
    return PullRequest(
        model=check_model(model), stream=bool(stream), insecure=bool(_bool(insecure, "insecure"))
    )


def push(model: str, *, insecure: bool, stream: bool) -> PushRequest:
    """The body of ``push()``."""
    return PushRequest(
        model=check_model(model), stream=bool(stream), insecure=bool(_bool(insecure, "insecure"))
    )


def _digests(files: Mapping[str, str] | None, where: str) -> dict[str, str] | None:
    if files is None:
        return None
    if not isinstance(files, Mapping):
        raise RequestError(f"{where} must be a mapping of file name to blob digest")
    for name, digest in files.items():
        if not isinstance(name, str) or not name:
            raise RequestError(f"{where}: file names must be non-empty strings, got {name!r}")
        try:
            check_digest(digest)
        except RequestError as exc:
            raise RequestError(f"{where}[{name!r}]: {exc.error}") from None
    return dict(files)


def create(
    model: str,
    *,
    quantize: str | None,
    from_: str | None,
    files: Mapping[str, str] | None,
    adapters: Mapping[str, str] | None,
    template: str | None,
    license: str | Sequence[str] | None,
    system: str | None,
    parameters: OptionsArg | None,
    messages: Sequence[Mapping[str, Any] | Message] | None,
    stream: bool,
) -> CreateRequest:
    """The body of ``create()``."""
    if from_ is None and files is None:
        raise RequestError("create needs from_ (an existing model) or files (uploaded blobs)")
    if license is not None and not isinstance(license, str):
        if not isinstance(license, Sequence) or not all(isinstance(x, str) for x in license):
            raise RequestError("license must be a string or a sequence of strings")
        license = list(license)
    return CreateRequest(
        model=check_model(model),
        stream=bool(stream),
        quantize=_str(quantize, "quantize"),
        files=_digests(files, "files"),
        adapters=_digests(adapters, "adapters"),
        template=_str(template, "template"),
        license=license,
        system=_str(system, "system"),
        parameters=_options(parameters, "parameters"),
        messages=_messages(messages) if messages is not None else None,
        from_=None if from_ is None else check_model(from_, "from_"),
    )


def show(model: str, *, verbose: bool | None) -> ShowRequest:
    """The body of ``show()``."""
    return ShowRequest(model=check_model(model), verbose=_bool(verbose, "verbose") or None)


def delete(model: str) -> DeleteRequest:
    """The body of ``delete()``."""
    return DeleteRequest(model=check_model(model))


def copy(source: str, destination: str) -> CopyRequest:
    """The body of ``copy()``."""
    return CopyRequest(
        source=check_model(source, "source"), destination=check_model(destination, "destination")
    )


def web_search(query: str, max_results: int) -> WebSearchRequest:
    """The body of ``web_search()``."""
    if not isinstance(query, str) or not query.strip():
        raise RequestError("query must be a non-empty string")
    if _int(max_results, "max_results") is not None and not 1 <= max_results <= 10:
        raise RequestError(f"max_results must be between 1 and 10, got {max_results}")
    return WebSearchRequest(query=query, max_results=max_results)


def web_fetch(url: str) -> WebFetchRequest:
    """The body of ``web_fetch()``."""
    if not isinstance(url, str) or not url.strip():
        raise RequestError("url must be a non-empty string")
    return WebFetchRequest(url=url)


def _systemone_content(value: object, where: str) -> SystemOneContent:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return dict(cast("Mapping[str, Any]", value))
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items: Sequence[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return list(items)
    raise RequestError(f"{where} must be a string, a mapping or a list, got {type(value).__name__}")


def _question(name: object, value: object) -> SystemOneQuestion:
    where = f"questions[{name!r}]"
    if not isinstance(name, str) or not name:
        raise RequestError(f"question names must be non-empty strings, got {name!r}")
    if not isinstance(value, (msgspec.Struct, Mapping)):
        raise RequestError(f"{where} must be a mapping or a SystemOne*Question, got {value!r}")
    try:
        # Converted through its JSON form, so that a mapping and a Struct are checked alike.
        question: SystemOneQuestion = msgspec.convert(
            msgspec.to_builtins(value),
            SystemOneQuestion,
        )
    except (msgspec.ValidationError, TypeError) as exc:
        raise RequestError(f"{where}: {exc}") from None
    _systemone_content(question.instructions, f"{where}.instructions")
    if question.type != "noul" and not question.criteria:
        raise RequestError(f"{where}.criteria must not be empty")
    return question


def systemone(
    model: str,
    state: SystemOneContent,
    questions: Mapping[str, SystemOneQuestion | Mapping[str, Any]],
    *,
    keep_alive: KeepAlive | None,
) -> SystemOneRequest:
    """The body of ``systemone()`` (SPEC 9.3)."""
    if not isinstance(questions, Mapping) or not questions:
        raise RequestError("questions must be a non-empty mapping of name to question")
    return SystemOneRequest(
        model=check_model(model),
        state=_systemone_content(state, "state"),
        questions={name: _question(name, q) for name, q in questions.items()},
        keep_alive=check_keep_alive(keep_alive),
    )


def message_list(messages: object) -> list[Message]:
    """The ``messages`` of a ``chat`` body, each checked and converted (images encoded)."""
    return _messages(messages)


_MESSAGE = construct(Message)
_GENERATE = construct(GenerateRequest, model="")
_CHAT = construct(ChatRequest, model="", messages=[], tools=[])
_EMBED = construct(EmbedRequest, model="", input="")
