"""convert_tools: Tool objects, mappings and functions -> Tool definitions (SPEC 2.3, 7.4)."""

from __future__ import annotations

import enum
import functools
import json
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Optional, Union

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_anyio._errors import RequestError
from ollama_anyio._tools import convert_tools
from ollama_anyio._types import Tool, ToolFunction, ToolParameters, ToolProperty

FIXTURES = Path(__file__).parent / "fixtures"

# --- a small JSON-schema checker for the subset tools use --------------------------------------

JSON_TYPES = {"string", "integer", "number", "boolean", "null", "array", "object"}


def check_schema(schema: Any) -> None:
    """Assert that ``schema`` is a well-formed JSON schema of the subset tools use."""
    assert isinstance(schema, dict)
    assert set(schema) <= {"type", "items", "enum", "anyOf", "description"}, schema
    if "type" in schema:
        kinds = schema["type"]
        if isinstance(kinds, list):
            assert len(kinds) >= 2, schema  # a one-element list would be written as a string
            assert len(set(kinds)) == len(kinds), schema
            assert set(kinds) <= JSON_TYPES, schema
        else:
            assert kinds in JSON_TYPES, schema
    if "items" in schema:
        assert "array" in _types_of(schema), schema
        check_schema(schema["items"])
    if "enum" in schema:
        assert isinstance(schema["enum"], list), schema
        assert schema["enum"], schema
        assert all(is_valid({"type": schema["type"]}, value) for value in schema["enum"])
    if "anyOf" in schema:
        assert len(schema["anyOf"]) >= 2, schema
        for sub in schema["anyOf"]:
            check_schema(sub)
    if "description" in schema:
        assert isinstance(schema["description"], str), schema


def _types_of(schema: dict[str, Any]) -> list[str]:
    kinds = schema.get("type", [])
    return kinds if isinstance(kinds, list) else [kinds]


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    python: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "null": type(None),
        "array": (list, tuple),
    }
    return isinstance(value, python.get(kind, dict))


