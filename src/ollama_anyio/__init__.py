"""ollama-anyio: an Ollama client native to anyio, for trio, asyncio and blocking code.

Switch from the official client by changing one import::

    import ollama_anyio as ollama

    response = ollama.chat("llama3.2", messages=[{"role": "user", "content": "Hi"}])
    print(response.message.content)
"""

import builtins
from typing import TYPE_CHECKING, Any

from ._errors import IncompleteStreamError as IncompleteStreamError
from ._errors import OllamaConnectionError as OllamaConnectionError
from ._errors import OllamaError as OllamaError
from ._errors import OllamaTimeoutError as OllamaTimeoutError
from ._errors import ProtocolError as ProtocolError
from ._errors import RequestError as RequestError
from ._errors import ResponseError as ResponseError
from ._install import install_as_ollama as install_as_ollama
from ._types import ChatResponse as ChatResponse
from ._types import EmbedArraysResponse as EmbedArraysResponse
from ._types import EmbeddingsResponse as EmbeddingsResponse
from ._types import EmbedResponse as EmbedResponse
from ._types import GenerateResponse as GenerateResponse
from ._types import Image as Image
from ._types import ListResponse as ListResponse
from ._types import Logprob as Logprob
from ._types import Message as Message
from ._types import ModelDetails as ModelDetails
from ._types import Options as Options
from ._types import ProcessResponse as ProcessResponse
from ._types import ProgressResponse as ProgressResponse
from ._types import ShowResponse as ShowResponse
from ._types import StatusResponse as StatusResponse
from ._types import SystemOneAnswer as SystemOneAnswer
from ._types import SystemOneChoiceAnswer as SystemOneChoiceAnswer
from ._types import SystemOneChoiceQuestion as SystemOneChoiceQuestion
from ._types import SystemOneContent as SystemOneContent
from ._types import SystemOneNoulAnswer as SystemOneNoulAnswer
from ._types import SystemOneNoulQuestion as SystemOneNoulQuestion
from ._types import SystemOneQuestion as SystemOneQuestion
from ._types import SystemOneRequest as SystemOneRequest
from ._types import SystemOneResponse as SystemOneResponse
from ._types import SystemOneScoreAnswer as SystemOneScoreAnswer
from ._types import SystemOneScoreQuestion as SystemOneScoreQuestion
from ._types import SystemOneUsage as SystemOneUsage
from ._types import TokenLogprob as TokenLogprob
from ._types import Tool as Tool
from ._types import ToolCall as ToolCall
from ._types import WebFetchResponse as WebFetchResponse
from ._types import WebSearchResponse as WebSearchResponse
from ._types import WebSearchResult as WebSearchResult

if TYPE_CHECKING:
    from ._async_client import AsyncClient as AsyncClient
    from ._async_stream import AsyncStream as AsyncStream
    from ._default import chat as chat
    from ._default import copy as copy
    from ._default import create as create
    from ._default import create_blob as create_blob
    from ._default import delete as delete
    from ._default import embed as embed
    from ._default import embeddings as embeddings
    from ._default import generate as generate
    from ._default import list as list
    from ._default import ps as ps
    from ._default import pull as pull
    from ._default import push as push
    from ._default import show as show
    from ._default import systemone as systemone
    from ._default import web_fetch as web_fetch
    from ._default import web_search as web_search
    from ._sync_client import Client as Client
    from ._sync_client import Stream as Stream

__version__ = "0.1.0"

# The clients and the module-level functions load on first use: `import ollama_anyio` then
# costs little more than msgspec (no httpx, no anyio, no event loop, no thread).
_LAZY = {
    "AsyncClient": "._async_client",
    "AsyncStream": "._async_stream",
    "Client": "._sync_client",
    "Stream": "._sync_client",
    # the module-level functions: the lower-case names of __all__ (below)
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ollama_anyio' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    _publish(value)
    globals()[name] = value
    return value


def __dir__() -> "builtins.list[str]":  # (here "list" is ollama_anyio.list)
    return sorted([*__all__, "__version__"])


__all__ = [
    "AsyncClient",
    "AsyncStream",
    "ChatResponse",
    "Client",
    "EmbedArraysResponse",
    "EmbedResponse",
    "EmbeddingsResponse",
    "GenerateResponse",
    "Image",
    "IncompleteStreamError",
    "ListResponse",
    "Logprob",
    "Message",
    "ModelDetails",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "Options",
    "ProcessResponse",
    "ProgressResponse",
    "ProtocolError",
    "RequestError",
    "ResponseError",
    "ShowResponse",
    "StatusResponse",
    "Stream",
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
    "ToolCall",
    "WebFetchResponse",
    "WebSearchResponse",
    "WebSearchResult",
    "chat",
    "copy",
    "create",
    "create_blob",
    "delete",
    "embed",
    "embeddings",
    "generate",
    "install_as_ollama",
    "list",
    "ps",
    "pull",
    "push",
    "show",
    "systemone",
    "web_fetch",
    "web_search",
]


def _publish(obj: Any) -> None:
    # Public objects show their public path in reprs and tracebacks. The msgspec Structs keep
    # theirs: msgspec resolves their annotations in the module that defines them.
    if getattr(obj, "__module__", "").startswith("ollama_anyio.") and not isinstance(
        obj, type(Message)
    ):
        obj.__module__ = __name__


_LAZY.update((name, "._default") for name in __all__ if name.islower() and name not in globals())
for _name in __all__:
    if _name not in _LAZY:
        _publish(globals()[_name])
