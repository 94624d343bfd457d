"""The decision models' types (SPEC 9.3): ``POST /v1/systemone``, one JSON object each way."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, cast

import msgspec

from ._types_base import KeepAlive, RequestStruct, SubscriptableStruct

# ---------------------------------------------------------------------------------------------
# Decision models (SPEC 9.3): POST /v1/systemone, one JSON object each way.

# (Annotated: a Union of builtins is shared through typing's cache, and its __module__ is set
# below; the metadata makes this one ours alone.)
SystemOneContent = Annotated[Union[str, dict[str, Any], list[Any]], "SystemOneContent"]  # noqa: UP007
"""Text, or a JSON object or array that the server renders as text."""


def _tag(self: msgspec.Struct) -> str:
    """The kind of question or answer: ``"choice"``, ``"noul"`` or ``"score"`` (its tag)."""
    return cast(str, self.__struct_config__.tag)


class _SystemOneQuestion(RequestStruct, kw_only=True, omit_defaults=True, tag_field="type"):
    instructions: SystemOneContent

    @property
    def type(self) -> str:
        """The kind of question (msgspec writes it as its tag ``"type"``), the official field."""
        return _tag(self)


class SystemOneChoiceQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="choice"):
    """Which of ``criteria`` (choice name → description, or None to use the name) fits best."""

    criteria: dict[str, Union[str, None]]  # noqa: UP007


class SystemOneNoulQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="noul"):
    """A yes/no question; ``criteria`` may describe ``"false"`` and ``"true"``."""

    criteria: Union[dict[Literal["false", "true"], str], None] = None  # noqa: UP007


class SystemOneScoreQuestion(_SystemOneQuestion, kw_only=True, omit_defaults=True, tag="score"):
    """A level on a scale: ``criteria`` describes each level, lowest first."""

    criteria: list[str]


SystemOneQuestion = Union[SystemOneChoiceQuestion, SystemOneNoulQuestion, SystemOneScoreQuestion]  # noqa: UP007


class SystemOneRequest(RequestStruct, kw_only=True, omit_defaults=True):
    """The body of ``POST /v1/systemone``."""

    model: str
    state: SystemOneContent
    questions: dict[str, SystemOneQuestion]
    keep_alive: KeepAlive | None = None


class _SystemOneAnswer(SubscriptableStruct, kw_only=True, tag_field="type"):
    @property
    def type(self) -> str:
        """The kind of answer (msgspec reads it from its tag ``"type"``), the official field."""
        return _tag(self)


class SystemOneNoulAnswer(_SystemOneAnswer, kw_only=True, tag="noul"):
    """The answer to a noul question: ``noul`` is the probability of true."""

    noul: float = 0.0


class SystemOneChoiceAnswer(_SystemOneAnswer, kw_only=True, tag="choice"):
    """The answer to a choice question: the likeliest choice, and each choice's probability."""

    choice: str = ""
    probabilities: dict[str, float] = msgspec.field(default_factory=dict[str, float])
    confidence: float = 0.0


class SystemOneScoreAnswer(_SystemOneAnswer, kw_only=True, tag="score"):
    """The answer to a score question: the expected level (zero-based, may be fractional)."""

    score: float = 0.0
    legend: dict[str, str] = msgspec.field(default_factory=dict[str, str])
    probabilities: dict[str, float] = msgspec.field(default_factory=dict[str, float])
    confidence: float = 0.0


SystemOneAnswer = Union[SystemOneNoulAnswer, SystemOneChoiceAnswer, SystemOneScoreAnswer]  # noqa: UP007


class SystemOneUsage(SubscriptableStruct, kw_only=True):
    """The tokens a ``systemone`` call read and wrote."""

    input_tokens: int = 0
    output_tokens: int = 0


class SystemOneResponse(SubscriptableStruct, kw_only=True):
    """The answer of ``systemone()``: one answer per question, by the question's name."""

    model: str = ""
    answers: dict[str, SystemOneAnswer] = msgspec.field(default_factory=dict[str, SystemOneAnswer])
    usage: SystemOneUsage = msgspec.field(default_factory=SystemOneUsage)
