"""The request bodies of the Ollama API: unset fields are not sent (see ``_types``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import msgspec

from ._types_base import DUMP_NAMES, KeepAlive, Message, Options, RequestStruct, Tool

# ---------------------------------------------------------------------------------------------
# Requests. Field order follows the official client's bodies; unset fields are not sent.

OptionsArg = Union[Mapping[str, Any], Options]  # noqa: UP007


class _ModelRequest(RequestStruct, kw_only=True, omit_defaults=True):
    model: str


def _false() -> bool:
    # A factory, not a default: omit_defaults would leave a default False out of the body,
    # and the official client always sends "stream".
    return False


def _no_messages() -> list[Message]:
    return []  # (likewise: "messages": [] is sent)


def _no_tools() -> list[Tool]:
    return []


class GenerateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/generate``."""

    stream: bool = msgspec.field(default_factory=_false)
    options: Any = None
    format: Any = None
    keep_alive: KeepAlive | None = None
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: Sequence[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None
    think: Any = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None


class ChatRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/chat``."""

    stream: bool = msgspec.field(default_factory=_false)
    options: Any = None
    format: Any = None
    keep_alive: KeepAlive | None = None
    messages: list[Message] = msgspec.field(default_factory=_no_messages)
    tools: list[Tool] = msgspec.field(default_factory=_no_tools)
    think: Any = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None


class EmbedRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/embed``."""

    input: Union[str, Sequence[str]]  # noqa: UP007
    truncate: bool | None = None
    options: Any = None
    keep_alive: KeepAlive | None = None
    dimensions: int | None = None


class EmbeddingsRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/embeddings``."""

    prompt: str | None = None
    options: Any = None
    keep_alive: KeepAlive | None = None


class PullRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/pull``."""

    stream: bool = msgspec.field(default_factory=_false)
    insecure: bool = msgspec.field(default_factory=_false)


class PushRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/push``."""

    stream: bool = msgspec.field(default_factory=_false)
    insecure: bool = msgspec.field(default_factory=_false)


class CreateRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/create``."""

    stream: bool = msgspec.field(default_factory=_false)
    quantize: str | None = None
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: Any = None
    messages: list[Message] | None = None
    from_: str | None = msgspec.field(default=None, name="from")


DUMP_NAMES[CreateRequest] = {"from_": "from"}


class ShowRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/show``."""

    verbose: bool | None = None


class DeleteRequest(_ModelRequest, kw_only=True, omit_defaults=True):
    """The body of ``DELETE /api/delete``."""


class CopyRequest(RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST /api/copy``."""

    source: str
    destination: str


class WebSearchRequest(RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST https://ollama.com/api/web_search``."""

    query: str
    max_results: int | None = None


class WebFetchRequest(RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST https://ollama.com/api/web_fetch``."""

    url: str