def is_valid(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` (a Python value as JSON would carry it) satisfies ``schema``."""
    if "anyOf" in schema and not any(is_valid(sub, value) for sub in schema["anyOf"]):
        return False
    if "type" in schema and not any(_is_type(value, kind) for kind in _types_of(schema)):
        return False
    if "enum" in schema and not any(
        type(value) is type(option) and value == option for option in schema["enum"]
    ):
        return False
    if "items" in schema and isinstance(value, (list, tuple)):
        return all(is_valid(schema["items"], item) for item in value)
    return True


def as_json(tool: Tool) -> dict[str, Any]:
    result = json.loads(msgspec.json.encode(tool))
    assert isinstance(result, dict)
    return result


def properties(func: Any) -> dict[str, Any]:
    """The JSON properties of the tool made from ``func``, each checked to be valid."""
    (tool,) = convert_tools([func])
    props = as_json(tool)["function"]["parameters"]["properties"]
    assert isinstance(props, dict)
    for prop in props.values():
        check_schema(prop)
    # An undocumented parameter is sent with description "", as the official client sends it
    # (test_no_docstring_means_empty_descriptions_as_officially); left out here for brevity.
    return {
        name: {k: v for k, v in prop.items() if (k, v) != ("description", "")}
        for name, prop in props.items()
    }


def required(func: Any) -> list[str] | None:
    (tool,) = convert_tools([func])
    assert tool.function is not None
    assert tool.function.parameters is not None
    return tool.function.parameters.required


# --- the official client's example ---------------------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two numbers

    Args:
      a: The first
      b: The second
    """
    return a + b


def test_function_matches_the_official_clients_request() -> None:
    expected = json.loads((FIXTURES / "client-python-chat-tools-request.json").read_text())
    assert [as_json(tool) for tool in convert_tools([add])] == [expected["tools"][0]]


def test_none_is_no_tools() -> None:
    assert convert_tools(None) == []
    assert convert_tools([]) == []


# --- Tool objects and mappings -------------------------------------------------------------------


def test_complete_tool_is_kept_as_is() -> None:
    tool = Tool(
        type="function",
        function=ToolFunction(name="f", parameters=ToolParameters(type="object", properties={})),
    )
    assert convert_tools([tool])[0] is tool


def test_tool_gets_its_defaults_without_changing_the_callers_object() -> None:
    tool = Tool(function=ToolFunction(name="f", parameters=ToolParameters(required=["x"])))
    (result,) = convert_tools((tool,))
    assert as_json(result) == {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "required": ["x"]}},
    }
    assert tool.type is None
    assert tool.function is not None
    assert tool.function.parameters is not None
    assert tool.function.parameters.type is None


def test_tool_without_parameters_gets_no_parameters() -> None:
    (result,) = convert_tools([Tool(function=ToolFunction(name="f"))])
    assert as_json(result) == {"type": "function", "function": {"name": "f"}}


def test_tool_keeps_a_type_it_was_given() -> None:
    (result,) = convert_tools([Tool(type="custom", function=ToolFunction(name="f"))])
    assert result.type == "custom"


def test_mapping_with_defs_and_unknown_keys() -> None:
    mapping = {
        "function": {
            "name": "lookup",
            "description": "Find a thing",
            "strict": True,  # unknown: dropped
            "parameters": {
                "$defs": {"Unit": {"enum": ["c", "f"]}},
                "properties": {
                    "city": {"type": "string", "description": "Where", "minLength": 1},
                    "unit": {"type": ["string", "null"], "enum": ["c", "f", None]},
                },
                "required": ["city"],
                "additionalProperties": False,  # unknown: dropped
            },
        },
        "x-extra": 1,  # unknown: dropped
    }
    (tool,) = convert_tools([mapping])
    assert isinstance(tool, Tool)
    assert tool.function is not None
    assert tool.function.parameters is not None
    assert tool.function.parameters.defs == {"Unit": {"enum": ["c", "f"]}}
    assert tool.function.parameters.properties == {
        "city": ToolProperty(type="string", description="Where"),
        "unit": ToolProperty(type=["string", "null"], enum=["c", "f", None]),
    }
    assert as_json(tool) == {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find a thing",
            "parameters": {
                "type": "object",
                "$defs": {"Unit": {"enum": ["c", "f"]}},
                "required": ["city"],
                "properties": {
                    "city": {"type": "string", "description": "Where"},
                    "unit": {"type": ["string", "null"], "enum": ["c", "f", None]},
                },
            },
        },
    }


def test_mapping_that_does_not_fit_names_its_position_and_field() -> None:
    with pytest.raises(RequestError, match=r"^tools\[1\]: invalid tool: .*\$\.function\.name"):
        convert_tools([add, {"function": {"name": 3}}])


# --- functions: docstrings -----------------------------------------------------------------------


def documented(city: str, days: int, unit: str, verbose: bool) -> str:
    """Get the weather forecast.

    Uses the national service, so
    only some cities work.

    Args:
        city (str): The city's name,
            in English.
        days (list(int)): How many days ahead.
        unit: "c" or "f".

            Defaults to "c".
        verbose (bool, optional): Say more.

    Returns:
        The forecast.

    Raises:
        KeyError: unknown city.
    """
    return city


def test_google_docstring_with_types_in_parentheses_and_continuations() -> None:
    (tool,) = convert_tools([documented])
    assert tool.function is not None
    assert tool.function.description == (
        "Get the weather forecast.\n\nUses the national service, so\nonly some cities work."
    )
    assert {name: prop["description"] for name, prop in properties(documented).items()} == {
        "city": "The city's name, in English.",
        "days": "How many days ahead.",
        "unit": '"c" or "f". Defaults to "c".',
        "verbose": "Say more.",
    }


def test_docstring_section_names_and_one_line_sections() -> None:
    def f(a: int, b: int) -> int:
        """Sum.
        Returns: the sum, which is not part of the description.

        Arguments:
            a: first
            *b: second
        """
        return a

    (tool,) = convert_tools([f])
    assert tool.function is not None
    assert tool.function.description == "Sum."
    assert properties(f) == {
        "a": {"type": "integer", "description": "first"},
        "b": {"type": "integer", "description": "second"},
    }


def test_text_after_the_args_section_is_not_a_description() -> None:
    def f(a: int) -> None:
        """Do it.

        Args:
            a: first
        Trailing text.
        """

    assert properties(f) == {"a": {"type": "integer", "description": "first"}}


def test_no_docstring_means_empty_descriptions_as_officially() -> None:
    def bare(a: int) -> None:
        pass

    (tool,) = convert_tools([bare])
    assert as_json(tool) == {
        "type": "function",
        "function": {
            "name": "bare",
            "description": "",
            "parameters": {
                "type": "object",
                "required": ["a"],
                "properties": {"a": {"type": "integer", "description": ""}},
            },
        },
    }


def test_function_without_parameters() -> None:
    def now() -> str:
        """The time."""
        return ""

    (tool,) = convert_tools([now])
    assert as_json(tool)["function"] == {
        "name": "now",
        "description": "The time.",
        "parameters": {"type": "object", "properties": {}},
    }


# --- functions: types and requirement ------------------------------------------------------------


def test_scalar_types_and_unannotated_parameters() -> None:
    def f(s: str, i: int, x: float, b: bool, untyped, anything: Any, obj: object) -> None:  # type: ignore[no-untyped-def]
        pass

    assert properties(f) == {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "x": {"type": "number"},
        "b": {"type": "boolean"},
        "untyped": {"type": "string"},
        "anything": {},
        "obj": {},
    }
    assert required(f) == ["s", "i", "x", "b", "untyped", "anything", "obj"]


def test_optional_parameters_are_not_required() -> None:
    def f(
        a: Optional[int],  # noqa: UP045
        b: str | None,
        c: int = 3,
        d: Union[int, None] = None,  # noqa: UP007
        e: str = None,  # type: ignore[assignment]  # noqa: RUF013  (implicit Optional on purpose)
        f: Literal["x", None] = None,
        g: str = "given",
    ) -> None:
        pass

    assert properties(f) == {
        "a": {"type": "integer"},
        "b": {"type": "string"},
        "c": {"type": "integer"},
        "d": {"type": "integer"},
        "e": {"type": "string"},
        "f": {"type": "string", "enum": ["x"]},
        "g": {"type": "string"},
    }
    # a default value does not make a parameter optional (SPEC 7.4); None or Optional does
    assert required(f) == ["c", "g"]


def test_required_follows_the_signature_order() -> None:
    def f(z: int, a: int, *, m: str, b: int | None = None) -> None:
        pass

    assert required(f) == ["z", "a", "m"]
    assert list(properties(f)) == ["z", "a", "m", "b"]


def test_arrays_carry_their_item_type() -> None:
    def f(
        a: list[int],
        b: Sequence[str],
        c: tuple[float, ...],
        d: tuple[int, str],
        e: list,  # type: ignore[type-arg]
        f: typing.List[bool],  # noqa: UP006
        g: list[list[int]],
        h: set[str],
        i: list[int | None],
    ) -> None:
        pass

    assert properties(f) == {
        "a": {"type": "array", "items": {"type": "integer"}},
        "b": {"type": "array", "items": {"type": "string"}},
        "c": {"type": "array", "items": {"type": "number"}},
        "d": {"type": "array", "items": {"type": ["integer", "string"]}},
        "e": {"type": "array"},
        "f": {"type": "array", "items": {"type": "boolean"}},
        "g": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "h": {"type": "array", "items": {"type": "string"}},
        "i": {"type": "array", "items": {"type": ["integer", "null"]}},
    }


def test_mappings_are_objects() -> None:
    def f(a: dict, b: dict[str, int], c: Mapping[str, Any]) -> None:  # type: ignore[type-arg]
        pass

    assert properties(f) == {
        "a": {"type": "object"},
        "b": {"type": "object"},
        "c": {"type": "object"},
    }


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def test_literals_and_enums_become_enum() -> None:
    def f(
        a: Literal["celsius", "fahrenheit"],
        b: Literal[1, 2, 3],
        c: Literal["auto", 0],
        d: Color,
        e: Level,
        g: Literal[True],
        h: Literal[Color.RED],
        i: list[Color],
    ) -> None:
        pass

    assert properties(f) == {
        "a": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "b": {"type": "integer", "enum": [1, 2, 3]},
        "c": {"type": ["string", "integer"], "enum": ["auto", 0]},
        "d": {"type": "string", "enum": ["red", "green"]},
        "e": {"type": "integer", "enum": [1, 2]},
        "g": {"type": "boolean", "enum": [True]},
        "h": {"type": "string", "enum": ["red"]},
        "i": {"type": "array", "items": {"type": "string", "enum": ["red", "green"]}},
    }


def test_unions_become_a_list_of_types() -> None:
    def f(
        a: int | str,
        b: Union[str, int, None],  # noqa: UP007
        c: int | list[str],
        d: int | Any,
    ) -> None:
        pass

    assert properties(f) == {
        "a": {"type": ["integer", "string"]},
        "b": {"type": ["string", "integer"]},
        "c": {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]},
        "d": {},
    }
    assert required(f) == ["a", "c", "d"]


def test_self_cls_args_and_kwargs_are_skipped() -> None:
    class Service:
        def method(self, a: int, *args: int, **kwargs: str) -> None:
            """Call it.

            Args:
                a: the value
                *args: ignored
                **kwargs: ignored
            """

        @classmethod
        def build(cls, name: str) -> None:
            pass

    def unbound(self, a: int) -> None:  # type: ignore[no-untyped-def]
        pass

    assert properties(Service().method) == {"a": {"type": "integer", "description": "the value"}}
    assert properties(Service.method) == {"a": {"type": "integer", "description": "the value"}}
    assert properties(Service.build) == {"name": {"type": "string"}}
    assert properties(unbound) == {"a": {"type": "integer"}}
    (tool,) = convert_tools([Service().method])
    assert tool.function is not None
    assert tool.function.name == "method"


def test_lambda_is_a_function() -> None:
    (tool,) = convert_tools([lambda x: x])
    assert as_json(tool)["function"] == {
        "name": "<lambda>",
        "description": "",
        "parameters": {
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "string", "description": ""}},
        },
    }


def test_string_annotations_are_resolved() -> None:
    def f(a: list[Color], b: Level | None) -> None:
        pass

    assert f.__annotations__["a"] == "list[Color]"  # this module uses postponed annotations
    assert properties(f)["a"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["red", "green"]},
    }


def test_mixed_list_keeps_the_order_of_the_entries() -> None:
    mapping = {"function": {"name": "m"}}
    tools = convert_tools([add, mapping, Tool(function=ToolFunction(name="t"))])
    assert [tool.function.name for tool in tools if tool.function] == ["add", "m", "t"]


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (None, "NoneType"),
        (3, "int"),
        ("add", "str"),
        (Color, "class Color"),
        (int, "class int"),
        (functools.partial(add, 1), "partial"),
    ],
)
def test_other_entries_are_rejected_with_their_position(bad: Any, kind: str) -> None:
    with pytest.raises(RequestError) as info:
        convert_tools([add, {"function": {"name": "x"}}, bad])
    assert info.value.error == f"tools[2]: expected a Tool, a mapping or a function, got {kind}"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["add", b"add", {"function": {"name": "x"}}, add, Tool()])
def test_a_lone_tool_is_not_a_list(bad: Any) -> None:
    with pytest.raises(RequestError, match=r"^tools: expected a list of tools, got "):
        convert_tools(bad)


class Point:
    """Not a type with a JSON-schema equivalent."""


def test_unsupported_annotation_names_the_parameter() -> None:
    def f(a: int, where: Point) -> None:
        pass

    with pytest.raises(
        RequestError, match=r"^tools\[0\]: function 'f': parameter 'where': unsupported"
    ):
        convert_tools([f])


@pytest.mark.parametrize("annotation", [bytes, complex, Path, "list[Path]", "Literal[b'x']"])
def test_other_unsupported_annotations(annotation: Any) -> None:
    def f(x: int) -> None:
        pass

    f.__annotations__["x"] = annotation
    with pytest.raises(RequestError, match=r"^tools\[0\]: function 'f': parameter 'x': "):
        convert_tools([f])


def test_unresolvable_annotation() -> None:
    def f(x: Undefined) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(RequestError, match=r"^tools\[0\]: function 'f': cannot read its signature"):
        convert_tools([f])


# --- property: any annotation built from the supported parts gives a valid schema ----------------

_leaves = st.sampled_from([str, int, float, bool, Literal["a", "b"], Literal[1, "x"], Color])


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda t: list[t]),  # type: ignore[valid-type]
        children.map(lambda t: tuple[t, ...]),  # type: ignore[valid-type]
        st.tuples(children, children | st.just(type(None))).map(lambda ts: Union[ts]),  # noqa: UP007
    )


_annotations = st.recursive(_leaves, _extend, max_leaves=6)


@given(annotation=_annotations, data=st.data())
def test_any_supported_annotation_gives_a_valid_schema_for_its_values(
    annotation: Any, data: st.DataObject
) -> None:
    def f(x: int) -> None:
        pass

    f.__annotations__["x"] = annotation
    schema = properties(f)["x"]  # checks that the schema is well formed
    value = _to_json(data.draw(st.from_type(annotation)))
    if value is None:
        # top-level None means "not given": the parameter is optional instead
        assert required(f) is None
        return
    assert is_valid(schema, _to_json(value)), (schema, value)


def _to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return value
