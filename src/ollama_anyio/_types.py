"""The wire types: msgspec Structs for every request and response body of the Ollama API.

Responses never forbid unknown fields and give every field a default, so that a newer server
(more fields) or an older one (fewer) cannot break decoding. Requests omit the fields left at
their default (``None``), so a body carries only what the caller set; the few keys the official
client always sends (``stream``, chat ``messages`` and ``tools``, pull ``insecure``, embed
``input``) are fields without a default, which msgspec always encodes.

Every type supports attribute access (``r.message.content``) and, like the official client's
models, mapping-style access (``r["message"]["content"]``, ``"key" in r``, ``r.get("key")``,
``dict(r)``, ``r.model_dump()``) with the official semantics (SPEC 9.4, `SubscriptableStruct`).
A response field the payload may leave out is declared ``= ABSENT``: decoding stores msgspec's
UNSET there at no cost, the attribute reads None, and ``"key" in r`` can still tell a field sent
as ``null`` from one left out.

The types live in modules by kind, gathered here: the shared machinery and the objects both
ways (``_types_base``), `Image` beside its encoding (``_images``), the requests
(``_types_requests``), the responses (``_types_responses``) and the decision models'
(``_types_systemone``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._images import Image as Image
from ._images import ImageLike as ImageLike
from ._types_base import ABSENT as ABSENT
from ._types_base import EXTRAS, ToolCallFunction, read_absent_as_none
from ._types_base import Format as Format
from ._types_base import KeepAlive as KeepAlive
from ._types_base import Logprob as Logprob
from ._types_base import Message as Message
from ._types_base import ModelDetails as ModelDetails
from ._types_base import Options as Options
from ._types_base import SubscriptableStruct as SubscriptableStruct
from ._types_base import Think as Think
from ._types_base import TokenLogprob as TokenLogprob
from ._types_base import Tool as Tool
from ._types_base import ToolCall as ToolCall
from ._types_base import ToolFunction as ToolFunction
from ._types_base import ToolLike as ToolLike
from ._types_base import ToolParameters as ToolParameters
from ._types_base import ToolProperty as ToolProperty
from ._types_requests import ChatRequest as ChatRequest
from ._types_requests import CopyRequest as CopyRequest
from ._types_requests import CreateRequest as CreateRequest
from ._types_requests import DeleteRequest as DeleteRequest
from ._types_requests import EmbeddingsRequest as EmbeddingsRequest
from ._types_requests import EmbedRequest as EmbedRequest
from ._types_requests import GenerateRequest as GenerateRequest
from ._types_requests import OptionsArg as OptionsArg
from ._types_requests import PullRequest as PullRequest
from ._types_requests import PushRequest as PushRequest
from ._types_requests import ShowRequest as ShowRequest
from ._types_requests import WebFetchRequest as WebFetchRequest
from ._types_requests import WebSearchRequest as WebSearchRequest
from ._types_responses import ChatResponse as ChatResponse
from ._types_responses import EmbedArraysResponse as EmbedArraysResponse
from ._types_responses import EmbeddingsResponse as EmbeddingsResponse
from ._types_responses import EmbedResponse as EmbedResponse
from ._types_responses import GenerateResponse as GenerateResponse
from ._types_responses import ListModel
from ._types_responses import ListResponse as ListResponse
from ._types_responses import ParsedChatResponse as ParsedChatResponse
from ._types_responses import ParsedGenerateResponse as ParsedGenerateResponse
from ._types_responses import ProcessResponse as ProcessResponse
from ._types_responses import ProgressResponse as ProgressResponse
from ._types_responses import RawEmbedResponse as RawEmbedResponse
from ._types_responses import ShowResponse as ShowResponse
from ._types_responses import ShowThinking as ShowThinking
from ._types_responses import StatusResponse as StatusResponse
from ._types_responses import VersionResponse as VersionResponse
from ._types_responses import WebFetchResponse as WebFetchResponse
from ._types_responses import WebSearchResponse as WebSearchResponse
from ._types_responses import WebSearchResult as WebSearchResult
from ._types_systemone import SystemOneAnswer as SystemOneAnswer
from ._types_systemone import SystemOneChoiceAnswer as SystemOneChoiceAnswer
from ._types_systemone import SystemOneChoiceQuestion as SystemOneChoiceQuestion
from ._types_systemone import SystemOneContent as SystemOneContent
from ._types_systemone import SystemOneNoulAnswer as SystemOneNoulAnswer
from ._types_systemone import SystemOneNoulQuestion as SystemOneNoulQuestion
from ._types_systemone import SystemOneQuestion as SystemOneQuestion
from ._types_systemone import SystemOneRequest as SystemOneRequest
from ._types_systemone import SystemOneResponse as SystemOneResponse
from ._types_systemone import SystemOneScoreAnswer as SystemOneScoreAnswer
from ._types_systemone import SystemOneScoreQuestion as SystemOneScoreQuestion
from ._types_systemone import SystemOneUsage as SystemOneUsage

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "CopyRequest",
    "CreateRequest",
    "DeleteRequest",
    "EmbedArraysResponse",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "GenerateRequest",
    "GenerateResponse",
    "Image",
    "ListResponse",
    "Logprob",
    "Message",
    "ModelDetails",
    "Options",
    "ParsedChatResponse",
    "ParsedGenerateResponse",
    "ProcessResponse",
    "ProgressResponse",
    "PullRequest",
    "PushRequest",
    "ShowRequest",
    "ShowResponse",
    "ShowThinking",
    "StatusResponse",
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneChoiceQuestion",
    "SystemOneContent",
    "SystemOneNoulAnswer",
    "SystemOneNoulQuestion",
    "SystemOneQuestion",
    "SystemOneRequest",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneScoreQuestion",
    "SystemOneUsage",
    "TokenLogprob",
    "Tool",
    "VersionResponse",
    "WebFetchRequest",
    "WebFetchResponse",
    "WebSearchRequest",
    "WebSearchResponse",
    "WebSearchResult",
]

for _alias in (SystemOneContent, SystemOneQuestion, SystemOneAnswer):
    setattr(_alias, "__module__", __name__)  # noqa: B010  (shown as the package's, as classes are)


EXTRAS.update(
    {
        GenerateResponse: frozenset({"tool_calls"}),
        ListModel: frozenset({"name", "remote_model", "remote_host", "capabilities"}),
        ShowResponse: frozenset(
            {
                "system",
                "renderer",
                "parser",
                "messages",
                "remote_model",
                "remote_host",
                "projector_info",
                "tensors",
                "requires",
                "thinking",
            }
        ),
        ModelDetails: frozenset({"context_length", "embedding_length"}),
        Message: frozenset({"tool_call_id"}),
        ToolCall: frozenset({"id"}),
        ToolCallFunction: frozenset({"index"}),
        TokenLogprob: frozenset({"bytes"}),
        ToolProperty: frozenset({"properties", "required", "anyOf"}),
        Options: frozenset({"draft_num_predict", "min_p"}),
    }
)


def _every_subclass(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _every_subclass(sub)


read_absent_as_none(SubscriptableStruct)
for _cls in _every_subclass(SubscriptableStruct):
    read_absent_as_none(_cls)
