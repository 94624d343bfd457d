"""Model names: ``[host/][namespace/]model[:tag]`` parsed, validated and normalised.

Local lookups are case-insensitive per part; ``/api/tags`` and ``/api/ps`` show the shortest
form (host and namespace only when they differ from the defaults), always with a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT_HOST", "DEFAULT_NAMESPACE", "DEFAULT_TAG", "ModelName", "parse_name"]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")


@dataclass(frozen=True)
class ModelName:
    """A fully qualified model name."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        """The case-folded identity used for local lookups."""
        return self.full.lower()

    @property
    def full(self) -> str:
        """``host/namespace/model:tag``, as in capability error messages."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        """The shortest form with a tag, as ``/api/tags`` shows it."""
        if self.host != DEFAULT_HOST:
            return self.full
        if self.namespace != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"


# Separate from the client's check (_requests.check_model) on purpose: an oracle must not share
# the code it checks, or one bug would pass both sides.
def parse_name(text: str) -> ModelName | None:
    """Parse a model name, filling in the defaults.

    Args:
        text: a name as a client sends it, e.g. ``llama3.2`` or ``mattw/pygmalion:latest``.

    Returns:
        The parsed name, or ``None`` if any part is syntactically invalid.
    """
    rest, tag = text, DEFAULT_TAG
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        rest, tag = text[:colon], text[colon + 1 :]
    parts = rest.split("/")
    if len(parts) > 3:
        return None
    host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    if len(parts) == 3:
        host, namespace, model = parts
    elif len(parts) == 2:
        namespace, model = parts
    else:
        (model,) = parts
    checks = ((_HOST, host), (_NAMESPACE, namespace), (_PART, model), (_PART, tag))
    if not all(pattern.fullmatch(value) for pattern, value in checks):
        return None
    return ModelName(host, namespace, model, tag)
